import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceStatus } from '../../electron/core/api/schemas.js';
import { memoryLogger } from '../../electron/core/log.js';
import type { Presence, SessionClaim, StatusChange } from '../../electron/core/devices/model.js';
import { DeviceTracker, type DeviceTrackerOptions, type PersistedDevice } from '../../electron/core/devices/tracker.js';
import { waitFor } from '../helpers/wait.js';

const UDID = 'ce0917198075440c057e';
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const trackers: DeviceTracker[] = [];
afterEach(async () => {
  for (const t of trackers.splice(0)) await t.shutdown();
});

/**
 * A tracker whose clock stands at 0 unless a test gives it one, so its sequences count up by one
 * (change-identity.ts: the time part is 0); the grace tests, which need time to pass, pass Date.now.
 */
function make(options: Partial<DeviceTrackerOptions> = {}) {
  const persisted: PersistedDevice[][] = [];
  const tracker = new DeviceTracker({
    initial: [],
    persist: (d) => {
      persisted.push(d);
    },
    log: memoryLogger(),
    now: () => 0,
    ...options,
  });
  const changes: StatusChange[] = [];
  tracker.on('change', (c) => changes.push(c));
  trackers.push(tracker);
  return { tracker, changes, persisted };
}

const adb = (state: Presence['state'], udid = UDID, extra: Partial<Presence> = {}): Presence => ({
  key: udid,
  udid,
  state,
  platform: 'android',
  name: 'Galaxy Note 8',
  ...extra,
});
const claim = (id = 's1', udid = UDID): SessionClaim => ({ id, udid, label: 'job', expiresAt: null });

const turn = () => new Promise((r) => setImmediate(r));

