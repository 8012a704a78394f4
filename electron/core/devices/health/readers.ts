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
