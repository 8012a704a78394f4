/** The OpenAPI document, generated from the same contract and schemas the server dispatches with. */
import { z } from 'zod';
import { operations, type Operation } from '../core/api/contract.js';
import { ERROR_STATUS, type ErrorCode } from '../core/api/errors.js';
import { ErrorBody } from '../core/api/schemas.js';

type JsonSchema = Record<string, unknown>;

const schemaOf = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

function parameters(op: Operation): JsonSchema[] {
  const list: JsonSchema[] = [];
  for (const [where, schema] of [
    ['path', op.params],
    ['query', op.query],
  ] as const) {
    if (!schema) continue;
    const json = schemaOf(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, property] of Object.entries(json.properties ?? {})) {
      list.push({
        name,
        in: where,
        required: where === 'path' || (json.required ?? []).includes(name),
        schema: property,
      });
    }
  }
  return list;
}

function errorsFor(op: Operation): ErrorCode[] {
  const codes: ErrorCode[] = [];
  if (op.permission) codes.push('unauthorized', 'forbidden');
  if (op.params) codes.push('not_found');
  if (op.body) codes.push('bad_json', 'payload_too_large', 'unsupported_media_type', 'validation_failed');
  if (op.query) codes.push('validation_failed');
  if (op.body && op.path === '/webhooks') codes.push('name_taken');
  if (op.method === 'PATCH' && op.path === '/webhooks/{id}') codes.push('name_taken');
  return [...new Set(codes)];
}

export function openApiDocument(version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const [name, op] of Object.entries(operations) as [string, Operation][]) {
    const responses: Record<string, JsonSchema> = {
      [op.status]: op.response
        ? { description: 'Success', content: { 'application/json': { schema: schemaOf(op.response, 'output') } } }
        : { description: 'Success, no content' },
    };
    for (const code of errorsFor(op)) {
      const status = String(ERROR_STATUS[code]);
      const entry = (responses[status] ??= {
        description: '',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      });
      entry.description =
        typeof entry.description === 'string' && entry.description ? `${entry.description}, ${code}` : code;
    }
    (paths[`/api/v1${op.path}`] ??= {})[op.method.toLowerCase()] = {
      operationId: name,
      summary: op.summary,
      ...(op.permission
        ? { security: [{ bearer: [] }, { session: [] }], 'x-permission': op.permission }
        : { security: [] }),
      parameters: parameters(op),
      ...(op.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(op.body, 'input') } } } }
        : {}),
      responses,
    };
  }
  paths['/api/v1/events'] = {
    get: {
      operationId: 'events',
      summary: "Server-sent events: `device` (a status change), `delivery` (an attempt's outcome), `notice`",
      description:
        'Each event has an id; reconnecting with `Last-Event-ID` replays what was missed, or opens with `resync` when that id is no longer kept. A client that falls too far behind gets `dropped` and the stream ends (reconnect to resume); the stream of a revoked token ends with `signed-out`.',
      security: [{ bearer: [] }, { session: [] }],
      'x-permission': 'read',
      parameters: [{ name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' } }],
      responses: {
        200: { description: 'An event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        401: {
          description: 'unauthorized',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
        429: {
          description: 'too_many_requests: the token has as many streams open as it may',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Labhook API',
      version,
      description: 'Device status webhooks for a mobile device lab. Every route but /health needs a token.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        session: { type: 'apiKey', in: 'cookie', name: 'labhook_session' },
      },
      schemas: { Error: schemaOf(ErrorBody, 'output') },
    },
    paths,
  };
}