describe('DeviceTracker transition table (through DeviceSink)', () => {
  type From = DeviceStatus | 'first sight';
  const froms: From[] = ['first sight', 'online', 'offline', 'utilizing', 'unplugged'];
  const tos: DeviceStatus[] = ['online', 'offline', 'utilizing', 'unplugged'];
  // Kobiton's table, written out: [from][to] → event.
  const expected: Record<From, Record<DeviceStatus, string | null>> = {
    'first sight': { online: 'online', offline: 'offline', utilizing: 'utilizing', unplugged: null },
    unplugged: { online: 'online', offline: 'offline', utilizing: 'utilizing', unplugged: null },
    online: { online: null, offline: 'offline', utilizing: 'utilizing', unplugged: 'unplugged' },
    offline: { online: 'online', offline: null, utilizing: 'utilizing', unplugged: 'unplugged' },
    utilizing: { online: null, offline: 'offline', utilizing: null, unplugged: 'unplugged' },
  };

  /** Puts the device into `from` (through first sight, if needed). */
  function setUp(tracker: DeviceTracker, from: From, to: DeviceStatus) {
    if (from === 'first sight') {
      if (to === 'utilizing') tracker.reportSessions('appium', [claim()]);
      return;
    }
    if (from === 'unplugged') {
      tracker.reportPresences('adb', [adb('ready')]);
      tracker.reportPresences('adb', []);
    } else if (from === 'online') {
      tracker.reportPresences('adb', [adb('ready')]);
    } else if (from === 'offline') {
      tracker.reportPresences('adb', [adb('unusable', UDID, { detail: 'unauthorized' })]);
    } else {
      tracker.reportSessions('appium', [claim()]);
      tracker.reportPresences('adb', [adb('ready')]);
    }
    // A claim on a device that is not reachable changes nothing; it lets one report make it utilizing.
    if (to === 'utilizing' && from !== 'online') tracker.reportSessions('appium', [claim()]);
  }

  /** The one report that takes the device from `from` to `to`. */
  function transition(tracker: DeviceTracker, from: From, to: DeviceStatus) {
    if (to === 'unplugged') tracker.reportPresences('adb', []);
    else if (to === 'offline') tracker.reportPresences('adb', [adb('unusable', UDID, { detail: 'offline' })]);
    else if (to === 'online' && from === 'utilizing') tracker.reportSessions('appium', []);
    else if (to === 'online') tracker.reportPresences('adb', [adb('ready')]);
    else if (from === 'online') tracker.reportSessions('appium', [claim()]);
    else tracker.reportPresences('adb', [adb('ready')]);
  }

  for (const from of froms) {
    for (const to of tos) {
      const event = expected[from][to];
      const changes = from === to || (from === 'first sight' && to === 'unplugged') ? 0 : 1;
      it(`${from} → ${to}: ${event ?? 'no event'}${changes && !event ? ' (a change without event)' : ''}`, () => {
        const { tracker, changes: seen } = make();
        setUp(tracker, from, to);
        const before = seen.length;
        const previousSequence = seen.at(-1)?.sequence ?? 0;
        if (from !== 'first sight') expect(tracker.device(UDID)?.status).toBe(from);
        transition(tracker, from, to);
        const fresh = seen.slice(before);
        expect(fresh).toHaveLength(changes);
        if (changes) {
          const [change] = fresh;
          expect(change).toMatchObject({
            udid: UDID,
            name: 'Galaxy Note 8',
            platform: 'android',
            from: from === 'first sight' ? 'unplugged' : from,
            to,
            event,
            sequence: previousSequence + 1,
            simulated: false,
          });
          expect(change.observedAt).toMatch(ISO);
          expect(change.id).toMatch(/^[0-9a-f-]{36}$/);
          expect(tracker.device(UDID)?.status).toBe(to);
        } else if (from === 'first sight') {
          expect(tracker.device(UDID)).toBeUndefined();
        }
      });
    }
  }

  it('sequence increases by one per change, ids are fresh, persisted sequence continues', () => {
    const { tracker, changes } = make({ initial: [record({ status: 'offline', sequence: 41 })] });
    tracker.reportPresences('adb', [adb('ready')]);
    tracker.reportSessions('appium', [claim()]);
    tracker.reportSessions('appium', []);
    tracker.reportPresences('adb', []);
    expect(changes.map((c) => [c.from, c.to, c.event, c.sequence])).toEqual([
      ['offline', 'online', 'online', 42],
      ['online', 'utilizing', 'utilizing', 43],
      ['utilizing', 'online', null, 44],
      ['online', 'unplugged', 'unplugged', 45],
    ]);
    expect(new Set(changes.map((c) => c.id)).size).toBe(4);
    expect(tracker.device(UDID)?.since).toBe(changes[3].observedAt);
  });

  it('uses the injected clock', () => {
    const { tracker, changes } = make({ now: () => Date.UTC(2023, 0, 6, 4, 52, 36, 963) });
    tracker.reportPresences('adb', [adb('ready')]);
    expect(changes[0]).toMatchObject({ observedAt: '2023-01-06T04:52:36.963Z' });
  });

  it('sequences carry the time, so they grow past a sequence lost with db.json, and never go back', () => {
    let clock = Date.UTC(2026, 0, 1);
    const { tracker, changes } = make({ now: () => clock, initial: [record({ status: 'offline', sequence: 41 })] });
    tracker.reportPresences('adb', [adb('ready')]);
    expect(changes[0].sequence).toBe(clock * 1000);
    // Two changes within one microsecond, then a clock that steps back: still increasing.
    tracker.reportPresences('adb', [adb('unusable')]);
    clock -= 60_000;
    tracker.reportPresences('adb', []);
    expect(changes.map((c) => c.sequence)).toEqual([
      clock * 1000 + 60_000_000,
      clock * 1000 + 60_000_001,
      clock * 1000 + 60_000_002,
    ]);
    expect(Number.isSafeInteger(Date.UTC(2255, 0, 1) * 1000)).toBe(true);

    // db.json moved away: the next run knows nothing of the device and starts over at its own time.
    clock += 120_000;
    const fresh = make({ now: () => clock });
    fresh.tracker.reportPresences('adb', [adb('ready')]);
    expect(fresh.changes[0].sequence).toBeGreaterThan(changes[2].sequence);
  });

  it('the same change from the same persisted state has the same id: a crash before db.json was written repeats its webhook-id', () => {
    const initial = [record({ status: 'online', sequence: 41 })];
    const first = make({ initial, now: () => Date.UTC(2026, 0, 1) });
    first.tracker.reportPresences('adb', [adb('unusable')]);
    first.tracker.reportPresences('adb', [adb('ready')]);
    // The process died before it persisted: the next run starts from the same state and sees the same.
    const second = make({ initial, now: () => Date.UTC(2026, 0, 1, 0, 0, 5) });
    second.tracker.reportPresences('adb', [adb('unusable')]);
    expect(second.changes[0].id).toBe(first.changes[0].id);
    expect(second.changes[0].sequence).toBeGreaterThan(first.changes[1].sequence);
    // Another status from that state, or the next change, is another event.
    const third = make({ initial, now: () => Date.UTC(2026, 0, 1) });
    third.tracker.reportPresences('adb', []);
    third.tracker.reconcile();
    expect(third.changes.map((c) => c.to)).toEqual(['unplugged']);
    expect(new Set([first.changes[0].id, first.changes[1].id, third.changes[0].id]).size).toBe(3);
  });
});

