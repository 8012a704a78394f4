/**
 * The one entry to the core's API: checks the caller's permission, validates the input against
 * the contract's schemas, runs the handler. The HTTP server and the IPC bridge both call this.
 */
import { allows, type Caller } from '../access/permissions.js';
import { operations, type InputOf, type OperationName, type OutputOf, type ParsedInputOf } from '../api/contract.js';
import type { z } from 'zod';
import { ApiError, parseInput } from '../api/errors.js';

export type Handlers = { [N in OperationName]: (input: ParsedInputOf<N>, caller: Caller) => Promise<OutputOf<N>> };

export class Dispatcher {
  constructor(private readonly handlers: Handlers) {}

  async invoke<N extends OperationName>(
    caller: Caller | null,
    name: N,
    input: InputOf<N> | Record<string, unknown>,
  ): Promise<OutputOf<N>> {
    // Own properties only: `toString`, `__proto__` and the like are no operations.
    if (!Object.hasOwn(operations, name)) throw new ApiError('not_found', `Unknown operation ${String(name)}`);
    const op = operations[name];
    if (op.permission !== null) {
      if (!caller) throw new ApiError('unauthorized', 'Sign in with an API token: Authorization: Bearer <token>');
      if (!allows(caller.role, op.permission)) {
        throw new ApiError(
          'forbidden',
          `The ${caller.role} role may not do this (needs ${op.permission === 'admin' ? 'the admin role' : op.permission === 'org_setting.modify' ? 'the org_setting.modify permission' : op.permission})`,
        );
      }
    }
    const raw = input as { params?: unknown; query?: unknown; body?: unknown };
    const parsed = {
      params: 'params' in op ? parseParams(op.params, raw.params) : undefined,
      query: 'query' in op ? parseInput(op.query, raw.query ?? {}) : undefined,
      body: 'body' in op ? parseInput(op.body, requireBody(raw.body)) : undefined,
    } as ParsedInputOf<N>;
    return this.handlers[name](parsed, caller ?? { role: 'viewer' });
  }
}

/**
 * An operation that takes a body gets one: a request without any is refused rather than read as
 * `{}`, which would quietly take every default (reserve a device, send a test) for a request that
 * may not have meant to.
 */
function requireBody(body: unknown): unknown {
  if (body === undefined)
    throw new ApiError('bad_json', 'The body is empty; send a JSON object ({} takes the defaults)');
  return body;
}

/** A path that names nothing (`/webhooks/abc`) is a 404, not a form error. */
function parseParams(schema: z.ZodType, params: unknown): unknown {
  const result = schema.safeParse(params ?? {});
  if (!result.success) throw new ApiError('not_found', 'No such resource');
  return result.data;
}
