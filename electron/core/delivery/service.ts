/**
 * The delivery engine: turns status changes into signed Kobiton-shaped callbacks, one outbox entry
 * per (event, webhook), written to the journal before the first attempt (so it survives a crash), sent in order per
 * (webhook, device), retried on the schedule, every attempt logged in the journal.
 *
 * Decisions worth knowing:
 * - A disabled webhook's pending deliveries stay pending, parked, and go out (in order) when it is
 *   enabled again; nothing new is queued for it while it is disabled. A 410 fails the delivery
 *   that got it, disables the webhook, and parks the rest the same way.
 * - Pending retries use the webhook as it is at send time (a fixed URL or header takes effect on
 *   the next attempt); which events and devices match is decided once, when the change arrives.
 * - Jitter spreads every non-zero wait by ±`jitter` (default 10 %).
 * - The test send and its log entry never retry and never disable the webhook; it ignores
 *   `enabled` and the device scope (the operator asked for it explicitly).
 * - Redelivering a finished delivery queues it behind whatever its lane still holds and starts the
 *   retry schedule afresh; redelivering one waiting for a retry sends it now.
 * - Deleting a webhook (`cancelWebhook`, or it vanishing from the directory) fails what was
 *   pending for it.
 * - The log keeps at most `maxAttempts` attempts (a delivery never tried counts as one) and
 *   `maxAgeMs` of age, counted from creation; the oldest finished deliveries go first, pending
 *   ones never. The log holds no receiver credential in plain text (`loggedRequest`).
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { ApiError, notFound } from '../api/errors.js';
import { maskUrl } from '../api/masking.js';
import type { Attempt, Delivery, DeliveryStatus, WebhookEvent } from '../api/schemas.js';
import type { StatusChange } from '../devices/model.js';
import { udidKey } from '../devices/udid.js';
import type { Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import { inScope, type StoredWebhook, type WebhookDirectory } from '../webhooks/model.js';
import { Journal, type RecordRef } from './journal.js';
import {
  Ledger,
  attemptCount,
  attemptRef,
  createdAt,
  idFromNumber,
  numberFromId,
  type Bounds,
  type Entry,
} from './ledger.js';
import {
  buildCallback,
  eventActivity,
  loggedRequest,
  type Callback,
  type CallbackEvent,
  type CallbackFacts,
  parseHealthEvent,
} from './payload.js';
import { parseRetryAfter, parseRetrySchedule, withJitter, DEFAULT_RETRY_SCHEDULE } from './schedule.js';
import { Sender, type SendResult } from './sender.js';

export { parseRetrySchedule, DEFAULT_RETRY_SCHEDULE } from './schedule.js';

/**
 * What the outbox takes: a status change as the tracker emits it, or a health transition (the same
 * facts with a health event). `labels` are the device's when it happened, for label scopes.
 */
export type OutboxEvent = Pick<StatusChange, 'id' | 'udid' | 'name' | 'sequence' | 'observedAt' | 'labels'> & {
  event: CallbackEvent | null;
};

export interface DeliveryServiceOptions {
  dataDir: string;
  directory: WebhookDirectory;
  org: () => { id: number; name: string };
  /** Milliseconds: the first attempt's delay, then the wait after each failure. */
  retrySchedule?: number[];
  timeoutMs?: number;
  version: string;
  log: Logger;
  /** Fraction each non-zero wait is spread by (0.1 = ±10 %). */
  jitter?: number;
  /** Log bounds: at most this many attempts (default 100,000) and this age (default 30 days). */
  logBounds?: Partial<Bounds>;
  /** Journal segment size in bytes (default 32 MiB). */
  segmentBytes?: number;
  /** Concurrent connections per receiver origin (default 32). */
  connections?: number;
}

export interface DeliverySummary {
  id: string;
  eventId: string;
  webhookId: number;
  udid: string;
  eventActivity: string;
  status: DeliveryStatus;
  attemptCount: number;
  createdAt: string;
}

/** Payload of the `'delivery'` event: one attempt's outcome. */
export interface DeliveryEvent {
  delivery: DeliverySummary;
  attempt: Attempt;
}

/** Payload of the `'notice'` event: something the operator must hear about (tray, log view). */
export interface DeliveryNotice {
  webhookId: number;
  message: string;
}