describe('DeviceTracker sources and devices', () => {
  it("each report replaces only that source's previous report", () => {
    const { tracker, changes } = make();
    tracker.reportPresences('adb', [adb('ready')]);
    tracker.reportPresences('usb', [{ key: 'usb:1-2', udid: UDID, state: 'attached' }]);
    tracker.reportSessions('appium', [claim('a')]);
    tracker.reportSessions('reservations', [claim('r')]);
    expect(tracker.device(UDID)).toMatchObject({ status: 'utilizing', transports: ['adb', 'usb'] });
    tracker.reportSessions('appium', []);
    expect(tracker.device(UDID)?.status).toBe('utilizing');
    expect(tracker.device(UDID)?.sessions).toEqual([
      { id: 'r', udid: UDID, source: 'reservations', label: 'job', expiresAt: null },
    ]);
    tracker.reportSessions('reservations', []);
    tracker.reportPresences('usb', []);
    expect(tracker.device(UDID)).toMatchObject({ status: 'online', transports: ['adb'], sessions: [] });
    expect(changes.map((c) => c.to)).toEqual(['online', 'utilizing', 'online']);
  });

  it('matches an iPhone across the USB bus, usbmuxd and Appium by UDID', () => {
    const { tracker, changes } = make();
    const serial = '00008030001A2B3C4D5E6F70';
    const udid = '00008030-001A2B3C4D5E6F70';
    tracker.reportPresences('usb', [{ key: 'usb:1-4', udid: serial, state: 'attached', platform: 'ios' }]);
    tracker.reportPresences('usbmux', [
      { key: 'usbmux:7', udid, state: 'ready', platform: 'ios', name: "Ann's iPhone" },
    ]);
    tracker.reportSessions('appium', [claim('wda', udid.toLowerCase())]);
    expect(changes.map((c) => [c.udid, c.to])).toEqual([
      [udid, 'online'],
      [udid, 'utilizing'],
    ]);
    expect(tracker.devices()).toHaveLength(1);
    expect(tracker.device(serial)).toMatchObject({
      udid,
      name: "Ann's iPhone",
      platform: 'ios',
      transports: ['usb', 'usbmux'],
    });
    expect(tracker.device(udid.toLowerCase())?.status).toBe('utilizing');
  });

  it('keeps Android serials that differ in case apart', () => {
    const { tracker } = make();
    tracker.reportPresences('adb', [adb('ready', 'emulator-5554'), adb('unusable', 'EMULATOR-5554')]);
    expect(tracker.devices().map((d) => [d.udid, d.status])).toEqual([
      ['EMULATOR-5554', 'offline'],
      ['emulator-5554', 'online'],
    ]);
  });

  it('takes the latest name a source gave, unless the operator renamed the device', () => {
    const { tracker, changes } = make();
    tracker.reportPresences('adb', [adb('ready', UDID, { name: 'SM-N950F' })]);
    tracker.reportPresences('adb', [adb('ready', UDID, { name: 'Galaxy Note 8' })]);
    expect(tracker.device(UDID)?.name).toBe('Galaxy Note 8');
    expect(tracker.rename(UDID, '  Rack 3 / slot 2 ')?.name).toBe('Rack 3 / slot 2');
    tracker.reportPresences('adb', [adb('unusable', UDID, { name: 'SM-N950F' })]);
    expect(changes.at(-1)?.name).toBe('Rack 3 / slot 2');
    expect(tracker.rename(UDID, null)?.name).toBe('SM-N950F');
    expect(tracker.rename('nope', 'x')).toBeUndefined();
  });

  it('falls back to the udid as name and guesses the platform from its shape', () => {
    const { tracker } = make({ graceMs: 0 });
    tracker.reportPresences('usb', [
      { key: 'usb:1', udid: '00008030-001A2B3C4D5E6F70', state: 'unusable' },
      { key: 'usb:2', udid: 'R58M12ABCDE', state: 'unusable' },
    ]);
    expect(tracker.devices().map((d) => [d.udid, d.name, d.platform])).toEqual([
      ['00008030-001A2B3C4D5E6F70', '00008030-001A2B3C4D5E6F70', 'ios'],
      ['R58M12ABCDE', 'R58M12ABCDE', 'android'],
    ]);
  });

  it('a claim on a device nobody sees lists nothing', () => {
    const { tracker, changes } = make();
    tracker.reportSessions('reservations', [claim('r', 'ghost')]);
    expect(changes).toEqual([]);
    expect(tracker.devices()).toEqual([]);
    expect(tracker.device('ghost')).toBeUndefined();
  });

  it('emits one device’s changes in order to every listener, even when a listener reports back', () => {
    const { tracker } = make();
    const second: string[] = [];
    tracker.on('change', (c) => {
      // A listener reacting synchronously (e.g. a reservation released on offline).
      if (c.to === 'utilizing') tracker.reportPresences('adb', [adb('unusable')]);
    });
    tracker.on('change', (c) => second.push(`${c.sequence}:${c.to}`));
    tracker.reportSessions('appium', [claim()]);
    tracker.reportPresences('adb', [adb('ready')]);
    expect(second).toEqual(['1:utilizing', '2:offline']);
  });

  it('a throwing listener is logged and does not hold back later changes', () => {
    const log = memoryLogger();
    const { tracker, changes } = make({ log });
    tracker.prependListener('change', () => {
      throw new Error('outbox full');
    });
    tracker.reportPresences('adb', [adb('ready'), adb('ready', 'other')]);
    expect(changes.map((c) => c.udid)).toEqual([UDID, 'other']);
    expect(log.lines.filter((l) => l.includes('outbox full'))).toHaveLength(2);
  });
});

