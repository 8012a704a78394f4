/**
 * A USB bus for the real `usb` library, without USB hardware. As root, `unshare -m -n` gives a
 * child process its own mount and network namespaces; in them a tmpfs over `/sys/bus` (and one
 * over `/sys/devices`) holds device folders written by the test in the kernel's layout, and
 * udev-format uevents go out on the NETLINK_KOBJECT_UEVENT udev group (2) of that network
 * namespace only, so nothing else on the host (a real udevd listener, another test run) hears them.
 *
 * What the library (nusb 0.2 underneath `usb` 3.1) needs, found by reading it: a listing reads
 * `/sys/bus/usb/devices/*` (busnum, devnum, devpath, idVendor, idProduct, bcdDevice, version,
 * bDeviceClass/SubClass/Protocol, bMaxPacketSize0 required; speed, manufacturer, product, serial
 * optional; interface folders `1-2:1.0`); hotplug binds a netlink socket to group 2, accepts a
 * datagram only if its source group is 2 and it starts with libudev's header, wants
 * SUBSYSTEM=usb, DEVTYPE=usb_device, ACTION add|remove, BUSNUM, DEVNUM and DEVPATH, and on `add`
 * reads the device's attributes at `/sys` + DEVPATH. It links no libudev and never opens
 * `/dev/bus/usb` or `/run/udev` to list or watch, so those need no stand-in.
 *
 * The UsbSource runs in usb-child.mjs (from out/); the test writes sysfs through
 * `/proc/<child>/root` and sends uevents with uevent-sender.py, run by nsenter in the child's
 * network namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Presence, SourceState, StatusChange } from '../../electron/core/devices/model.js';

const here = dirname(fileURLToPath(import.meta.url));
const CHILD = join(here, 'usb-child.mjs');
const SENDER = join(here, 'uevent-sender.py');
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
/** Where the fake host controller sits; every fake device hangs off one of its root hubs. */
const CONTROLLER = '/devices/pci0000:00/0000:00:14.0';
const USB_MAJOR = 189;

/** What a machine lacks for this harness, beyond root and unshare (which requirements.mjs checks). */
export function harnessProblem(): string | null {
  if (!existsSync('/usr/bin/nsenter')) return 'nsenter is missing (Debian package "util-linux")';
  if (!existsSync('/usr/bin/python3') && !existsSync('/usr/local/bin/python3'))
    return 'python3 is missing (sends the netlink uevents)';
  return null;
}

export interface UsbInterfaceSpec {
  class: number;
  subclass: number;
  protocol: number;
}

export interface FakeUsbDevice {
  busnum: number;
  /** Port chain on the root hub, e.g. `3` or `3.1` (the sysfs `devpath`). */
  devpath: string;
  devnum: number;
  vendorId: number;
  productId: number;
  serial?: string;
  product?: string;
  manufacturer?: string;
  deviceClass?: number;
  interfaces?: UsbInterfaceSpec[];
}

export interface Report {
  /** Epoch milliseconds with a fraction, in the child. */
  at: number;
  presences: Presence[];
}

/** The kernel's name for a device: `<busnum>-<devpath>`. */
export function sysName(device: FakeUsbDevice): string {
  return `${device.busnum}-${device.devpath}`;
}

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');
const hex2 = (n: number) => n.toString(16).padStart(2, '0');
const pad3 = (n: number) => String(n).padStart(3, '0');

/** A phone with debugging on offers the adb interface (vendor class 0xff, subclass 0x42, protocol 1). */
function interfacesOf(device: FakeUsbDevice): UsbInterfaceSpec[] {
  return device.interfaces ?? [{ class: 0xff, subclass: 0x42, protocol: 1 }];
}

/** The device folder's path below /sys, as DEVPATH names it (no parent hubs are modelled). */
function devPath(device: FakeUsbDevice): string {
  return `${CONTROLLER}/usb${device.busnum}/${sysName(device)}`;
}

