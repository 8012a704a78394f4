/**
 * The HTTP door: every operation of the contract as a route under /api/v1, the event stream,
 * the OpenAPI document, and the web UI with its `/?token=` sign-in.
 */
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { operations, type Operation, type OperationName } from '../core/api/contract.js';
import { ApiError, type ErrorCode } from '../core/api/errors.js';
import type { Caller } from '../core/access/permissions.js';
import type { Engine } from '../core/engine/engine.js';
import type { Logger } from '../core/log.js';
import { callerFor, callerOf, credentialOf, isMetricsToken, sessionCookie } from './auth.js';
import { EventHub } from './event-stream.js';
import { hostAllowed } from './host-check.js';
import { openApiDocument } from './openapi.js';
import { crossOriginProblem } from './same-origin.js';
import { registerUi } from './ui.js';

export const BODY_LIMIT = 64 * 1024;

/** Fastify's own request errors, in the API's vocabulary. */
const FASTIFY_ERRORS: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_INVALID_JSON_BODY: ['bad_json', 'The body is not valid JSON'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['bad_json', 'The body is empty; send a JSON object'],
  FST_ERR_CTP_BODY_TOO_LARGE: ['payload_too_large', `The body is larger than ${BODY_LIMIT / 1024} KiB`],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['unsupported_media_type', 'Send the body as application/json'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['bad_request', 'Content-Length does not match the body'],
};

export function buildServer(engine: Engine, log: Logger): FastifyInstance {
  const app = Fastify({
    bodyLimit: BODY_LIMIT,
    // Prototype-poisoning keys are refused by the JSON parser (a 400 bad_json).
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    forceCloseConnections: true,
    logger: false,
    // A request that is not valid HTTP never reaches the router; it is answered in the API's format too.
    clientErrorHandler: answerClientError,
    // Errors the router raises before any route runs (a path with invalid %-escapes) speak the API's format too.
    frameworkErrors: (error, _request, frameworkReply) => {
      const reply = frameworkReply as unknown as FastifyReply;
      const known =
        error.code === 'FST_ERR_BAD_URL'
          ? new ApiError('not_found', 'No such resource')
          : (toApiError(error) ?? new ApiError('bad_request', error.message));
      void reply.code(known.status).send(known.toJSON());
    },
  });

  // Only JSON bodies: anything else (forms, text) is 415, which also keeps cross-site forms out.
  app.removeContentTypeParser(['text/plain']);

  app.addHook('onRequest', async (request, reply) => {
    if (!hostAllowed(request.headers.host, engine.config.host)) {
      throw new ApiError(
        'forbidden',
        `Host "${request.headers.host ?? ''}" is not the address this server is serving; use http://${engine.config.host === '0.0.0.0' ? "this host's IP" : engine.config.host}/ or localhost`,
      );
    }
    const crossOrigin = crossOriginProblem(request);
    if (crossOrigin) throw new ApiError('forbidden', crossOrigin);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
  });

  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    const known = error instanceof ApiError ? error : toApiError(error);
    if (!known) {
      // The path only: a query may hold a sign-in token.
      log.error(`${request.method} ${request.url.split('?')[0]} failed: ${error.stack ?? error.message}`);
      return reply
        .code(500)
        .send(new ApiError('internal', 'Something went wrong inside Labhook; the log has the details').toJSON());
    }
    return reply.code(known.status).send(known.toJSON());
  });

  for (const [name, op] of Object.entries(operations) as [OperationName, Operation][]) {
    app.route({
      method: op.method,
      url: `/api/v1${op.path.replace(/\{(\w+)\}/g, ':$1')}`,
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        reply.header('cache-control', 'no-store');
        const caller = op.permission ? callerOf(request, engine.tokens) : null;
        const result = await engine.dispatcher.invoke(caller, name, {
          params: request.params as Record<string, unknown>,
          query: request.query as Record<string, unknown>,
          body: request.body,
        });
        // A browser that rotated the sign-in token it is signed in with stays signed in, with the new one.
        if (name === 'rotateSignInToken' && sessionEnded(request, engine)) {
          const secret = await engine.tokens.startSession(engine.signInToken);
          if (secret) reply.header('set-cookie', sessionCookie(secret, request.protocol === 'https'));
        }
        reply.code(op.status);
        return op.status === 204 ? reply.send() : result;
      },
    });
  }

  // Behind a token like every route but health: the description is public in docs/openapi.json,
  // but what this server answers (its version) is for those who may use it.
  const document = openApiDocument(engine.version);
  app.get('/api/v1/openapi.json', async (request) => {
    signedIn(request, engine);
    return document;
  });

  const hub = new EventHub(engine.events);
  const recheck = () => hub.recheck();
  engine.tokens.on('revoked', recheck);
  app.addHook('onClose', async () => {
    engine.tokens.off('revoked', recheck);
    hub.close();
  });
  app.get('/api/v1/events', async (request, reply) => {
    const caller = signedIn(request, engine);
    const credential = credentialOf(request)!;
    // Streams are counted per token: every session a token made counts as that token.
    const key = caller.tokenId ?? `${credential.kind}:${credential.value}`;
    if (!hub.admits(key))
      throw new ApiError('too_many_requests', 'This token has as many event streams open as it may; close one first');
    reply.hijack();
    const lastEventId = request.headers['last-event-id'];
    hub.attach(reply.raw, {
      key,
      stillValid: () => callerFor(credential, engine.tokens) !== null,
      lastEventId: typeof lastEventId === 'string' ? lastEventId : undefined,
    });
  });

  // Prometheus' default path, at the root. Any role's token, or the scrape-only metrics token.
  app.get('/metrics', async (request, reply) => {
    if (!callerOf(request, engine.tokens) && !isMetricsToken(request, engine.config.metricsToken))
      throw new ApiError(
        'unauthorized',
        'Sign in with an API token or the metrics token: Authorization: Bearer <token>',
      );
    const { contentType, body } = await engine.metrics.scrape();
    return reply.header('cache-control', 'no-store').type(contentType).send(body);
  });

  registerUi(app, engine, (request, reply) => signIn(request, reply, engine));

  app.setNotFoundHandler(async (request) => {
    throw new ApiError('not_found', `No route ${request.method} ${request.url.split('?')[0]}`);
  });
  return app;
}