describe('DeviceTracker grace period for devices on the USB bus only', () => {
  it('a phone only on the USB bus turns offline by itself after the grace period', async () => {
    const { tracker, changes } = make({ graceMs: 50, now: Date.now });
    tracker.reportPresences('usb', [{ key: 'usb:1-2', udid: UDID, state: 'attached' }]);
    expect(changes).toEqual([]);
    await waitFor('the grace timer', () => changes.length > 0);
    expect(changes.map((c) => [c.from, c.to, c.event])).toEqual([['unplugged', 'offline', 'offline']]);
    expect(tracker.device(UDID)?.transports).toEqual(['usb']);
  });

  it('a phone that adb claims within the grace period never shows offline', async () => {
    const { tracker, changes } = make({ graceMs: 50, now: Date.now });
    tracker.reportPresences('usb', [{ key: 'usb:1-2', udid: UDID, state: 'attached' }]);
    tracker.reportPresences('adb', [adb('ready')]);
    await new Promise((r) => setTimeout(r, 150));
    expect(changes.map((c) => c.to)).toEqual(['online']);
  });

  it('a phone adb drops while still on the bus stays online through the grace period, then is offline', async () => {
    const { tracker, changes } = make({ graceMs: 50, now: Date.now });
    tracker.reportPresences('usb', [{ key: 'usb:1-2', udid: UDID, state: 'attached' }]);
    tracker.reportPresences('adb', [adb('ready')]);
    tracker.reportPresences('adb', []);
    expect(tracker.device(UDID)?.status).toBe('online');
    await waitFor('the offline change', () => changes.length === 2);
    expect(changes.map((c) => [c.from, c.to, c.event])).toEqual([
      ['unplugged', 'online', 'online'],
      ['online', 'offline', 'offline'],
    ]);
  });

  it('the grace timer is cleared on shutdown', async () => {
    const { tracker, changes } = make({ graceMs: 30, now: Date.now });
    tracker.reportPresences('usb', [{ key: 'usb:1-2', udid: UDID, state: 'attached' }]);
    await tracker.shutdown();
    await new Promise((r) => setTimeout(r, 100));
    expect(changes).toEqual([]);
  });
});

function record(over: Partial<PersistedDevice> = {}): PersistedDevice {
  return {
    udid: UDID,
    name: 'Galaxy Note 8',
    nameOverride: null,
    platform: 'android',
    status: 'online',
    since: '2024-01-01T00:00:00.000Z',
    sequence: 7,
    simulated: false,
    labels: [],
    flaps: [],
    warnings: [],
    ...over,
  };
}