export interface DeliveryListQuery {
  webhookId?: number;
  udid?: string;
  status?: DeliveryStatus;
  limit?: number;
  cursor?: string;
}

export const TEST_DEVICE = { udid: 'test-device', name: 'Test Device' } as const;

const DAY = 86_400_000;
const PRUNE_INTERVAL_MS = 60_000;
const RELOCATE_BATCH = 1000;

interface Lane {
  webhookId: number;
  key: string;
  queue: Entry[];
  timer: NodeJS.Timeout | null;
  busy: boolean;
}

type Head = Record<string, unknown>;

export class DeliveryService extends EventEmitter implements Service {
  readonly name = 'delivery';
  private readonly schedule: number[];
  private readonly timeoutMs: number;
  private readonly jitter: number;
  private readonly journal: Journal;
  private readonly ledger: Ledger;
  private readonly sender: Sender;
  private readonly lanes = new Map<string, Lane>();
  private readonly parked = new Set<Lane>();
  private readonly cancelled = new Set<number>();
  private readonly disabling = new Set<number>();
  private readonly inflight = new Set<Promise<void>>();
  private unsubscribe: (() => void) | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private booted = false;
  private relocating = false;
  private stopping = false;

  constructor(private readonly options: DeliveryServiceOptions) {
    super();
    this.schedule = options.retrySchedule ?? parseRetrySchedule(DEFAULT_RETRY_SCHEDULE);
    if (this.schedule.length === 0 || this.schedule.some((ms) => !Number.isFinite(ms) || ms < 0)) {
      throw new Error('retrySchedule must be a non-empty list of delays in milliseconds, each 0 or more');
    }
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.jitter = options.jitter ?? 0.1;
    const bounds: Bounds = {
      maxAttempts: options.logBounds?.maxAttempts ?? 100_000,
      maxAgeMs: options.logBounds?.maxAgeMs ?? 30 * DAY,
    };
    this.journal = new Journal({
      dir: path.join(options.dataDir, 'deliveries'),
      segmentBytes: options.segmentBytes ?? 32 * 1024 * 1024,
      warn: (m) => options.log.warn(m),
    });
    this.ledger = new Ledger(
      bounds,
      (seg) => this.journal.removeSegment(seg),
      () => this.journal.currentSegment,
    );
    this.journal.onRotate = (seg) => {
      this.ledger.checkSegment(seg);
      void this.relocate();
    };
    this.sender = new Sender({ timeoutMs: this.timeoutMs, connections: options.connections });
  }

  async boot(): Promise<void> {
    const started = performance.now();
    this.journal.open((head, ref) => this.apply(head, ref));
    const now = Date.now();
    this.ledger.prune(now);
    const interrupted: Entry[] = [];
    let pending = 0;
    for (const entry of this.ledger.pending()) {
      if (entry.test) interrupted.push(entry);
      else {
        this.laneFor(entry).queue.push(entry);
        pending += 1;
      }
    }
    for (const entry of interrupted) this.record({ t: 's', d: entry.id, s: 'failed' });
    this.booted = true;
    for (const lane of [...this.lanes.values()]) this.kick(lane);
    this.unsubscribe = this.options.directory.subscribe(() => this.webhooksChanged());
    this.pruneTimer = setInterval(() => {
      this.ledger.prune(Date.now());
      void this.relocate();
    }, PRUNE_INTERVAL_MS).unref();
    this.options.log.info(
      `delivery log: ${this.ledger.size} deliveries, ${pending} pending, opened in ${Math.round(performance.now() - started)} ms`,
    );
  }

