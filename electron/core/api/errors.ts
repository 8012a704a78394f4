/**
 * The API's error vocabulary. Thrown by the core's services; each door (HTTP, IPC) turns it into
 * `{"error":{"code","message","fields"?}}` with the status below.
 */
import type { z } from 'zod';

export const ERROR_STATUS = {
  bad_json: 400,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  name_taken: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 422,
  too_many_requests: 429,
  internal: 500,
  unavailable: 503,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorPayload {
  error: { code: ErrorCode; message: string; fields?: Record<string, string> };
}

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fields?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toJSON(): ErrorPayload {
    return { error: { code: this.code, message: this.message, ...(this.fields ? { fields: this.fields } : {}) } };
  }
}

export const notFound = (what: string) => new ApiError('not_found', `${what} was not found`);

/**
 * One message per field (the first problem), keyed by what a form shows it under: the field
 * (`name`, `events`, `devices`: a list's item is reported on the list) or, for headers, the header
 * row (`headers.Authorization`; `headers` for the set as a whole).
 */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  // A Map, so a key such as `__proto__` is a field like any other.
  const fields = new Map<string, string>();
  for (const issue of error.issues) {
    const path = issue.path.filter((segment) => typeof segment !== 'number');
    const key = path.length
      ? path.map(String).join('.')
      : issue.code === 'unrecognized_keys'
        ? String(issue.keys[0])
        : 'body';
    if (!fields.has(key)) fields.set(key, issue.message);
  }
  return Object.fromEntries(fields);
}

/** Validates `input` against `schema`, throwing 422 validation_failed with field messages. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ApiError('validation_failed', 'Some fields are not valid', fieldErrors(result.error));
  return result.data;
}
