/**
 * The battery readers: `dumpsys battery` over adb for Android, the lockdown battery domain over
 * usbmuxd for iOS. Each reading is its own connection, abandoned when the monitor's signal aborts.
 */
import { createRequire } from 'node:module';
import type { Client } from '@devicefarmer/adbkit';
import { runShell } from '../sources/adb-shell.js';
import type { TransportLink } from '../tracker.js';
import { parseDumpsysBattery, readingFromLockdown, type BatteryReading } from './battery.js';
import { readLockdownDomain } from './lockdown.js';
import type { BatteryReader } from './monitor.js';

const { Adb } = createRequire(import.meta.url)('@devicefarmer/adbkit') as typeof import('@devicefarmer/adbkit');

/** A name on no PATH: adbkit must never start an adb server on Labhook's behalf (see sources/adb.ts). */
const NO_AUTOSTART_BIN = 'labhook-never-starts-adb';

export class AdbBatteryReader implements BatteryReader {
  private readonly client: Client;

  constructor(options: { host: string; port: number }) {
    this.client = Adb.createClient({ host: options.host, port: options.port, bin: NO_AUTOSTART_BIN });
    // Socket errors also fail the call that owns the socket, which is where they are handled.
    this.client.on('error', () => {});
  }

  async read(link: TransportLink, _udid: string, signal: AbortSignal): Promise<BatteryReading> {
    const run = runShell(this.client, link.key, 'dumpsys battery');
    const abort = () => run.abandon();
    signal.addEventListener('abort', abort, { once: true });
    try {
      const output = (await run.result).toString('utf8');
      const reading = parseDumpsysBattery(output);
      if (Object.values(reading).every((value) => value === null))
        throw new Error(`dumpsys battery said nothing readable: ${output.trim().split('\n')[0]?.slice(0, 120) ?? ''}`);
      return reading;
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }
}

export const BATTERY_DOMAIN = 'com.apple.mobile.battery';

export class LockdownBatteryReader implements BatteryReader {
  constructor(private readonly socketPath: string) {}

  async read(link: TransportLink, udid: string, signal: AbortSignal): Promise<BatteryReading> {
    const deviceId = Number(/^usbmux:(\d+)$/.exec(link.key)?.[1]);
    if (!Number.isInteger(deviceId)) throw new Error(`no usbmuxd device id in ${link.key}`);
    const domain = await readLockdownDomain({ socketPath: this.socketPath, deviceId, udid }, BATTERY_DOMAIN, signal);
    return readingFromLockdown(domain);
  }
}

/**
 * Batteries for the `--demo` phones: each charges from 20 % to 100 % and drains again over two
 * hours, from its own starting point, and a few show a problem so the warnings can be seen: every
 * 5th phone runs hot, every 7th sits on a USB port that does not charge it.
 */
export class DemoBatteryReader implements BatteryReader {
  constructor(private readonly now: () => number = Date.now) {}

  async read(_link: TransportLink, udid: string): Promise<BatteryReading> {
    return simulatedBattery(udid, this.now());
  }
}

const DEMO_PERIOD_MS = 2 * 60 * 60 * 1000;

export function simulatedBattery(udid: string, now: number): BatteryReading {
  const n = Number(/(\d+)$/.exec(udid)?.[1] ?? 1);
  if (n % 7 === 0) return { level: 9, temperature: 30.5, charging: false, power: 'usb', health: 'good' };
  const t = (now / DEMO_PERIOD_MS + n * 0.137) % 1;
  const charging = t < 0.5;
  // Up in the first half of the period, down in the second; warmer while charging.
  const level = Math.round(charging ? 20 + 160 * t : 100 - 160 * (t - 0.5));
  const warmth = charging ? 2 * t : 2 * (1 - t);
  const temperature = n % 5 === 0 ? 47.5 : Math.round((29 + 6 * warmth) * 10) / 10;
  return { level, temperature, charging, power: charging ? 'usb' : 'battery', health: 'good' };
}