describe('DeviceTracker reconciliation at start', () => {
  const initial = [
    record({ udid: 'A', status: 'online', sequence: 3 }),
    record({ udid: 'B', status: 'offline', sequence: 5 }),
    record({ udid: 'C', status: 'unplugged', sequence: 9 }),
    record({ udid: 'D', status: 'utilizing', sequence: 2 }),
    record({ udid: 'E', status: 'online', sequence: 1, nameOverride: 'Bench E' }),
  ];

  it('lists persisted devices as they were until reconcile, then fires one event per changed device', () => {
    const { tracker, changes } = make({ initial });
    expect(tracker.devices().map((d) => [d.udid, d.status])).toEqual(initial.map((d) => [d.udid, d.status]));
    tracker.reportPresences('adb', [adb('ready', 'A')]); // unchanged
    tracker.reportSessions('reservations', [claim('r', 'D')]); // D not seen yet: no verdict before reconcile
    tracker.reportPresences('usb', [{ key: 'usb:9', udid: 'E', state: 'unusable' }]); // reported: emitted at once
    expect(changes.map((c) => [c.udid, c.from, c.to, c.sequence, c.name])).toEqual([
      ['E', 'online', 'offline', 2, 'Bench E'],
    ]);
    expect(tracker.isReconciled).toBe(false);

    tracker.reconcile();
    expect(changes.slice(1).map((c) => [c.udid, c.from, c.to, c.event, c.sequence])).toEqual([
      ['B', 'offline', 'unplugged', 'unplugged', 6],
      ['D', 'utilizing', 'unplugged', 'unplugged', 3],
    ]);
    tracker.reconcile();
    expect(changes).toHaveLength(3);
    expect(tracker.devices().map((d) => [d.udid, d.status])).toEqual([
      ['A', 'online'],
      ['B', 'unplugged'],
      ['C', 'unplugged'],
      ['D', 'unplugged'],
      ['E', 'offline'],
    ]);
  });

  it('reconciles only once every awaited source has given a complete report', async () => {
    const log = memoryLogger();
    const { tracker, changes } = make({ initial, awaitSources: ['adb', 'usbmux', 'appium'], log });
    await tracker.boot();
    // adb still reads getprop of the others: what it reports stands, what it leaves out is not gone yet.
    tracker.reportPresences('adb', [adb('ready', 'A')], { complete: false });
    tracker.reportSessions('appium', []);
    tracker.reportPresences('usbmux', []);
    expect(tracker.isReconciled).toBe(false);
    expect(changes).toEqual([]);
    tracker.reportPresences('adb', [adb('ready', 'A'), adb('ready', 'E')], { complete: false });
    expect(tracker.isReconciled).toBe(false);
    expect(changes).toEqual([]);
    tracker.reportPresences('adb', [adb('ready', 'A'), adb('ready', 'E')]);
    expect(tracker.isReconciled).toBe(true);
    expect(changes.map((c) => [c.udid, c.to])).toEqual([
      ['B', 'unplugged'],
      ['D', 'unplugged'],
    ]);
    expect(log.lines.join('\n')).toMatch(/reconciled with the last run \(3 unchanged, 2 changed/);
  });

  it('without awaited sources, reconciles at boot', async () => {
    const { tracker, changes } = make({ initial });
    await tracker.boot();
    expect(tracker.isReconciled).toBe(true);
    expect(changes.map((c) => c.udid)).toEqual(['A', 'B', 'D', 'E']);
  });

  it('reconciles after its backstop when a source never completes, and says which one', async () => {
    const log = memoryLogger();
    const { tracker, changes } = make({ initial, awaitSources: ['adb', 'usbmux'], backstopMs: 30, log });
    await tracker.boot();
    tracker.reportPresences('adb', [adb('ready', 'A'), adb('ready', 'B'), adb('ready', 'D'), adb('ready', 'E')]);
    expect(changes.map((c) => [c.udid, c.to, c.event])).toEqual([['B', 'online', 'online']]);
    await waitFor('the backstop', () => tracker.isReconciled);
    // D was utilizing at shutdown; no session source reported one, so its session ended meanwhile.
    expect(changes.map((c) => [c.udid, c.to, c.event])).toEqual([
      ['B', 'online', 'online'],
      ['D', 'online', null],
    ]);
    expect(log.lines.join('\n')).toMatch(/no complete report from usbmux within/);
    tracker.reportPresences('adb', []);
    expect(changes.slice(2).map((c) => c.udid)).toEqual(['A', 'B', 'D', 'E']);
  });

  it('a device utilizing at shutdown does not flap while the session sources catch up', () => {
    const { tracker, changes } = make({ initial, awaitSources: ['adb', 'appium'] });
    tracker.reportPresences('adb', [adb('ready', 'A'), adb('ready', 'D')]);
    expect(tracker.device('D')?.status).toBe('utilizing');
    tracker.reportSessions('appium', [claim('s', 'D')]);
    expect(tracker.isReconciled).toBe(true);
    expect(changes.map((c) => c.udid)).toEqual(['B', 'E']);
    expect(tracker.device('D')?.status).toBe('utilizing');
    tracker.reportSessions('appium', []);
    expect(changes.slice(2).map((c) => [c.udid, c.from, c.to, c.event])).toEqual([['D', 'utilizing', 'online', null]]);
  });

  it('reports after shutdown are ignored: stopping is not unplugging', async () => {
    const { tracker, changes } = make({ initial });
    tracker.reportPresences('adb', [adb('ready', 'A')]);
    await tracker.shutdown();
    tracker.reportPresences('adb', []);
    tracker.reconcile();
    expect(changes).toEqual([]);
    expect(tracker.device('A')?.status).toBe('online');
  });

  it('a device unplugged at shutdown and back now fires online', () => {
    const { tracker, changes } = make({ initial: [record({ status: 'unplugged' })] });
    tracker.reportPresences('adb', [adb('ready')]);
    tracker.reconcile();
    expect(changes.map((c) => [c.from, c.to, c.event, c.sequence])).toEqual([['unplugged', 'online', 'online', 8]]);
  });
});

describe('DeviceTracker persistence', () => {
  it('coalesces a burst of reports into one persist call', async () => {
    const { tracker, persisted } = make();
    for (let i = 0; i < 20; i++)
      tracker.reportPresences(
        'adb',
        Array.from({ length: i + 1 }, (_, j) => adb('ready', `dev-${j}`)),
      );
    expect(persisted).toHaveLength(0);
    await turn();
    expect(persisted).toHaveLength(1);
    expect(persisted[0]).toHaveLength(20);
    expect(persisted[0][0]).toEqual({
      udid: 'dev-0',
      name: 'Galaxy Note 8',
      nameOverride: null,
      platform: 'android',
      status: 'online',
      since: expect.stringMatching(ISO),
      sequence: 1,
      simulated: false,
      labels: [],
      flaps: [],
      warnings: [],
    });
    tracker.flush();
    await turn();
    expect(persisted).toHaveLength(1);
  });

  it('persists renames and name changes without a status change, and flushes synchronously', async () => {
    const { tracker, persisted, changes } = make();
    tracker.reportPresences('adb', [adb('ready')]);
    tracker.flush();
    expect(persisted).toHaveLength(1);
    tracker.rename(UDID, 'Slot 4');
    tracker.reportPresences('adb', [adb('ready', UDID, { name: 'SM-N950F' })]);
    await tracker.shutdown();
    expect(persisted).toHaveLength(2);
    expect(persisted[1][0]).toMatchObject({ name: 'SM-N950F', nameOverride: 'Slot 4', status: 'online', sequence: 1 });
    expect(changes).toHaveLength(1);
  });

  it('a restarted tracker continues from what was persisted', async () => {
    const first = make();
    first.tracker.reportPresences('adb', [adb('ready')]);
    first.tracker.reportSessions('appium', [claim()]);
    await first.tracker.shutdown();
    const second = make({ initial: first.persisted.at(-1)! });
    second.tracker.reportPresences('adb', [adb('ready')]);
    second.tracker.reconcile();
    expect(second.changes.map((c) => [c.from, c.to, c.event, c.sequence])).toEqual([['utilizing', 'online', null, 3]]);
  });

  it('a failing persist is logged, not thrown at the source', async () => {
    const log = memoryLogger();
    const { tracker } = make({
      log,
      persist: () => {
        throw new Error('disk full');
      },
    });
    tracker.reportPresences('adb', [adb('ready')]);
    await turn();
    expect(log.lines.some((l) => l.includes('disk full'))).toBe(true);
  });
});
