/**
 * Phones on the USB bus, whatever adb and usbmuxd think of them: a phone with debugging off or
 * trust not granted is only here, and the tracker turns "attached and nobody claims it" into
 * offline.
 *
 * The `usb` package 3.x is nusb (Rust) underneath: it lists `/sys/bus/usb/devices` and hears
 * hotplug on the udev netlink group (udevd's rebroadcast, libudev header, group 2; the kernel's
 * own group-1 uevents are ignored). We use its native binding (`usb/index.js`: `nativeGetDevices`,
 * `Emitter`), the layer its WebUSB object is built on, because that object cannot fail safely:
 * its `addEventListener` lists devices with no rejection handler (an unhandled rejection kills
 * Node where `/sys/bus/usb` is absent) and rethrows a failed hotplug subscription from a timer.
 * Here every native promise is ours to catch; a failure turns the source `unavailable`, once.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import type { DeviceSink, DeviceSource, Presence, SourceState } from '../model.js';
import { phoneMaker } from '../vendors.js';

type UsbNative = typeof import('usb/index.js');
type NativeDevice = import('usb/index.js').UsbDevice;
type NativeEmitter = import('usb/index.js').Emitter;

/** Where the library lists devices, whatever `sysfsRoot` says. */
const LIBRARY_DEVICES_DIR = '/sys/bus/usb/devices';
/** Without hotplug (netlink refused), the bus is listed this often instead. */
const POLL_MS = 2000;
/** With hotplug, a full listing now and then repairs a uevent lost to a full socket buffer. */
const RESYNC_MS = 60_000;

export interface UsbSourceOptions {
  sink: DeviceSink;
  log: Logger;
  /** Where sysfs is mounted; the library itself always reads `/sys`. */
  sysfsRoot?: string;
  /** How often the bus is listed in full besides hotplug (default 60 s). */
  resyncMs?: number;
}

export class UsbSource implements DeviceSource {
  readonly name = 'usb' as const;
  private readonly sink: DeviceSink;
  private readonly log: Logger;
  private readonly devicesDir: string;
  private readonly resyncMs: number;

  private native: UsbNative | null = null;
  private emitter: NativeEmitter | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  /** Every device on the bus by the library's handle; null for one that is not a phone. */
  private devices = new Map<string, Presence | null>();
  /** Hotplug events and listings apply in arrival order, one at a time. */
  private queue: Promise<void> = Promise.resolve();
  private lastReport: string | null = null;
  /** Things said once: a phone without serial number (by key), a failed re-listing. */
  private said = new Set<string>();
  private current: SourceState = { state: 'off', detail: 'not started' };

  constructor(options: UsbSourceOptions) {
    this.sink = options.sink;
    this.log = options.log;
    this.devicesDir = join(options.sysfsRoot ?? '/sys', 'bus', 'usb', 'devices');
    this.resyncMs = options.resyncMs ?? RESYNC_MS;
  }

  async boot(): Promise<void> {
    this.stopped = false;
    this.devices.clear();
    this.lastReport = null;

    const missing = await this.busProblem();
    if (missing) return this.giveUp(missing);
    try {
      this.native = createRequire(import.meta.url)('usb/index.js') as UsbNative;
    } catch (error) {
      return this.giveUp(`the usb package's native module did not load (${messageOf(error)})`);
    }

    // Events that arrive while the bus is listed wait behind the listing, then apply in order.
    let listed!: () => void;
    this.queue = new Promise<void>((resolve) => (listed = resolve));

    // Subscribing before listing means a phone plugged in meanwhile is not missed.
    const hotplugProblem = await this.subscribe(this.native);
    let list: NativeDevice[];
    try {
      list = await this.native.nativeGetDevices();
    } catch (error) {
      listed();
      await this.unsubscribe();
      return this.giveUp(describeListingFailure(error, LIBRARY_DEVICES_DIR));
    }
    try {
      await this.apply(list, true);
    } finally {
      listed();
    }
    if (this.stopped) return;

    if (hotplugProblem) {
      this.current = {
        state: 'running',
        detail: `polling the USB bus every ${POLL_MS / 1000} s (no hotplug: ${hotplugProblem})`,
      };
      this.log.warn(`usb: no hotplug events (${hotplugProblem}); polling the bus every ${POLL_MS / 1000} s instead`);
      this.schedule(POLL_MS);
    } else {
      this.current = { state: 'running', detail: 'watching the USB bus (udev hotplug)' };
      this.schedule(this.resyncMs);
    }
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // The hotplug listener holds Node's event loop open until it is removed.
    await this.unsubscribe();
    await this.queue;
    this.current = { state: 'off', detail: 'stopped' };
  }

  status(): SourceState {
    return { ...this.current };
  }

  private async busProblem(): Promise<string | null> {
    try {
      const info = await stat(this.devicesDir);
      if (!info.isDirectory()) return `${this.devicesDir} is not a directory`;
      await readdir(this.devicesDir);
      return null;
    } catch (error) {
      return describeListingFailure(error, this.devicesDir);
    }
  }

  private giveUp(reason: string): void {
    this.current = { state: 'unavailable', detail: reason };
    this.log.warn(`usb: USB watching is off: ${reason}`);
    // It sees nothing, and saying so lets the tracker settle without waiting for this source.
    this.report([]);
  }

  /** Subscribes to hotplug; returns why it could not, or null. */
  private async subscribe(native: UsbNative): Promise<string | null> {
    try {
      const emitter = new native.Emitter();
      this.emitter = emitter;
      await emitter.addAttach((device) => this.enqueue(() => this.attached(device)));
      await emitter.addDetach((handle) => this.enqueue(() => this.detached(handle)));
      return null;
    } catch (error) {
      await this.unsubscribe();
      return messageOf(error);
    }
  }