/** The caller of a route outside the contract that any role may use; 401 without a valid credential. */
function signedIn(request: FastifyRequest, engine: Engine): Caller {
  const caller = callerOf(request, engine.tokens);
  if (!caller) throw new ApiError('unauthorized', 'Sign in with an API token: Authorization: Bearer <token>');
  return caller;
}

/** True when the request came with a session cookie that no longer signs anybody in. */
function sessionEnded(request: FastifyRequest, engine: Engine): boolean {
  const credential = credentialOf(request);
  return credential?.kind === 'session' && engine.tokens.authenticateSession(credential.value) === null;
}

/** `/?token=…`: a valid token is exchanged for a session in an HttpOnly cookie, and the token leaves the address bar. */
async function signIn(request: FastifyRequest, reply: FastifyReply, engine: Engine): Promise<FastifyReply> {
  const token = (request.query as Record<string, unknown>).token;
  const secret = typeof token === 'string' ? await engine.tokens.startSession(token) : null;
  if (secret === null) {
    throw new ApiError(
      'unauthorized',
      'That sign-in link is not valid (any more); use the link Labhook printed when it started',
    );
  }
  return reply
    .header('set-cookie', sessionCookie(secret, request.protocol === 'https'))
    .header('cache-control', 'no-store')
    .redirect('/', 303);
}

function toApiError(error: FastifyError): ApiError | null {
  const mapped = error.code ? FASTIFY_ERRORS[error.code] : undefined;
  if (mapped) return new ApiError(mapped[0], mapped[1]);
  // Prototype poisoning and other parser refusals.
  if (error.statusCode === 400) return new ApiError('bad_json', error.message);
  if (error.statusCode === 413) return new ApiError('payload_too_large', error.message);
  if (error.statusCode === 415) return new ApiError('unsupported_media_type', error.message);
  return null;
}

/** Answers a request the HTTP parser refused (bad framing, bad header bytes, headers too large), then closes. */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const body = JSON.stringify(
    new ApiError(
      'bad_request',
      tooLarge ? 'The request headers are too large' : 'The request is not valid HTTP/1.1',
    ).toJSON(),
  );
  socket.end(
    `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