  async shutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.unsubscribe?.();
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    for (const lane of this.lanes.values()) {
      if (lane.timer) clearTimeout(lane.timer);
      lane.timer = null;
    }
    // In-flight attempts are cut off and not recorded: their deliveries stay pending and go out
    // again after the next start (at least once; the receiver dedupes on webhook-id).
    await this.sender.close();
    await Promise.allSettled([...this.inflight]);
    await this.journal.close();
  }

  /**
   * Queues a callback to every matching webhook; resolves once they are written (they survive a crash).
   * Status events go to the webhooks that chose them, health events to those that opted in.
   */
  async enqueue(change: OutboxEvent): Promise<void> {
    if (!this.booted || this.stopping) throw new Error('the delivery service is not running');
    const event = change.event;
    if (event === null) return;
    const health = parseHealthEvent(event) !== null;
    const labels = change.labels ?? [];
    const webhooks = this.options.directory
      .list()
      .filter(
        (w) =>
          w.enabled &&
          (health ? w.healthCallbacks : w.events.includes(event as WebhookEvent)) &&
          inScope(w, change.udid, labels),
      );
    if (webhooks.length === 0) return;
    const now = Date.now();
    const nextAt = now + withJitter(this.schedule[0], this.jitter);
    const entries = webhooks.map((webhook) => {
      const id = idFromNumber(this.ledger.nextNumber(now));
      this.record({
        t: 'c',
        id,
        e: change.id,
        w: webhook.id,
        u: change.udid,
        v: event,
        m: change.name,
        q: change.sequence,
        o: change.observedAt,
        x: nextAt,
      });
      return this.ledger.get(id)!;
    });
    let failure: Error | null = null;
    try {
      await this.journal.commit();
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
    }
    // Sent even if the disk failed: at least once beats not at all; the caller still learns it.
    for (const entry of entries) {
      if (entry.status !== 'pending' || entry.dropped) continue;
      if (this.cancelled.has(entry.webhookId)) {
        this.fail(entry, 'webhook deleted');
        continue;
      }
      const lane = this.laneFor(entry);
      lane.queue.push(entry);
      this.kick(lane);
    }
    this.pruneIfFull();
    if (failure) throw failure;
  }

  /** How many deliveries wait for their first attempt or a retry. */
  pendingCount(): number {
    return this.ledger.pending().length;
  }

  /** A deleted webhook: everything still pending for it is given up. */
  async cancelWebhook(id: number): Promise<void> {
    this.cancelled.add(id);
    let count = 0;
    for (const lane of [...this.lanes.values()]) {
      if (lane.webhookId !== id) continue;
      count += this.cancelLane(lane, 'webhook deleted');
    }
    if (count) this.options.log.info(`delivery: gave up ${count} pending callback(s) of deleted webhook ${id}`);
    await this.journal.commit();
  }

  async list(query: DeliveryListQuery = {}): Promise<{ items: Delivery[]; next: string | null }> {
    const limit = Math.min(Math.max(1, query.limit ?? 50), 500);
    const { webhookId, udid, status } = query;
    const { items, more } = this.ledger.page({ webhookId, udid, status }, limit, query.cursor);
    const deliveries = await Promise.all(items.map((entry) => this.toDelivery(entry)));
    return { items: deliveries, next: more && items.length ? items[items.length - 1].id : null };
  }

  async get(id: string): Promise<Delivery> {
    const entry = this.ledger.get(id);
    if (!entry) throw notFound(`Delivery ${id}`);
    return this.toDelivery(entry);
  }

  /**
   * Sends a delivery again: same webhook-id, signed with the current secret, a new attempt on the
   * same delivery. A finished one goes back to pending behind whatever its lane still holds, with
   * the retry schedule started afresh; a pending one waiting for a retry is tried now.
   */
  async redeliver(id: string): Promise<Delivery> {
    const entry = this.ledger.get(id);
    if (!entry) throw notFound(`Delivery ${id}`);
    if (!this.options.directory.get(entry.webhookId))
      throw new ApiError('not_found', `Webhook ${entry.webhookId} of delivery ${id} no longer exists`);
    const now = Date.now();
    if (entry.status === 'pending') {
      const lane = this.lanes.get(laneKey(entry.webhookId, entry.udid));
      if (lane && lane.queue[0] === entry && lane.timer) {
        clearTimeout(lane.timer);
        lane.timer = null;
        this.record({ t: 's', d: entry.id, s: 'pending', x: now }, undefined, entry);
        await this.journal.commit();
        this.kick(lane);
      }
      return this.toDelivery(entry);
    }
    this.record({ t: 's', d: entry.id, s: 'pending', b: attemptCount(entry), x: now }, undefined, entry);
    await this.journal.commit();
    const lane = this.laneFor(entry);
    lane.queue.push(entry);
    this.kick(lane);
    return this.toDelivery(entry);
  }

  /** Sends a sample callback now, outside the queue; logged as its own delivery for `test-device`. */
  async test(target: StoredWebhook | number, event: WebhookEvent = 'online'): Promise<Attempt> {
    if (!this.booted || this.stopping) throw new Error('the delivery service is not running');
    const webhook = typeof target === 'number' ? this.options.directory.get(target) : target;
    if (!webhook) throw notFound(`Webhook ${typeof target === 'number' ? target : target.id}`);
    const now = Date.now();
    const facts: CallbackFacts = {
      eventId: `test_${randomUUID()}`,
      event,
      udid: TEST_DEVICE.udid,
      deviceName: TEST_DEVICE.name,
      sequence: 0,
      observedAt: new Date(now).toISOString(),
    };
    const callback = buildCallback(facts, webhook, this.options.org(), this.options.version, Date.now());
    const result = await this.sender.send(callback, testOwner(webhook.id));
    const status: DeliveryStatus = result.error === null ? 'delivered' : 'failed';
    const id = idFromNumber(this.ledger.nextNumber(now));
    this.record({
      t: 'c',
      id,
      e: facts.eventId,
      w: webhook.id,
      u: facts.udid,
      v: event,
      m: facts.deviceName,
      q: 0,
      o: facts.observedAt,
      x: now,
      s: status,
      T: 1,
    });
    const entry = this.ledger.get(id)!;
    const attempt = this.toAttempt(callback, result);
    this.record({ t: 'a', d: id, s: status, x: 0 }, JSON.stringify(attempt), entry);
    await this.journal.commit();
    this.emit('delivery', { delivery: this.summary(entry), attempt } satisfies DeliveryEvent);
    this.pruneIfFull();
    return attempt;
  }

  // ---- the outbox ----

  /** Applies one journal record to the index: the same code for replay and for live writes. */
  private apply(head: Head, ref: RecordRef, known?: Entry): void {
    if (head.t === 'c') {
      const entry: Entry = {
        n: numberFromId(head.id as string),
        id: head.id as string,
        // The ledger swaps the strings for the copies its deliveries share (one per change).
        eventId: head.e as string,
        webhookId: head.w as number,
        udid: head.u as string,
        event: head.v as CallbackEvent,
        deviceName: head.m as string,
        sequence: head.q as number,
        observedAt: head.o as string,
        status: (head.s as DeliveryStatus | undefined) ?? 'pending',
        base: (head.b as number | undefined) ?? 0,
        nextAt: head.x as number,
        attempts: [],
        firstSeg: 0,
        lastSeg: 0,
        test: head.T === 1,
        dropped: false,
        row: -1,
      };
      this.ledger.add(entry, ref);
      return;
    }
    const entry = known ?? this.ledger.get(head.d as string);
    if (!entry) return; // its delivery was dropped from the log with an older segment
    if (head.t === 'a') this.ledger.addAttempt(entry, ref);
    else if (head.t === 's') this.ledger.addRecord(entry, ref);
    else return;
    this.ledger.setState(
      entry,
      head.s as DeliveryStatus,
      typeof head.x === 'number' ? head.x : undefined,
      typeof head.b === 'number' ? head.b : undefined,
    );
  }

  /** Writes a record and applies it; `entry` spares the lookup when the caller already holds it. */
  private record(head: Head, body?: string, entry?: Entry): void {
    this.apply(head, this.journal.append(head, body), entry);
  }

  private laneFor(entry: Entry): Lane {
    const key = laneKey(entry.webhookId, entry.udid);
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { webhookId: entry.webhookId, key, queue: [], timer: null, busy: false };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  /** Moves a lane along: sends its head when due, or waits, or parks it while its webhook is off. */
  private kick(lane: Lane): void {
    if (this.stopping || lane.busy || lane.timer) return;
    while (lane.queue.length > 0 && lane.queue[0].status !== 'pending') lane.queue.shift();
    const entry = lane.queue[0];
    if (!entry) {
      if (this.lanes.get(lane.key) === lane) this.lanes.delete(lane.key);
      this.parked.delete(lane);
      return;
    }
    const webhook = this.options.directory.get(entry.webhookId);
    if (!webhook) {
      this.cancelLane(lane, 'webhook deleted');
      return;
    }
    if (!webhook.enabled) {
      this.parked.add(lane);
      return;
    }
    this.parked.delete(lane);
    const wait = entry.nextAt - Date.now();
    if (wait > 0) {
      lane.timer = setTimeout(() => {
        lane.timer = null;
        this.kick(lane);
      }, wait).unref();
      return;
    }
    lane.busy = true;
    const work = this.attempt(lane, entry, webhook)
      .catch((error: unknown) => {
        this.options.log.error(`delivery ${entry.id}: ${(error as Error).stack ?? String(error)}`);
        // Whatever went wrong, the lane must not spin on it.
        entry.nextAt = Date.now() + 5000;
      })
      .finally(() => {
        this.inflight.delete(work);
        lane.busy = false;
        this.kick(lane);
      });
    this.inflight.add(work);
  }

  private async attempt(lane: Lane, entry: Entry, webhook: StoredWebhook): Promise<void> {
    // An entry carries every fact a callback needs: no copy per attempt.
    const facts: CallbackFacts = entry;
    let callback: Callback;
    let result: SendResult;
    try {
      callback = buildCallback(facts, webhook, this.options.org(), this.options.version, Date.now());
      result = await this.sender.send(callback, webhook.id);
    } catch (error) {
      // Recorded like any failed attempt, so the schedule (not a hot loop) decides what happens next.
      callback = { url: webhook.url, headers: {}, body: '' };
      result = {
        at: Date.now(),
        durationMs: 0,
        response: null,
        error: `could not send the callback: ${(error as Error).message}`,
      };
    }
    if (this.stopping) return;
    const code = result.response?.status;
    const round = attemptCount(entry) - entry.base + 1;
    let status: DeliveryStatus;
    let nextAt = 0;
    if (result.error === null) status = 'delivered';
    else if (entry.status !== 'pending' || code === 410 || round >= this.schedule.length) status = 'failed';
    else {
      status = 'pending';
      const now = Date.now();
      let wait = withJitter(this.schedule[round], this.jitter);
      if (code === 429 || code === 503)
        wait = Math.max(wait, parseRetryAfter(result.response?.headers['retry-after'], now) ?? 0);
      nextAt = now + wait;
    }
    const attempt = this.toAttempt(callback, result);
    this.record({ t: 'a', d: entry.id, s: status, x: nextAt }, JSON.stringify(attempt), entry);
    if (code === 410) await this.gone(webhook);
    try {
      // The next callback in this lane goes out only once this outcome is durable, so a crash
      // cannot make a receiver see an older event after a newer one (only a repeat of the same id).
      await this.journal.commit();
    } catch (error) {
      this.options.log.error(`delivery log write failed: ${(error as Error).message}`);
    }
    if (this.listenerCount('delivery') > 0)
      this.emit('delivery', { delivery: this.summary(entry), attempt } satisfies DeliveryEvent);
    if (status !== 'pending' && lane.queue[0] === entry) lane.queue.shift();
    this.pruneIfFull();
  }

  private async gone(webhook: StoredWebhook): Promise<void> {
    if (this.disabling.has(webhook.id)) return;
    this.disabling.add(webhook.id);
    const message = `Webhook "${webhook.name}" was disabled: its receiver ${maskUrl(webhook.url)} answered 410 Gone`;
    try {
      await this.options.directory.disable(webhook.id, 'receiver answered 410 Gone');
      this.options.log.warn(message);
      this.emit('notice', { webhookId: webhook.id, message } satisfies DeliveryNotice);
    } catch (error) {
      this.options.log.error(`could not disable webhook ${webhook.id} after a 410: ${(error as Error).message}`);
    } finally {
      this.disabling.delete(webhook.id);
    }
  }

  private cancelLane(lane: Lane, reason: string): number {
    if (lane.timer) clearTimeout(lane.timer);
    lane.timer = null;
    let count = 0;
    for (const entry of lane.queue) {
      if (entry.status !== 'pending') continue;
      this.fail(entry, reason);
      count += 1;
    }
    lane.queue.length = 0;
    if (this.lanes.get(lane.key) === lane) this.lanes.delete(lane.key);
    this.parked.delete(lane);
    return count;
  }

  private fail(entry: Entry, reason: string): void {
    this.record({ t: 's', d: entry.id, s: 'failed', r: reason }, undefined, entry);
  }

  /** A webhook was enabled, disabled or deleted: parked lanes may go, a deleted webhook's lanes end. */
  private webhooksChanged(): void {
    const list = this.options.directory.list();
    const live = new Map<number | string, string>();
    for (const w of list) live.set(w.id, w.url).set(testOwner(w.id), w.url);
    this.sender.retain(live);
    for (const lane of [...this.parked]) this.kick(lane);
    const ids = new Set(list.map((w) => w.id));
    for (const lane of [...this.lanes.values()])
      if (!ids.has(lane.webhookId) && !lane.busy) this.cancelLane(lane, 'webhook deleted');
  }

  /**
   * Pending deliveries never leave the log, so one retrying for hours (or parked behind a disabled
   * webhook) would keep its old segment, and everything else in it, on disk. Pending ones living
   * in segments older than the previous one are copied forward (a snapshot record plus copies of
   * their attempts); once the copies are durable the old records are released.
   */
  private async relocate(): Promise<void> {
    if (this.relocating || this.stopping || !this.booted) return;
    this.relocating = true;
    try {
      const limit = this.journal.currentSegment - 1;
      const stale: Entry[] = [];
      for (const entry of this.ledger.pending()) {
        if (entry.firstSeg < limit) stale.push(entry);
        if (stale.length === RELOCATE_BATCH) break;
      }
      let moved = 0;
      for (const entry of stale) {
        const count = attemptCount(entry);
        const lines = await Promise.all(
          Array.from({ length: count }, (_, i) => this.journal.read(attemptRef(entry, i))),
        );
        if (this.stopping) return;
        // Changed while reading (an attempt finished, or it was cancelled): next time.
        if (entry.status !== 'pending' || entry.dropped || attemptCount(entry) !== count) continue;
        const head = {
          t: 'c',
          id: entry.id,
          e: entry.eventId,
          w: entry.webhookId,
          u: entry.udid,
          v: entry.event,
          m: entry.deviceName,
          q: entry.sequence,
          o: entry.observedAt,
          x: entry.nextAt,
          s: entry.status,
          b: entry.base,
          ...(entry.test ? { T: 1 } : {}),
        };
        const snapshot = this.journal.append(head);
        const copies = lines.map((line) =>
          this.journal.append(
            { t: 'a', d: entry.id, s: entry.status, x: entry.nextAt },
            line.toString('utf8', line.indexOf(9) + 1, line.length - 1),
          ),
        );
        await this.journal.commit();
        this.ledger.relocated(entry, snapshot, copies, count);
        moved += 1;
      }
      if (moved)
        this.options.log.info(
          `delivery log: moved ${moved} long-pending deliveries forward so old journal segments can go`,
        );
    } catch (error) {
      // A shutdown closing the journal mid-way is not worth a warning; the next start retries.
      if (!this.stopping) this.options.log.warn(`delivery log compaction failed: ${(error as Error).message}`);
    } finally {
      this.relocating = false;
    }
  }

  private pruneIfFull(): void {
    this.ledger.prune(Date.now());
  }

  // ---- shapes ----

  private toAttempt(
    callback: { url: string; headers: Record<string, string>; body: string },
    result: SendResult,
  ): Attempt {
    return {
      at: new Date(result.at).toISOString(),
      durationMs: result.durationMs,
      request: loggedRequest(callback),
      response: result.response,
      error: result.error,
    };
  }

  private summary(entry: Entry): DeliverySummary {
    return {
      id: entry.id,
      eventId: entry.eventId,
      webhookId: entry.webhookId,
      udid: entry.udid,
      eventActivity: eventActivity(entry.event),
      status: entry.status,
      attemptCount: attemptCount(entry),
      createdAt: new Date(createdAt(entry)).toISOString(),
    };
  }

  private async toDelivery(entry: Entry): Promise<Delivery> {
    // One snapshot of status and attempts, taken before reading, so the two always agree.
    const { attemptCount: count, ...rest } = this.summary(entry);
    const refs = Array.from({ length: count }, (_, i) => attemptRef(entry, i));
    const attempts = await Promise.all(refs.map(async (ref) => parseBody(await this.journal.read(ref)) as Attempt));
    return { ...rest, attempts };
  }
}

/** One lane per (webhook, device); two spellings of one iPhone's UDID are one device. */
function laneKey(webhookId: number, udid: string): string {
  return `${webhookId}\u0000${udidKey(udid)}`;
}

/** Test sends get connections of their own: "Send test" goes at once, even when the webhook's are all busy. */
function testOwner(webhookId: number): string {
  return `test:${webhookId}`;
}

function parseBody(line: Buffer): unknown {
  const tab = line.indexOf(9);
  return JSON.parse(line.toString('utf8', tab + 1, line.length - 1));
}
