/**
 * Reservations made through Labhook's API: a CI job marks a device in use (it is `utilizing` while
 * reserved) and releases it, with a TTL so a crashed job cannot hold a device forever.
 *
 * Re-posting: `reserve` creates a new reservation, except when the device already has a live one
 * with the same non-empty label, which it extends (same id, new expiry) and returns. A job that
 * labels its reservation (its job id) can therefore keep the device by posting again, and a retried
 * POST does not stack a second reservation. Unlabelled reservations never merge: two anonymous jobs
 * must not release each other's claim. `extend(udid, id, ttl)` extends one by id.
 *
 * Reservations persist through `{ initial, persist }`, so a restart keeps them; those that expired
 * while Labhook was down are dropped at boot.
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from '../../api/errors.js';
import type { Reservation } from '../../api/schemas.js';
import type { Service } from '../../lifecycle.js';
import { consoleLogger, type Logger } from '../../log.js';
import type { DeviceSink } from '../model.js';
import { udidKey } from '../udid.js';

export const DEFAULT_TTL_SECONDS = 1800;
/** setTimeout's longest delay; longer TTLs wake up once on the way. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ReserveOptions {
  /** Seconds until the reservation lapses on its own; fractions allowed (the API only sends whole ones). */
  ttlSeconds?: number;
  label?: string;
}

export interface ReservationsOptions {
  sink: DeviceSink;
  initial?: readonly Reservation[];
  persist?: (reservations: Reservation[]) => void;
  now?: () => number;
  newId?: () => string;
  log?: Logger;
}

export class Reservations implements Service {
  readonly name = 'reservations';

  private items: Reservation[];
  private readonly sink: DeviceSink;
  private readonly persistFn: (reservations: Reservation[]) => void;
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(options: ReservationsOptions) {
    this.sink = options.sink;
    this.items = (options.initial ?? []).map((r) => ({ ...r }));
    this.persistFn = options.persist ?? (() => {});
    this.now = options.now ?? Date.now;
    this.newId = options.newId ?? randomUUID;
    this.log = options.log ?? consoleLogger;
  }

  async boot(): Promise<void> {
    this.running = true;
    const before = this.items.length;
    this.items = this.items.filter((r) => Date.parse(r.expiresAt) > this.now());
    if (this.items.length !== before) this.persist();
    this.report();
    this.arm();
  }

  async shutdown(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The live reservations, of one device or of all. */
  list(udid?: string): Reservation[] {
    const key = udid === undefined ? undefined : udidKey(udid);
    return this.items.filter((r) => key === undefined || udidKey(r.udid) === key).map((r) => ({ ...r }));
  }

  /** Reserves a device, or extends its live reservation with the same non-empty label (see above). */
  reserve(udid: string, { ttlSeconds = DEFAULT_TTL_SECONDS, label = '' }: ReserveOptions = {}): Reservation {
    const expiresAt = this.expiry(ttlSeconds);
    const key = udidKey(udid);
    const same = label ? this.items.find((r) => udidKey(r.udid) === key && r.label === label) : undefined;
    let reservation: Reservation;
    if (same) {
      same.expiresAt = expiresAt;
      reservation = same;
    } else {
      reservation = { id: this.newId(), udid, label, expiresAt };
      this.items.push(reservation);
    }
    this.changed();
    return { ...reservation };
  }

  /** Moves a reservation's expiry to `ttlSeconds` from now; throws ApiError not_found if that device has no such reservation. */
  extend(udid: string, id: string, ttlSeconds = DEFAULT_TTL_SECONDS): Reservation {
    const expiresAt = this.expiry(ttlSeconds);
    const reservation = this.find(udid, id);
    if (!reservation) throw new ApiError('not_found', `Session ${id} on device ${udid} was not found`);
    reservation.expiresAt = expiresAt;
    this.changed();
    return { ...reservation };
  }

  /** Ends a reservation. False when that device has no reservation with this id (the API answers 404). */
  release(udid: string, id: string): boolean {
    const reservation = this.find(udid, id);
    if (!reservation) return false;
    this.items = this.items.filter((r) => r !== reservation);
    this.changed();
    return true;
  }

  private find(udid: string, id: string): Reservation | undefined {
    const key = udidKey(udid);
    return this.items.find((r) => r.id === id && udidKey(r.udid) === key);
  }

  private expiry(ttlSeconds: number): string {
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
      throw new ApiError('validation_failed', 'Some fields are not valid', {
        ttlSeconds: 'ttlSeconds must be a positive number',
      });
    }
    return new Date(this.now() + ttlSeconds * 1000).toISOString();
  }

  private changed(): void {
    this.persist();
    this.report();
    this.arm();
  }

  private report(): void {
    this.sink.reportSessions(
      'reservations',
      this.items.map((r) => ({ id: r.id, udid: r.udid, label: r.label, expiresAt: r.expiresAt })),
    );
  }

  private persist(): void {
    try {
      this.persistFn(this.items.map((r) => ({ ...r })));
    } catch (error) {
      this.log.error(`reservations: could not persist: ${(error as Error).message}`);
    }
  }

  /** One timer, for the earliest expiry. */
  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.running || this.items.length === 0) return;
    const next = Math.min(...this.items.map((r) => Date.parse(r.expiresAt)));
    this.timer = setTimeout(() => this.expire(), Math.min(MAX_TIMER_MS, Math.max(1, next - this.now())));
    this.timer.unref();
  }

  private expire(): void {
    this.timer = null;
    const now = this.now();
    const live = this.items.filter((r) => Date.parse(r.expiresAt) > now);
    if (live.length === this.items.length) {
      this.arm();
      return;
    }
    for (const r of this.items) if (!live.includes(r)) this.log.info(`reservations: ${r.id} on ${r.udid} expired`);
    this.items = live;
    this.changed();
  }
}