  private async unsubscribe(): Promise<void> {
    const emitter = this.emitter;
    this.emitter = null;
    if (!emitter) return;
    await emitter.removeAttach().catch(() => {});
    await emitter.removeDetach().catch(() => {});
  }

  private enqueue(step: () => Promise<void>): void {
    this.queue = this.queue.then(step).catch((error) => this.log.error(`usb: ${messageOf(error)}`));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.enqueue(async () => {
        try {
          await this.relist();
        } finally {
          this.schedule(ms);
        }
      });
    }, ms);
    // A watcher never keeps the process alive on its own.
    this.timer.unref();
  }

  private async relist(): Promise<void> {
    if (this.stopped || !this.native) return;
    let list: NativeDevice[];
    try {
      list = await this.native.nativeGetDevices();
    } catch (error) {
      this.sayOnce('relist', `usb: could not list the USB bus (${messageOf(error)}); keeping the last list`);
      return;
    }
    this.said.delete('relist');
    await this.apply(list, false);
  }

  /** Makes `list` (a full listing) the known devices, then reports. */
  private async apply(list: readonly NativeDevice[], first: boolean): Promise<void> {
    const next = new Map<string, Presence | null>();
    for (const device of list) {
      // A device known already keeps its presence: its sysfs folder was read when it arrived.
      next.set(
        device.handle,
        this.devices.has(device.handle) ? (this.devices.get(device.handle) ?? null) : await this.presenceOf(device),
      );
    }
    this.devices = next;
    this.report(this.presences(), first);
  }

  private async attached(device: NativeDevice): Promise<void> {
    if (this.stopped) return;
    this.devices.set(device.handle, await this.presenceOf(device));
    this.report(this.presences());
  }

  private async detached(handle: string): Promise<void> {
    if (this.stopped || !this.devices.has(handle)) return;
    this.devices.delete(handle);
    this.report(this.presences());
  }

  private presences(): Presence[] {
    return [...this.devices.values()]
      .filter((p): p is Presence => p !== null)
      .sort((a, b) => a.key.localeCompare(b.key));
  }

  private report(presences: Presence[], force = false): void {
    if (this.stopped) return;
    const text = JSON.stringify(presences);
    if (!force && text === this.lastReport) return;
    this.lastReport = text;
    this.sink.reportPresences('usb', presences);
  }

  /** The phone's presence, or null for any other device (or a phone we cannot identify). */
  private async presenceOf(device: NativeDevice): Promise<Presence | null> {
    // Root hubs have no port chain; the library already leaves them out.
    if (device.ports.length === 0) return null;
    const busnum = Number.parseInt(device.bus, 10);
    const sysName = `${busnum}-${device.ports.join('.')}`;
    const dir = join(this.devicesDir, sysName);
    const maker = phoneMaker({
      vendorId: device.vendorId,
      productId: device.productId,
      deviceClass: device.deviceClass,
      interfaceClasses: await interfaceClasses(dir, sysName),
    });
    if (!maker) return null;

    const key = `usb:${sysName}`;
    // The kernel reads the serial string descriptor when the device enumerates and publishes it
    // as the `serial` attribute, readable by anyone and without opening the device (which would
    // need write access to /dev/bus/usb and could disturb adb or usbmuxd). The library's own
    // serialNumber comes from the same attribute; it is the fallback for a sysfs we cannot read.
    // With neither, the device has no serial string: there is nothing to match it to adb/usbmuxd by.
    const serial = (await readAttribute(dir, 'serial')) ?? nonEmpty(safe(() => device.serialNumber));
    if (!serial) {
      this.sayOnce(
        `noserial:${key}`,
        `usb: ${maker.maker} device at ${key} (${hex(device.vendorId)}:${hex(device.productId)}) has no USB serial number; ignored`,
      );
      return null;
    }
    const product = (await readAttribute(dir, 'product')) ?? nonEmpty(safe(() => device.productName));
    return { key, udid: serial, state: 'attached', platform: maker.platform, ...(product ? { name: product } : {}) };
  }

  private sayOnce(topic: string, message: string): void {
    if (this.said.has(topic)) return;
    this.said.add(topic);
    this.log.warn(message);
  }
}

/** Interface classes from the interface folders (`1-2:1.0`) next to the device's attributes. */
async function interfaceClasses(dir: string, sysName: string): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return [];
  }
  const classes: number[] = [];
  for (const entry of entries) {
    if (!entry.startsWith(`${sysName}:`)) continue;
    const text = await readAttribute(join(dir, entry), 'bInterfaceClass');
    const value = text === null ? Number.NaN : Number.parseInt(text, 16);
    if (Number.isInteger(value)) classes.push(value);
  }
  return classes;
}

async function readAttribute(dir: string, name: string): Promise<string | null> {
  try {
    return nonEmpty(await readFile(join(dir, name), 'utf8'));
  } catch {
    return null;
  }
}

function nonEmpty(text: string | null | undefined): string | null {
  const trimmed = text?.trim();
  return trimmed ? trimmed : null;
}

function safe<T>(read: () => T): T | null {
  try {
    return read();
  } catch {
    return null;
  }
}

function hex(id: number): string {
  return id.toString(16).padStart(4, '0');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describeListingFailure(error: unknown, dir: string): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const message = messageOf(error);
  if (code === 'ENOENT' || /not found|errno 2\b/.test(message)) {
    return `no USB bus visible (${dir} is missing, as in a container or a VM without USB); phones are still seen through adb and usbmuxd`;
  }
  if (code === 'EACCES' || code === 'EPERM' || /permission denied/i.test(message)) {
    return `cannot read ${dir} (permission denied); phones are still seen through adb and usbmuxd`;
  }
  return `the usb library could not list the bus (${message})`;
}