/** The binary `descriptors` attribute: device descriptor, then the active configuration's descriptors. */
function descriptors(device: FakeUsbDevice, interfaces: UsbInterfaceSpec[]): Buffer {
  const dev = Buffer.from([
    18,
    1,
    0x00,
    0x02,
    device.deviceClass ?? 0,
    0,
    0,
    64,
    0,
    0,
    0,
    0,
    0x00,
    0x01,
    device.manufacturer ? 1 : 0,
    device.product ? 2 : 0,
    device.serial ? 3 : 0,
    1,
  ]);
  dev.writeUInt16LE(device.vendorId, 8);
  dev.writeUInt16LE(device.productId, 10);
  const ifaces = interfaces.map((spec, i) => Buffer.from([9, 4, i, 0, 0, spec.class, spec.subclass, spec.protocol, 0]));
  const total = 9 + 9 * ifaces.length;
  const config = Buffer.from([9, 2, total & 0xff, total >> 8, interfaces.length, 1, 0, 0x80, 250]);
  return Buffer.concat([dev, config, ...ifaces]);
}

/** Attribute files of one device folder, as the kernel's usb core writes them. */
function deviceAttributes(device: FakeUsbDevice, interfaces: UsbInterfaceSpec[]): Record<string, string | Buffer> {
  const typeTriple = `${device.deviceClass ?? 0}/0/0`;
  const attributes: Record<string, string | Buffer> = {
    busnum: `${device.busnum}\n`,
    devnum: `${device.devnum}\n`,
    devpath: `${device.devpath}\n`,
    idVendor: `${hex4(device.vendorId)}\n`,
    idProduct: `${hex4(device.productId)}\n`,
    bcdDevice: '0100\n',
    version: ' 2.00\n',
    bDeviceClass: `${hex2(device.deviceClass ?? 0)}\n`,
    bDeviceSubClass: '00\n',
    bDeviceProtocol: '00\n',
    bMaxPacketSize0: '64\n',
    bNumConfigurations: '1\n',
    bConfigurationValue: '1\n',
    bNumInterfaces: `${String(interfaces.length).padStart(2)}\n`,
    bmAttributes: '80\n',
    speed: '480\n',
    maxchild: '0\n',
    descriptors: descriptors(device, interfaces),
    uevent: [
      `MAJOR=${USB_MAJOR}`,
      `MINOR=${(device.busnum - 1) * 128 + device.devnum - 1}`,
      `DEVNAME=bus/usb/${pad3(device.busnum)}/${pad3(device.devnum)}`,
      'DEVTYPE=usb_device',
      'DRIVER=usb',
      `PRODUCT=${device.vendorId.toString(16)}/${device.productId.toString(16)}/100`,
      `TYPE=${typeTriple}`,
      `BUSNUM=${pad3(device.busnum)}`,
      `DEVNUM=${pad3(device.devnum)}`,
      '',
    ].join('\n'),
  };
  if (device.manufacturer !== undefined) attributes.manufacturer = `${device.manufacturer}\n`;
  if (device.product !== undefined) attributes.product = `${device.product}\n`;
  if (device.serial !== undefined) attributes.serial = `${device.serial}\n`;
  return attributes;
}

function interfaceAttributes(device: FakeUsbDevice, spec: UsbInterfaceSpec, index: number): Record<string, string> {
  return {
    bInterfaceNumber: `${hex2(index)}\n`,
    bAlternateSetting: ' 0\n',
    bNumEndpoints: '02\n',
    bInterfaceClass: `${hex2(spec.class)}\n`,
    bInterfaceSubClass: `${hex2(spec.subclass)}\n`,
    bInterfaceProtocol: `${hex2(spec.protocol)}\n`,
    uevent: `DEVTYPE=usb_interface\nPRODUCT=${device.vendorId.toString(16)}/${device.productId.toString(16)}/100\nTYPE=${device.deviceClass ?? 0}/0/0\nINTERFACE=${spec.class}/${spec.subclass}/${spec.protocol}\n`,
  };
}

