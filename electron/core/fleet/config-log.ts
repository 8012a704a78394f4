/**
 * The configuration in a fleet: the log of configuration operations (store/config-ops.ts) in a
 * replicated stream. Every node applies the whole log in stream order, so every node holds the
 * same org, webhooks and tokens, and concurrent writes are settled by the order the stream's RAFT
 * group gave them — two nodes creating "Alerts" at once: the first in the log creates it, the
 * second gets name_taken. No compare-and-set is involved (it is not safe on 2.9 clusters).
 *
 * A write is answered once this node has applied it, so what a client wrote, it reads back on the
 * node it wrote to; other nodes apply it when their tail reaches it (milliseconds).
 *
 * db.json keeps a copy of the last configuration applied, so a node that starts while the broker
 * is down still serves its window and knows its webhooks; it replays the log when it joins.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { ApiError } from '../api/errors.js';
import type { Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import {
  applyConfigOp,
  type ConfigEffect,
  type ConfigEvents,
  type ConfigLog,
  type ConfigOp,
  type SharedConfig,
} from '../store/config-ops.js';
import type { DbData } from '../store/db-schema.js';
import type { FleetLink } from './link.js';
import { STREAMS, SUBJECTS } from './subjects.js';
import { StreamTail } from './tail.js';

/** How long start-up waits for the log's replay once the broker answers. */
const REPLAY_WAIT_MS = 30_000;
/** A write that the broker has not acknowledged by then fails (it may still apply: the id dedupes a retry). */
const PUBLISH_TIMEOUT_MS = 10_000;

interface LoggedOp {
  id: string;
  op: ConfigOp;
}

export function emptySharedConfig(): SharedConfig {
  return { org: { id: 1, name: 'My lab' }, nextWebhookId: 1, webhooks: [], tokens: [] };
}

export function unreachable(what: string): ApiError {
  return new ApiError(
    'unavailable',
    `The fleet's NATS servers cannot be reached, so ${what} cannot be saved now; try again`,
  );
}

export class FleetConfigLog extends EventEmitter<ConfigEvents> implements ConfigLog, Service {
  readonly name = 'fleet configuration';
  /** The log's state, applied message by message; db.data gets it once the replay has caught up. */
  private replica: SharedConfig = emptySharedConfig();
  private live = false;
  private readonly waiting = new Map<string, { resolve: (e: ConfigEffect) => void; reject: (e: Error) => void }>();
  private readonly tail: StreamTail;
  private wentLive!: () => void;
  private readonly liveNow = new Promise<void>((resolve) => (this.wentLive = resolve));

  constructor(
    private readonly link: FleetLink,
    private readonly db: { data: DbData; save(): Promise<void> },
    private readonly log: Logger,
  ) {
    super();
    this.setMaxListeners(0);
    this.tail = new StreamTail(link, {
      stream: STREAMS.config.name,
      start: 'all',
      onMessage: (msg) => this.applyLogged(msg.json<LoggedOp>()),
      log,
    });
  }

  get data(): SharedConfig {
    return this.db.data;
  }

  async boot(): Promise<void> {
    this.tail.start();
    void this.link.ready.then(() => this.catchUp());
    if (!this.link.isUp) return;
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, REPLAY_WAIT_MS).unref());
    await Promise.race([this.liveNow, timeout]);
    if (!this.live) this.log.warn('the fleet configuration is still replaying; serving the last copy meanwhile');
  }

  async shutdown(): Promise<void> {
    await this.tail.stop();
    for (const waiter of this.waiting.values()) waiter.reject(unreachable('the change'));
    this.waiting.clear();
  }

  async commit(op: ConfigOp): Promise<ConfigEffect> {
    if (!this.link.isUp || !this.live) throw unreachable('a configuration change');
    const id = randomUUID();
    const applied = new Promise<ConfigEffect>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    try {
      await this.link.js.publish(SUBJECTS.config, JSON.stringify({ id, op } satisfies LoggedOp), {
        msgID: id,
        timeout: PUBLISH_TIMEOUT_MS,
      });
    } catch (error) {
      this.waiting.delete(id);
      this.log.warn(`a configuration change was not acknowledged: ${(error as Error).message}`);
      throw unreachable('the change');
    }
    return applied;
  }

  /** Goes live once the tail has applied everything the log held when this node joined. */
  private async catchUp(): Promise<void> {
    const info = await this.link.retry('reading the configuration log', () =>
      this.link.jsm.streams.info(STREAMS.config.name),
    );
    await this.tail.reached(info.state.last_seq);
    this.live = true;
    this.publishReplica({ kind: 'import' });
    this.wentLive();
  }

  private applyLogged({ id, op }: LoggedOp): void {
    const waiter = this.waiting.get(id);
    this.waiting.delete(id);
    let effect: ConfigEffect;
    try {
      effect = applyConfigOp(this.replica, op);
    } catch (error) {
      // Every node rejects the same operation (a name taken earlier in the log); only its writer hears why.
      waiter?.reject(error as Error);
      return;
    }
    if (this.live && effect.kind !== 'none') this.publishReplica(effect);
    waiter?.resolve(effect);
  }

  private publishReplica(effect: ConfigEffect): void {
    const { org, nextWebhookId, webhooks, tokens } = this.replica;
    Object.assign(this.db.data, { org, nextWebhookId, webhooks, tokens });
    void this.db
      .save()
      .catch((error: Error) => this.log.error(`could not save the configuration copy: ${error.message}`));
    this.emit('applied', effect);
  }
}
