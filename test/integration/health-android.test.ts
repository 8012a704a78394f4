/**
 * Android battery readings through the real adb server: emulated phones answering `dumpsys battery`
 * in several releases' layouts, read by the health monitor through the real adb source and tracker.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { skipReason } from '../../scripts/requirements.mjs';
import { DEFAULT_HEALTH_SETTINGS } from '../../electron/core/api/schemas.js';
import { HealthMonitor, type HealthTransition } from '../../electron/core/devices/health/monitor.js';
import { AdbBatteryReader } from '../../electron/core/devices/health/readers.js';
import { AdbSource } from '../../electron/core/devices/sources/adb.js';
import { DeviceTracker } from '../../electron/core/devices/tracker.js';
import { memoryLogger } from '../../electron/core/log.js';
import { waitFor } from '../helpers/wait.js';
import { AdbServer } from '../peers/adb-server.js';
import { EmulatedAdbd, type AdbdOptions } from '../peers/adbd.js';
import { ANDROID_FORMATS } from '../peers/dumpsys-battery.js';

describe.skipIf(skipReason('adb'))('Android battery readings over adb', () => {
  let server: AdbServer;
  const cleanups: (() => Promise<unknown> | void)[] = [];

  beforeAll(async () => {
    server = await AdbServer.start();
  });
  afterAll(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    while (cleanups.length) {
      try {
        await cleanups.pop()!();
      } catch {
        // A device that is already gone cannot be disconnected.
      }
    }
  });

  async function phone(options: AdbdOptions): Promise<EmulatedAdbd> {
    const adbd = await EmulatedAdbd.start(options);
    cleanups.push(() => adbd.close());
    await server.connect(adbd.serial);
    cleanups.push(() => server.disconnect(adbd.serial));
    return adbd;
  }

  async function engine(options: { timeoutMs?: number; intervalMs?: number } = {}) {
    const log = memoryLogger();
    const tracker = new DeviceTracker({ initial: [], persist: () => {}, log });
    const adb = new AdbSource({ host: '127.0.0.1', port: server.port, sink: tracker, log, pollMs: 250 });
    const monitor = new HealthMonitor({
      host: tracker,
      readers: { adb: new AdbBatteryReader({ host: '127.0.0.1', port: server.port }) },
      thresholds: () => DEFAULT_HEALTH_SETTINGS,
      timeoutMs: options.timeoutMs ?? 10_000,
      intervalMs: options.intervalMs ?? 60_000,
      debounceMs: 0,
      log,
    });
    const transitions: HealthTransition[] = [];
    monitor.on('transition', (t) => transitions.push(t));
    await tracker.boot();
    await adb.boot();
    await monitor.boot();
    cleanups.push(async () => {
      await monitor.shutdown();
      await adb.shutdown();
      await tracker.shutdown();
    });
    return { tracker, monitor, transitions };
  }

  it('reads each release layout when the phone comes online', async () => {
    const phones = await Promise.all(
      ANDROID_FORMATS.map((format, i) =>
        phone({
          serialno: `BATT${i}`,
          batteryFormat: format,
          battery: { ac: i % 2 === 0, usb: i % 2 === 1, level: 50 + i, temperature: 300 + i, status: 2 },
        }),
      ),
    );
    const { tracker } = await engine();
    for (const [i, adbd] of phones.entries()) {
      const health = await waitFor(`the reading of ${ANDROID_FORMATS[i]}`, () => {
        const h = tracker.device(adbd.serialno)?.health;
        return h?.readAt ? h : null;
      });
      expect(health).toMatchObject({
        batteryLevel: 50 + i,
        batteryTemp: (300 + i) / 10,
        charging: true,
        power: i % 2 === 0 ? 'ac' : 'usb',
        batteryHealth: 'good',
        readError: null,
      });
      expect(adbd.dumpsysCalls).toBe(1);
    }
  });

  it('a phone whose dumpsys hangs stays online, times out alone, and the others are read', async () => {
    const hung = await phone({ serialno: 'HUNG1', battery: { level: 40 } });
    hung.dumpsysDelayMs = 60_000;
    const fine = await phone({ serialno: 'FINE1', battery: { level: 70 } });
    const { tracker } = await engine({ timeoutMs: 1500 });
    const read = await waitFor('the good phone', () => tracker.device(fine.serialno)?.health.readAt);
    expect(read).toBeTruthy();
    expect(tracker.device(fine.serialno)?.health.batteryLevel).toBe(70);
    // The good phone's reading did not wait for the hung one, whose status comes in on its own.
    await waitFor('the hung phone online', () => tracker.device(hung.serialno)?.status === 'online');
    const failed = await waitFor('the hung phone to time out', () => tracker.device(hung.serialno)?.health.readError);
    expect(failed).toBe('no answer within 1500 ms');
    expect(tracker.device(hung.serialno)?.health.batteryLevel).toBeNull();
  });

  it('a hot phone raises battery_hot, cooling down clears it', async () => {
    const adbd = await phone({ serialno: 'HOT1', battery: { temperature: 471 } });
    const { tracker, monitor, transitions } = await engine();
    await waitFor('battery_hot', () => transitions.find((t) => t.code === 'battery_hot' && t.kind === 'warning'));
    expect(tracker.device(adbd.serialno)?.health.warnings).toEqual([
      { code: 'battery_hot', message: 'Battery at 47.1 °C (above 45 °C)', since: expect.any(String) },
    ]);
    adbd.battery = { temperature: 300 };
    await monitor.readNow(adbd.serialno);
    // With no debounce, the next look clears it.
    monitor.review();
    expect(transitions.map((t) => `${t.kind}:${t.code}`)).toEqual(['warning:battery_hot', 'cleared:battery_hot']);
    expect(tracker.device(adbd.serialno)?.health.warnings).toEqual([]);
  });
});
