/**
 * The health monitor: reads each reachable device's battery on a gentle schedule (every 60 s by
 * default, and at once when it comes online), keeps the warnings the readings and the flap count
 * raise, and announces warnings raised and cleared (debounced) to whoever listens.
 *
 * It stays out of status detection's way: it only listens to the tracker's changes and reads on its
 * own timers. Each device has at most one reading in flight, bounded by a timeout, so a phone that
 * stops answering delays only its own readings.
 */
import { EventEmitter } from 'node:events';
import type { Device, WarningCode } from '../../api/schemas.js';
import type { Service } from '../../lifecycle.js';
import type { Logger } from '../../log.js';
import type { SourceName, StatusChange } from '../model.js';
import type { HealthFacts, HealthReading, TransportLink } from '../tracker.js';
import { UNKNOWN_READING, type BatteryReading } from './battery.js';
import {
  DEFAULT_DEBOUNCE_MS,
  raisedWarnings,
  updateBook,
  type BookedWarning,
  type HealthThresholds,
  type WarningTransition,
} from './warnings.js';

/** Reads one device's battery over one transport. Rejects with an Error whose message is the reason. */
export interface BatteryReader {
  read(link: TransportLink, udid: string, signal: AbortSignal): Promise<BatteryReading>;
}

/** What the monitor needs from the device tracker. */
export interface HealthHost {
  devices(): Device[];
  transportsOf(udid: string): TransportLink[];
  healthOf(udid: string): HealthFacts | undefined;
  setReading(udid: string, reading: HealthReading | null): void;
  setWarnings(udid: string, warnings: BookedWarning[]): void;
  on(event: 'change', listener: (change: StatusChange) => void): unknown;
  off(event: 'change', listener: (change: StatusChange) => void): unknown;
}

export interface HealthTransition extends WarningTransition {
  udid: string;
  code: WarningCode;
  /** The device's status sequence when it happened. */
  sequence: number;
  at: string;
}

export interface HealthMonitorEvents {
  /** A device's health (reading or warnings) changed. */
  health: [udid: string];
  /** A warning was raised, or cleared after the debounce. */
  transition: [transition: HealthTransition];
}

export interface HealthMonitorOptions {
  host: HealthHost;
  readers: Partial<Record<SourceName, BatteryReader>>;
  thresholds: () => HealthThresholds;
  log: Logger;
  /** Between two readings of one device; read again for each reading, so a settings change applies at once. */
  intervalMs?: number | (() => number);
  /** How long one reading may take. */
  timeoutMs?: number;
  debounceMs?: number;
  /** How often warnings are looked at again without a reading (flaps leaving the hour, pending clears). */
  reviewMs?: number;
  now?: () => number;
}

interface Schedule {
  timer: NodeJS.Timeout | null;
  inflight: AbortController | null;
  /** The last reading's failure, logged once until a reading works again. */
  failing: string | null;
}

const USABLE = new Set(['online', 'utilizing']);

export class HealthMonitor extends EventEmitter<HealthMonitorEvents> implements Service {
  readonly name = 'health';
  private readonly host: HealthHost;
  private readonly readers: Partial<Record<SourceName, BatteryReader>>;
  private readonly intervalMs: () => number;
  private readonly timeoutMs: number;
  private readonly debounceMs: number;
  private readonly reviewMs: number;
  private readonly now: () => number;
  private readonly schedules = new Map<string, Schedule>();
  private reviewTimer: NodeJS.Timeout | null = null;
  private running = false;
  private readonly onChange = (change: StatusChange) => this.changed(change);

  constructor(private readonly options: HealthMonitorOptions) {
    super();
    this.host = options.host;
    this.readers = options.readers;
    const interval = options.intervalMs ?? 60_000;
    this.intervalMs = typeof interval === 'number' ? () => interval : interval;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.reviewMs = options.reviewMs ?? 15_000;
    this.now = options.now ?? Date.now;
  }

  async boot(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.host.on('change', this.onChange);
    for (const device of this.host.devices()) if (USABLE.has(device.status)) this.readSoon(device.udid);
    this.reviewTimer = setInterval(() => this.review(), this.reviewMs);
    this.reviewTimer.unref();
  }

  async shutdown(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.host.off('change', this.onChange);
    if (this.reviewTimer) clearInterval(this.reviewTimer);
    this.reviewTimer = null;
    for (const schedule of this.schedules.values()) {
      if (schedule.timer) clearTimeout(schedule.timer);
      schedule.inflight?.abort();
    }
    this.schedules.clear();
  }

