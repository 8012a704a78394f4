import { afterEach, describe, expect, it } from 'vitest';
import type { Reservation } from '../../electron/core/api/schemas.js';
import { memoryLogger } from '../../electron/core/log.js';
import type { StatusChange } from '../../electron/core/devices/model.js';
import { ApiError } from '../../electron/core/api/errors.js';
import { Reservations, type ReservationsOptions } from '../../electron/core/devices/sources/reservations.js';
import { DeviceTracker } from '../../electron/core/devices/tracker.js';
import { waitFor } from '../helpers/wait.js';

const UDID = 'ce0917198075440c057e';
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/** A real tracker with one online phone, and reservations reporting into it. */
async function setUp(options: Partial<ReservationsOptions> = {}) {
  const tracker = new DeviceTracker({ initial: [], persist: () => {}, log: memoryLogger() });
  const changes: StatusChange[] = [];
  tracker.on('change', (c) => changes.push(c));
  tracker.reportPresences('adb', [
    { key: UDID, udid: UDID, state: 'ready', platform: 'android', name: 'Galaxy Note 8' },
  ]);
  const saved: Reservation[][] = [];
  const reservations = new Reservations({
    sink: tracker,
    persist: (r) => saved.push(r),
    log: memoryLogger(),
    ...options,
  });
  await reservations.boot();
  stops.push(
    () => tracker.shutdown(),
    () => reservations.shutdown(),
  );
  return { tracker, changes: () => changes.slice(1), reservations, saved };
}

describe('Reservations', () => {
  it('a reservation makes the device utilizing; releasing it makes it online again without an event', async () => {
    const { tracker, changes, reservations, saved } = await setUp();
    const before = Date.now();
    const r = reservations.reserve(UDID, { label: 'ci #12' });
    expect(r).toMatchObject({ udid: UDID, label: 'ci #12' });
    expect(Date.parse(r.expiresAt) - before).toBeGreaterThanOrEqual(1800 * 1000 - 1);
    expect(tracker.device(UDID)?.sessions).toEqual([
      { id: r.id, udid: UDID, source: 'reservations', label: 'ci #12', expiresAt: r.expiresAt },
    ]);
    expect(saved.at(-1)).toEqual([r]);
    expect(reservations.release(UDID, r.id)).toBe(true);
    expect(changes().map((c) => [c.to, c.event])).toEqual([
      ['utilizing', 'utilizing'],
      ['online', null],
    ]);
    expect(saved.at(-1)).toEqual([]);
    expect(reservations.list()).toEqual([]);
  });

  it('releasing an unknown reservation, or one of another device, releases nothing', async () => {
    const { reservations, saved, tracker } = await setUp();
    const r = reservations.reserve(UDID);
    const writes = saved.length;
    expect(reservations.release(UDID, 'nope')).toBe(false);
    expect(reservations.release('other-device', r.id)).toBe(false);
    expect(reservations.list(UDID)).toEqual([r]);
    expect(saved).toHaveLength(writes);
    expect(tracker.device(UDID)?.status).toBe('utilizing');
  });

  it('matches the device by either spelling of an iPhone UDID', async () => {
    const { reservations } = await setUp();
    const r = reservations.reserve('00008030-001A2B3C4D5E6F70');
    expect(reservations.list('00008030001a2b3c4d5e6f70')).toEqual([r]);
    expect(reservations.release('00008030001A2B3C4D5E6F70', r.id)).toBe(true);
  });

  it('re-posting with the same label extends (same id); unlabelled reservations never merge', async () => {
    let now = Date.UTC(2025, 0, 1);
    const { reservations, tracker } = await setUp({ now: () => now });
    const first = reservations.reserve(UDID, { label: 'job-7', ttlSeconds: 60 });
    now += 30_000;
    const again = reservations.reserve(UDID, { label: 'job-7', ttlSeconds: 60 });
    expect(again.id).toBe(first.id);
    expect(again.expiresAt).toBe(new Date(now + 60_000).toISOString());
    const a = reservations.reserve(UDID);
    const b = reservations.reserve(UDID);
    expect(new Set([first.id, a.id, b.id]).size).toBe(3);
    expect(tracker.device(UDID)?.sessions).toHaveLength(3);
    const extended = reservations.extend(UDID, a.id, 120);
    expect(extended.expiresAt).toBe(new Date(now + 120_000).toISOString());
    expect(() => reservations.extend(UDID, 'nope', 10)).toThrow(
      expect.objectContaining({ code: 'not_found', status: 404 }),
    );
    expect(() => reservations.reserve(UDID, { ttlSeconds: 0 })).toThrow(ApiError);
    expect(reservations.list()).toHaveLength(3);
  });

  it('an expired reservation is removed by its timer and the device goes back online', async () => {
    const { tracker, changes, reservations, saved } = await setUp();
    const long = reservations.reserve(UDID, { ttlSeconds: 3600, label: 'long' });
    reservations.reserve(UDID, { ttlSeconds: 0.05, label: 'short' });
    await waitFor('the short reservation to expire', () => reservations.list().length === 1);
    expect(reservations.list()).toEqual([long]);
    expect(saved.at(-1)).toEqual([long]);
    expect(tracker.device(UDID)?.status).toBe('utilizing');
    reservations.extend(UDID, long.id, 0.05);
    await waitFor('the device to come back online', () => tracker.device(UDID)?.status === 'online');
    expect(changes().map((c) => [c.to, c.event])).toEqual([
      ['utilizing', 'utilizing'],
      ['online', null],
    ]);
    expect(saved.at(-1)).toEqual([]);
  });

  it('a restart keeps live reservations and drops those that expired meanwhile', async () => {
    const first = await setUp();
    const live = first.reservations.reserve(UDID, { label: 'keeps' });
    first.reservations.reserve('R58M12ABCDE', { label: 'gone', ttlSeconds: 0.02 });
    const persisted = first.saved.at(-1)!;
    expect(persisted).toHaveLength(2);
    await first.reservations.shutdown();
    await new Promise((r) => setTimeout(r, 40));

    const second = await setUp({ initial: persisted });
    expect(second.reservations.list()).toEqual([live]);
    expect(second.saved.at(-1)).toEqual([live]);
    expect(second.tracker.device(UDID)?.status).toBe('utilizing');
    expect(second.changes().map((c) => c.to)).toEqual(['utilizing']);
  });

  it('no timer runs after shutdown', async () => {
    const { reservations, saved } = await setUp();
    reservations.reserve(UDID, { ttlSeconds: 0.03 });
    const count = saved.length;
    await reservations.shutdown();
    await new Promise((r) => setTimeout(r, 80));
    expect(saved).toHaveLength(count);
  });
});