/** What udevd broadcasts for a usb_device, after its rules ran. */
function deviceUevent(action: 'add' | 'remove', device: FakeUsbDevice, seqnum: number): Record<string, string> {
  return {
    ACTION: action,
    DEVPATH: devPath(device),
    SUBSYSTEM: 'usb',
    DEVNAME: `/dev/bus/usb/${pad3(device.busnum)}/${pad3(device.devnum)}`,
    DEVTYPE: 'usb_device',
    PRODUCT: `${device.vendorId.toString(16)}/${device.productId.toString(16)}/100`,
    TYPE: `${device.deviceClass ?? 0}/0/0`,
    BUSNUM: pad3(device.busnum),
    DEVNUM: pad3(device.devnum),
    SEQNUM: String(seqnum),
    USEC_INITIALIZED: String(Math.round(performance.now() * 1000)),
    MAJOR: String(USB_MAJOR),
    MINOR: String((device.busnum - 1) * 128 + device.devnum - 1),
    ID_VENDOR_ID: hex4(device.vendorId),
    ID_MODEL_ID: hex4(device.productId),
    ...(device.serial ? { ID_SERIAL_SHORT: device.serial } : {}),
  };
}

function interfaceUevent(
  action: 'add' | 'remove',
  device: FakeUsbDevice,
  spec: UsbInterfaceSpec,
  index: number,
  seqnum: number,
): Record<string, string> {
  return {
    ACTION: action,
    DEVPATH: `${devPath(device)}/${sysName(device)}:1.${index}`,
    SUBSYSTEM: 'usb',
    DEVTYPE: 'usb_interface',
    PRODUCT: `${device.vendorId.toString(16)}/${device.productId.toString(16)}/100`,
    TYPE: `${device.deviceClass ?? 0}/0/0`,
    INTERFACE: `${spec.class}/${spec.subclass}/${spec.protocol}`,
    SEQNUM: String(seqnum),
  };
}

type ChildMessage =
  | { type: 'up'; pid: number }
  | { type: 'booted' | 'status' | 'stopped'; status: SourceState }
  | { type: 'report'; at: number; presences: Presence[] }
  | { type: 'log'; level: string; message: string }
  | { type: 'change'; at: number; change: StatusChange };

export interface UsbNamespaceOptions {
  /** `absent`: an empty tmpfs over /sys/bus, as on a machine (container, VM) without USB. */
  bus: 'present' | 'absent';
  /** The source's own sysfs root (its reads of serial, product, interfaces; the library always reads /sys). */
  sysfsRoot?: string;
  /** The source's full re-listing interval. */
  resyncMs?: number;
  /** Also run the real tracker on the reports, with this USB-only grace period, and collect its changes. */
  trackerGraceMs?: number;
}

