/** Every warning threshold on both sides, the debounce, and the flap counter under a flapping device (through the tracker). */
import { describe, expect, it } from 'vitest';
import { DEFAULT_HEALTH_SETTINGS } from '../../electron/core/api/schemas.js';
import { UNKNOWN_READING, type BatteryReading } from '../../electron/core/devices/health/battery.js';
import { FLAP_WINDOW_MS } from '../../electron/core/devices/health/flaps.js';
import { raisedWarnings, updateBook, type BookedWarning } from '../../electron/core/devices/health/warnings.js';
import type { PersistedDevice } from '../../electron/core/devices/device-record.js';
import { DeviceTracker } from '../../electron/core/devices/tracker.js';
import { memoryLogger } from '../../electron/core/log.js';

const limits = DEFAULT_HEALTH_SETTINGS;
const reading = (over: Partial<BatteryReading>): BatteryReading => ({ ...UNKNOWN_READING, ...over });
const codes = (r: BatteryReading | null, flaps = 0, l = limits) => raisedWarnings(r, flaps, l).map((w) => w.code);

describe('warning thresholds', () => {
  it('not charging: below the low mark on external power and not charging; at the mark, on battery or charging, not', () => {
    expect(codes(reading({ level: 14, power: 'usb', charging: false }))).toEqual(['not_charging']);
    expect(codes(reading({ level: 14, power: 'external', charging: null }))).toEqual(['not_charging']);
    expect(codes(reading({ level: 15, power: 'usb', charging: false }))).toEqual([]);
    expect(codes(reading({ level: 14, power: 'battery', charging: false }))).toEqual([]);
    expect(codes(reading({ level: 14, power: 'ac', charging: true }))).toEqual([]);
    expect(codes(reading({ level: 14, power: null, charging: false }))).toEqual([]);
    expect(
      codes(reading({ level: 30, power: 'usb', charging: false }), 0, { ...limits, lowBatteryPercent: 31 }),
    ).toEqual(['not_charging']);
  });

  it('hot: above the maximum temperature, not at it; unknown is not hot', () => {
    expect(codes(reading({ temperature: 45.1 }))).toEqual(['battery_hot']);
    expect(codes(reading({ temperature: 45 }))).toEqual([]);
    expect(codes(reading({ temperature: null }))).toEqual([]);
    expect(codes(reading({ temperature: 41 }), 0, { ...limits, maxTemperatureC: 40 })).toEqual(['battery_hot']);
  });

  it('battery health the device reports', () => {
    expect(codes(reading({ health: 'overheat' }))).toEqual(['battery_overheat']);
    expect(codes(reading({ health: 'dead' }))).toEqual(['battery_dead']);
    expect(codes(reading({ health: 'over_voltage' }))).toEqual(['battery_over_voltage']);
    expect(codes(reading({ health: 'cold' }))).toEqual(['battery_cold']);
    expect(codes(reading({ health: 'good' }))).toEqual([]);
  });

  it('flapping: more than the maximum in an hour, not at it', () => {
    expect(codes(null, 11)).toEqual(['flapping']);
    expect(codes(null, 10)).toEqual([]);
    expect(codes(null, 3, { ...limits, maxFlapsPerHour: 2 })).toEqual(['flapping']);
    expect(raisedWarnings(null, 11, limits)[0].message).toBe(
      'Possible hardware fault: cable, port or hub (11 drops in the last hour, above 10)',
    );
  });

  it('the messages say what is wrong and by how much', () => {
    expect(raisedWarnings(reading({ level: 9, power: 'usb', charging: false }), 0, limits)[0].message).toBe(
      'Not charging: battery at 9 % on external power (below 15 %)',
    );
    expect(raisedWarnings(reading({ temperature: 47.5 }), 0, limits)[0].message).toBe(
      'Battery at 47.5 °C (above 45 °C)',
    );
  });
});

describe('the warning book', () => {
  const hot = [{ code: 'battery_hot' as const, message: 'hot' }];
  const DEBOUNCE = 5 * 60_000;

  it('a warning that clears and returns within the debounce is one warning; cleared only after it', () => {
    let book: BookedWarning[] = [];
    let step = updateBook(book, hot, 0, DEBOUNCE);
    expect(step.transitions).toEqual([{ kind: 'warning', code: 'battery_hot', message: 'hot' }]);
    book = step.book;
    const since = book[0].since;
    step = updateBook(book, [], 60_000, DEBOUNCE);
    expect(step.transitions).toEqual([]);
    step = updateBook(step.book, hot, 120_000, DEBOUNCE);
    expect(step.transitions).toEqual([]);
    expect(step.book).toEqual([{ code: 'battery_hot', message: 'hot', since, clearedAt: null }]);
    step = updateBook(step.book, [], 200_000, DEBOUNCE);
    step = updateBook(step.book, [], 200_000 + DEBOUNCE - 1, DEBOUNCE);
    expect(step.transitions).toEqual([]);
    step = updateBook(step.book, [], 200_000 + DEBOUNCE, DEBOUNCE);
    expect(step.transitions).toEqual([{ kind: 'cleared', code: 'battery_hot', message: 'hot' }]);
    expect(step.book).toEqual([]);
  });
});

describe('flaps through the tracker', () => {
  const UDID = 'R58M1234ABC';
  const ready = [{ key: UDID, udid: UDID, state: 'ready' as const, platform: 'android' as const, name: 'Pixel 8' }];

  function tracker(now: () => number, initial: PersistedDevice[] = [], persisted?: PersistedDevice[][]) {
    return new DeviceTracker({
      initial,
      persist: (devices) => {
        persisted?.push(devices);
      },

      now,
      log: memoryLogger(),
    });
  }

  it('counts drops from online or utilizing in the last hour, keeps them across a restart, forgets them after the hour', async () => {
    let now = 1_000_000;
    const persisted: PersistedDevice[][] = [];
    const first = tracker(() => now, [], persisted);
    first.reconcile();
    for (let i = 0; i < 12; i++) {
      first.reportPresences('adb', ready);
      now += 1000;
      first.reportPresences('adb', i % 2 ? [] : [{ ...ready[0], state: 'unusable', detail: 'offline' }]);
      now += 1000;
    }
    // Back from offline to online is not a flap; online → offline and online → unplugged are.
    expect(first.device(UDID)?.health.flapsLastHour).toBe(12);
    // A session ending (utilizing → online) is not a flap either.
    first.reportPresences('adb', ready);
    first.reportSessions('appium', [{ id: 's1', udid: UDID, label: 'job', expiresAt: null }]);
    first.reportSessions('appium', []);
    expect(first.device(UDID)?.health.flapsLastHour).toBe(12);
    first.flush();
    await first.shutdown();

    const second = tracker(() => now, persisted.at(-1));
    expect(second.device(UDID)?.health.flapsLastHour).toBe(12);
    now += FLAP_WINDOW_MS - 12_000;
    expect(second.device(UDID)?.health.flapsLastHour).toBe(6);
    now += 12_000;
    expect(second.device(UDID)?.health.flapsLastHour).toBe(0);
  });
});
