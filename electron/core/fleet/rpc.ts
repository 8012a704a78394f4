/**
 * Requests one host answers about the devices it sees (reserve, release, rename), so the API of any
 * node can act on every host's phones. The answer is the host's own result or its ApiError, as if
 * the call had been made there; a host that does not answer is `unavailable`.
 */
import type { Subscription } from '@nats-io/transport-node';
import { ApiError, type ErrorCode } from '../api/errors.js';
import type { Reservation } from '../api/schemas.js';
import type { Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import type { FleetLink } from './link.js';
import { SUBJECTS } from './subjects.js';

const REQUEST_TIMEOUT_MS = 5000;

export type HostRequest =
  | { op: 'reserve'; udid: string; ttlSeconds?: number; label?: string }
  | { op: 'release'; udid: string; id: string }
  | { op: 'rename'; udid: string; name: string | null }
  | { op: 'labels'; udid: string; labels: string[] };

export interface HostAnswers {
  reserve: Reservation;
  release: boolean;
  rename: null;
  labels: null;
}

type Reply = { ok: unknown } | { error: { code: ErrorCode; message: string; fields?: Record<string, string> } };

export type HostHandler = (request: HostRequest) => Promise<unknown>;

export class HostRpc implements Service {
  readonly name = 'fleet requests';
  private subscription: Subscription | null = null;

  constructor(
    private readonly link: FleetLink,
    private readonly host: string,
    private readonly handle: HostHandler,
    private readonly log: Logger,
  ) {}

  async boot(): Promise<void> {
    void this.link.ready.then(() => {
      this.subscription = this.link.connection.subscribe(SUBJECTS.rpc(this.host), {
        callback: (error, msg) => {
          if (error) return;
          void this.answer(msg.json<HostRequest>()).then((reply) => msg.respond(JSON.stringify(reply)));
        },
      });
    });
  }

  async shutdown(): Promise<void> {
    this.subscription?.unsubscribe();
    this.subscription = null;
  }

  /** Asks `host` to carry out `request`; throws its ApiError, or `unavailable` when it does not answer. */
  async ask<R extends HostRequest>(host: string, request: R): Promise<HostAnswers[R['op']]> {
    if (!this.link.isUp)
      throw new ApiError('unavailable', `The fleet cannot be reached, so host "${host}" cannot be asked`);
    let reply: Reply;
    try {
      const msg = await this.link.connection.request(SUBJECTS.rpc(host), JSON.stringify(request), {
        timeout: REQUEST_TIMEOUT_MS,
      });
      reply = msg.json<Reply>();
    } catch (error) {
      throw new ApiError('unavailable', `Host "${host}" does not answer (${(error as Error).message}); try again`);
    }
    if ('error' in reply) throw new ApiError(reply.error.code, reply.error.message, reply.error.fields);
    return reply.ok as HostAnswers[R['op']];
  }

  private async answer(request: HostRequest): Promise<Reply> {
    try {
      return { ok: (await this.handle(request)) ?? null };
    } catch (error) {
      if (error instanceof ApiError) return error.toJSON();
      this.log.error(`a fleet request (${request.op}) failed: ${(error as Error).message}`);
      return new ApiError('internal', 'The host could not carry out the request').toJSON();
    }
  }
}