export class UsbNamespace {
  readonly reports: Report[] = [];
  readonly logs: string[] = [];
  readonly changes: StatusChange[] = [];
  stderr = '';
  private readonly messages: ChildMessage[] = [];
  private waiters: Array<() => void> = [];
  private sender: ChildProcess | null = null;
  private senderLines: string[] = [];
  private senderWaiters: Array<() => void> = [];
  private seqnum = 1000;
  private exitedWith: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      let message: ChildMessage;
      try {
        message = JSON.parse(line) as ChildMessage;
      } catch {
        this.stderr += `(stdout) ${line}\n`;
        return;
      }
      this.messages.push(message);
      if (message.type === 'report') this.reports.push({ at: message.at, presences: message.presences });
      if (message.type === 'log') this.logs.push(`${message.level}: ${message.message}`);
      if (message.type === 'change') this.changes.push(message.change);
      this.wake();
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitedWith = { code, signal };
        this.wake();
        resolve();
      }),
    );
  }

  /** Starts the namespace and the child (the source is not booted yet, so the test can place devices first). */
  static async start(options: UsbNamespaceOptions): Promise<UsbNamespace> {
    const mounts =
      options.bus === 'present'
        ? 'mount -t tmpfs -o mode=755 labhook-sysbus /sys/bus && mount -t tmpfs -o mode=755 labhook-sysdevices /sys/devices && mkdir -p /sys/bus/usb/devices'
        : 'mount -t tmpfs -o mode=755 labhook-sysbus /sys/bus';
    const child = spawn(
      'unshare',
      [
        '--mount',
        '--net',
        '--propagation',
        'private',
        'sh',
        '-c',
        `set -e; ${mounts}; exec "$0" "$1" "$2" "$3"`,
        process.execPath,
        CHILD,
        options.sysfsRoot ?? '',
        options.resyncMs ? String(options.resyncMs) : '',
      ],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: {
          ...process.env,
          LABHOOK_TRACKER_GRACE_MS: options.trackerGraceMs === undefined ? '' : String(options.trackerGraceMs),
        },
      },
    );
    const ns = new UsbNamespace(child);
    await ns.next((m) => m.type === 'up', 10_000, 'the child did not start in its namespace');
    if (options.bus === 'present') await ns.writeRootHub(1);
    await ns.startSender();
    return ns;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** A path inside the child's mount namespace, reachable from ours. */
  private inChild(path: string): string {
    return `/proc/${this.pid}/root${path}`;
  }

  private async writeFolder(path: string, attributes: Record<string, string | Buffer>): Promise<void> {
    await mkdir(this.inChild(path), { recursive: true });
    for (const [name, value] of Object.entries(attributes)) await writeFile(this.inChild(`${path}/${name}`), value);
  }

  private async writeRootHub(busnum: number): Promise<void> {
    const hub: FakeUsbDevice = {
      busnum,
      devpath: '0',
      devnum: 1,
      vendorId: 0x1d6b,
      productId: 0x0002,
      deviceClass: 9,
      product: 'EHCI Host Controller',
      manufacturer: 'Linux 6.1.0 ehci_hcd',
      serial: '0000:00:14.0',
      interfaces: [{ class: 9, subclass: 0, protocol: 0 }],
    };
    const path = `/sys${CONTROLLER}/usb${busnum}`;
    await this.writeFolder(path, deviceAttributes(hub, hub.interfaces!));
    await symlink(
      `../../../devices/pci0000:00/0000:00:14.0/usb${busnum}`,
      this.inChild(`/sys/bus/usb/devices/usb${busnum}`),
    );
  }

  /** Writes the device's sysfs folder (with interface folders) and its /sys/bus/usb/devices link. */
  async writeDevice(device: FakeUsbDevice): Promise<void> {
    const interfaces = interfacesOf(device);
    const path = `/sys${devPath(device)}`;
    await this.writeFolder(path, deviceAttributes(device, interfaces));
    for (const [index, spec] of interfaces.entries())
      await this.writeFolder(`${path}/${sysName(device)}:1.${index}`, interfaceAttributes(device, spec, index));
    await symlink(`../../..${devPath(device)}`, this.inChild(`/sys/bus/usb/devices/${sysName(device)}`));
  }

  async removeDevice(device: FakeUsbDevice): Promise<void> {
    await rm(this.inChild(`/sys/bus/usb/devices/${sysName(device)}`), { force: true });
    await rm(this.inChild(`/sys${devPath(device)}`), { recursive: true, force: true });
  }

  /** Plugs a device the way the kernel and udevd do it: folder first, then the device's and its interfaces' uevents. Returns when the device uevent went out. */
  async plug(device: FakeUsbDevice): Promise<number> {
    await this.writeDevice(device);
    const sentAt = nowMs();
    await this.send(deviceUevent('add', device, this.seqnum++));
    for (const [index, spec] of interfacesOf(device).entries())
      await this.send(interfaceUevent('add', device, spec, index, this.seqnum++));
    return sentAt;
  }

  /** Unplugs: interfaces' remove uevents, the folder goes, then the device's remove uevent. */
  async unplug(device: FakeUsbDevice): Promise<number> {
    for (const [index, spec] of interfacesOf(device).entries())
      await this.send(interfaceUevent('remove', device, spec, index, this.seqnum++));
    await this.removeDevice(device);
    const sentAt = nowMs();
    await this.send(deviceUevent('remove', device, this.seqnum++));
    return sentAt;
  }

  async boot(): Promise<SourceState> {
    this.child.stdin!.write('boot\n');
    const message = await this.next((m) => m.type === 'booted', 10_000, 'the source did not finish booting');
    return (message as { status: SourceState }).status;
  }

  /** Asks the child; a round trip also proves it is still alive and its event loop turns. */
  async status(): Promise<SourceState> {
    const from = this.messages.length;
    this.child.stdin!.write('status\n');
    const message = await this.next((m, i) => m.type === 'status' && i >= from, 5000, 'no status answer');
    return (message as { status: SourceState }).status;
  }

  /** Waits for a report after index `from` matching `test`. */
  async waitForReport(test: (presences: Presence[]) => boolean, from = 0, timeoutMs = 5000): Promise<Report> {
    const found = () => this.reports.slice(from).find((r) => test(r.presences));
    await this.until(
      () => found() !== undefined,
      timeoutMs,
      () =>
        `no matching USB report within ${timeoutMs} ms; reports: ${JSON.stringify(this.reports.slice(from))}; logs: ${this.logs.join(' | ')}`,
    );
    return found()!;
  }

  /** Waits for a tracker change matching `test` (needs `trackerGraceMs`). */
  async waitForChange(test: (change: StatusChange) => boolean, timeoutMs = 5000): Promise<StatusChange> {
    const found = () => this.changes.find(test);
    await this.until(
      () => found() !== undefined,
      timeoutMs,
      () => `no matching status change within ${timeoutMs} ms; changes: ${JSON.stringify(this.changes)}`,
    );
    return found()!;
  }

  /** Shuts the source down and waits for the child to exit by itself; kills it (and reports so) if it does not. */
  async stop(exitTimeoutMs = 5000): Promise<{ code: number | null; exitedOnItsOwn: boolean }> {
    await this.stopSender();
    if (this.exitedWith) return { code: this.exitedWith.code, exitedOnItsOwn: true };
    this.child.stdin!.write('shutdown\n');
    this.child.stdin!.end();
    const onItsOwn = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), exitTimeoutMs).unref()),
    ]);
    if (!onItsOwn) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    return { code: this.exitCode(), exitedOnItsOwn: onItsOwn };
  }

  /** For afterEach: ends both processes whatever state the test left them in. */
  async dispose(): Promise<void> {
    await this.stopSender();
    if (!this.exitedWith) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** Read through a method: TypeScript's narrowing of the field would not survive the awaits above. */
  private exitCode(): number | null {
    return this.exitedWith?.code ?? null;
  }

  private async startSender(): Promise<void> {
    const sender = spawn('/usr/bin/nsenter', [`--net=/proc/${this.pid}/ns/net`, PYTHON, SENDER], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.sender = sender;
    let stderr = '';
    sender.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    createInterface({ input: sender.stdout }).on('line', (line) => {
      this.senderLines.push(line);
      for (const wake of this.senderWaiters.splice(0)) wake();
    });
    sender.once('exit', () => {
      this.senderLines.push(`exit ${stderr.trim()}`);
      for (const wake of this.senderWaiters.splice(0)) wake();
    });
    const first = await this.senderLine(5000);
    if (first !== 'ready') throw new Error(`the uevent sender did not start: ${first}`);
  }

  private async stopSender(): Promise<void> {
    const sender = this.sender;
    this.sender = null;
    if (!sender || sender.exitCode !== null || sender.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => sender.once('exit', () => resolve()));
    sender.stdin!.end();
    const timer = setTimeout(() => sender.kill('SIGKILL'), 2000);
    await gone;
    clearTimeout(timer);
  }

  private async senderLine(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.senderLines.length === 0) {
      if (Date.now() > deadline) throw new Error('the uevent sender did not answer');
      await new Promise<void>((resolve) => {
        this.senderWaiters.push(resolve);
        setTimeout(resolve, 100).unref();
      });
    }
    return this.senderLines.shift()!;
  }

  /** Sends one uevent and waits for the kernel to have accepted it. */
  private async send(properties: Record<string, string>): Promise<void> {
    if (!this.sender) throw new Error('the uevent sender is not running');
    this.sender.stdin!.write(`${JSON.stringify(properties)}\n`);
    const answer = await this.senderLine(5000);
    if (!answer.startsWith('sent ')) throw new Error(`the kernel refused the uevent: ${answer}`);
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  private async until(done: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (this.exitedWith)
        throw new Error(
          `the USB child exited (${JSON.stringify(this.exitedWith)}): ${this.stderr.slice(-2000)}; ${describe()}`,
        );
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(describe());
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, Math.min(left, 200)).unref();
      });
    }
  }

  private async next(
    test: (message: ChildMessage, index: number) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<ChildMessage> {
    const find = () => this.messages.find((m, i) => test(m, i));
    await this.until(
      () => find() !== undefined,
      timeoutMs,
      () => `${what}; stderr: ${this.stderr.slice(-2000)}`,
    );
    return find()!;
  }
}