  /** Reads a device's battery now (unless a reading is in flight); resolves when it is done. */
  async readNow(udid: string): Promise<void> {
    const schedule = this.scheduleOf(udid);
    if (schedule.timer) clearTimeout(schedule.timer);
    schedule.timer = null;
    if (schedule.inflight) return;
    const link = this.linkFor(udid);
    if (!link || !this.running) return;
    const controller = new AbortController();
    schedule.inflight = controller;
    const timeout = setTimeout(() => controller.abort(), this.timeoutMs);
    timeout.unref();
    let outcome: HealthReading;
    const previous = this.host.healthOf(udid)?.reading ?? null;
    try {
      // The reader is asked to stop on abort; the monitor does not wait for it to comply.
      const gaveUp = new Promise<never>((_, reject) =>
        controller.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }),
      );
      const reading = await Promise.race([this.readers[link.source]!.read(link, udid, controller.signal), gaveUp]);
      outcome = { reading, readAt: new Date(this.now()).toISOString(), error: null };
      if (schedule.failing !== null) this.options.log.info(`health: ${udid} answers battery readings again`);
      schedule.failing = null;
    } catch (error) {
      const reason = controller.signal.aborted
        ? `no answer within ${this.timeoutMs} ms`
        : (error as Error).message.split('\n')[0];
      if (schedule.failing !== reason)
        this.options.log.warn(`health: could not read the battery of ${udid}: ${reason}`);
      schedule.failing = reason;
      // The last good values stand (readAt says how old they are); the error says why nothing newer.
      outcome = previous
        ? { ...previous, error: reason }
        : { reading: { ...UNKNOWN_READING }, readAt: new Date(this.now()).toISOString(), error: reason };
    } finally {
      clearTimeout(timeout);
      schedule.inflight = null;
    }
    // Stopped meanwhile (shut down, or the device went offline): this reading is no longer wanted.
    if (!this.running || this.schedules.get(udid) !== schedule) return;
    this.host.setReading(udid, outcome);
    this.evaluate(udid);
    this.emit('health', udid);
    this.armNext(udid);
  }

  /** Looks at every device's warnings again (flaps leaving the hour, clears that waited long enough). */
  review(): void {
    for (const device of this.host.devices()) this.evaluate(device.udid);
  }

  private changed(change: StatusChange): void {
    if (!this.running) return;
    if (change.to === 'unplugged') {
      // Nothing can be said of the battery of a phone that is gone; its battery warnings clear.
      this.stop(change.udid);
      this.host.setReading(change.udid, null);
    } else if (USABLE.has(change.to) && !USABLE.has(change.from)) {
      this.readSoon(change.udid);
    } else if (!USABLE.has(change.to)) {
      this.stop(change.udid);
    }
    this.evaluate(change.udid);
  }

  private evaluate(udid: string): void {
    const facts = this.host.healthOf(udid);
    if (!facts) return;
    const now = this.now();
    const raised = raisedWarnings(facts.reading?.reading ?? null, facts.flapsLastHour, this.options.thresholds());
    const { book, transitions } = updateBook(facts.warnings, raised, now, this.debounceMs);
    if (!sameBook(book, facts.warnings)) {
      this.host.setWarnings(udid, book);
      this.emit('health', udid);
    }
    const at = new Date(now).toISOString();
    for (const transition of transitions)
      this.emit('transition', { ...transition, udid, sequence: facts.sequence, at });
  }

  private readSoon(udid: string): void {
    void this.readNow(udid);
  }

  private armNext(udid: string): void {
    const schedule = this.scheduleOf(udid);
    if (schedule.timer || !this.running) return;
    schedule.timer = setTimeout(() => {
      schedule.timer = null;
      this.readSoon(udid);
    }, this.intervalMs());
    schedule.timer.unref();
  }

  private stop(udid: string): void {
    const schedule = this.schedules.get(udid);
    if (!schedule) return;
    if (schedule.timer) clearTimeout(schedule.timer);
    schedule.inflight?.abort();
    this.schedules.delete(udid);
  }

  private scheduleOf(udid: string): Schedule {
    let schedule = this.schedules.get(udid);
    if (!schedule) {
      schedule = { timer: null, inflight: null, failing: null };
      this.schedules.set(udid, schedule);
    }
    return schedule;
  }

  /** The first usable transport a reader speaks; null when the battery cannot be read now. */
  private linkFor(udid: string): TransportLink | null {
    return this.host.transportsOf(udid).find((link) => link.state === 'ready' && this.readers[link.source]) ?? null;
  }
}

function sameBook(a: readonly BookedWarning[], b: readonly BookedWarning[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (w, i) =>
        w.code === b[i].code && w.message === b[i].message && w.since === b[i].since && w.clearedAt === b[i].clearedAt,
    )
  );
}
