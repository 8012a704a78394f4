/**
 * The USB source against the real `usb` library: device folders in a private sysfs and udev
 * uevents on netlink, in a mount + network namespace of the source's own (see usb-namespace.ts).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Presence } from '../../electron/core/devices/model.js';
import { skipReason } from '../../scripts/requirements.mjs';
import { type FakeUsbDevice, UsbNamespace, harnessProblem } from '../peers/usb-namespace.js';

const MTP = { class: 0xff, subclass: 0xff, protocol: 0 };
const ADB = { class: 0xff, subclass: 0x42, protocol: 1 };
const PTP = { class: 0x06, subclass: 0x01, protocol: 0x01 };
const USBMUX = { class: 0xff, subclass: 0xfe, protocol: 0x02 };
const HID_KEYBOARD = { class: 0x03, subclass: 0x01, protocol: 0x01 };

const pixel: FakeUsbDevice = {
  busnum: 1,
  devpath: '2',
  devnum: 5,
  vendorId: 0x18d1,
  productId: 0x4ee7,
  serial: '2A241FDH2000B7',
  product: 'Pixel 7a',
  manufacturer: 'Google',
  interfaces: [MTP, ADB],
};
const iphone: FakeUsbDevice = {
  busnum: 1,
  devpath: '3',
  devnum: 6,
  vendorId: 0x05ac,
  productId: 0x12a8,
  serial: '00008030001A2B3C4D5E6F70',
  product: 'iPhone',
  manufacturer: 'Apple Inc.',
  interfaces: [PTP, USBMUX],
};
const galaxy: FakeUsbDevice = {
  busnum: 1,
  devpath: '4',
  devnum: 7,
  vendorId: 0x04e8,
  productId: 0x6860,
  serial: 'R58M123ABC',
  product: 'SAMSUNG_Android',
  manufacturer: 'SAMSUNG',
  interfaces: [MTP],
};
const logitechKeyboard: FakeUsbDevice = {
  busnum: 1,
  devpath: '5',
  devnum: 8,
  vendorId: 0x046d,
  productId: 0xc31c,
  product: 'USB Keyboard',
  manufacturer: 'Logitech',
  interfaces: [HID_KEYBOARD, { class: 0x03, subclass: 0, protocol: 0 }],
};
// Same vendor id as the iPhone: only the product range tells them apart.
const appleKeyboard: FakeUsbDevice = {
  busnum: 1,
  devpath: '6',
  devnum: 9,
  vendorId: 0x05ac,
  productId: 0x024f,
  product: 'Apple Keyboard',
  manufacturer: 'Apple Inc.',
  serial: 'F0T2345KEYB',
  interfaces: [HID_KEYBOARD],
};
// An iPhone in recovery mode: Apple, vendor-class interface, but its serial is a chip description, not the UDID.
const iphoneInRecovery: FakeUsbDevice = {
  busnum: 1,
  devpath: '8',
  devnum: 11,
  vendorId: 0x05ac,
  productId: 0x1281,
  product: 'Apple Mobile Device (Recovery Mode)',
  manufacturer: 'Apple Inc.',
  serial: 'CPID:8030 CPRV:11 CPFM:03 SCEP:01 BDID:0C ECID:001A2B3C4D5E6F70 IBFL:3C',
  interfaces: [{ class: 0xff, subclass: 0xff, protocol: 0 }],
};
// A phone maker's keyboard: the vendor says phone, the interfaces say keyboard.
const lenovoKeyboard: FakeUsbDevice = {
  busnum: 1,
  devpath: '7',
  devnum: 10,
  vendorId: 0x17ef,
  productId: 0x6047,
  product: 'ThinkPad Compact USB Keyboard with TrackPoint',
  manufacturer: 'Lenovo',
  serial: 'LNV0001',
  interfaces: [HID_KEYBOARD],
};

const presenceOf = (device: FakeUsbDevice, platform: 'android' | 'ios'): Presence => ({
  key: `usb:${device.busnum}-${device.devpath}`,
  udid: device.serial!,
  state: 'attached',
  platform,
  name: device.product!,
});
const serials = (presences: Presence[]) => presences.map((p) => p.udid).sort();

function stats(samples: number[]): { median: number; worst: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median: Number(median.toFixed(2)), worst: Number(sorted[sorted.length - 1].toFixed(2)) };
}

describe.skipIf(skipReason('usb') ?? harnessProblem())(
  'USB source (real usb library, fake sysfs, real netlink uevents)',
  () => {
    let ns: UsbNamespace | null = null;

    let tempRoot: string | null = null;

    afterEach(async () => {
      await ns?.dispose();
      ns = null;
      if (tempRoot) await rm(tempRoot, { recursive: true, force: true });
      tempRoot = null;
    });

    async function stopCleanly(namespace: UsbNamespace): Promise<void> {
      const { code, exitedOnItsOwn } = await namespace.stop();
      // The hotplug listener holds Node's event loop until shutdown removes it.
      expect(exitedOnItsOwn, `the child kept running after shutdown; stderr: ${namespace.stderr}`).toBe(true);
      expect(code).toBe(0);
      expect(namespace.stderr).not.toMatch(/Unhandled|uncaught|panicked/i);
    }

    it('lists the phones present at start, with their sysfs serial and product, and nothing else', async () => {
      ns = await UsbNamespace.start({ bus: 'present' });
      for (const device of [pixel, iphone, logitechKeyboard, appleKeyboard, lenovoKeyboard, iphoneInRecovery])
        await ns.writeDevice(device);

      const status = await ns.boot();

      expect(status.state).toBe('running');
      expect(status.detail).toMatch(/hotplug/);
      expect(ns.reports).toHaveLength(1);
      expect(ns.reports[0].presences).toEqual([presenceOf(pixel, 'android'), presenceOf(iphone, 'ios')]);
      await stopCleanly(ns);
    });

    it('hears a phone plugged in and unplugged; keyboards, even from phone makers, are ignored', async () => {
      ns = await UsbNamespace.start({ bus: 'present' });
      await ns.boot();
      expect(ns.reports.map((r) => r.presences)).toEqual([[]]);

      // Keyboards first: when the phone's report arrives, their (earlier) uevents were handled too.
      await ns.plug(logitechKeyboard);
      await ns.plug(appleKeyboard);
      await ns.plug(lenovoKeyboard);
      const plugSent = await ns.plug(galaxy);
      const plugged = await ns.waitForReport((p) => p.length > 0, 1);
      expect(plugged.presences).toEqual([presenceOf(galaxy, 'android')]);

      const unplugSent = await ns.unplug(galaxy);
      const unplugged = await ns.waitForReport((p) => p.length === 0, ns.reports.indexOf(plugged) + 1);

      await ns.unplug(appleKeyboard);
      await ns.plug(iphone);
      await ns.waitForReport((p) => p.length > 0, ns.reports.indexOf(unplugged) + 1);

      // Every report, in order: the empty bus, the Galaxy, the empty bus, the iPhone. No keyboard ever.
      expect(ns.reports.map((r) => serials(r.presences))).toEqual([[], [galaxy.serial], [], [iphone.serial]]);
      console.log(
        `usb: single plug→report ${(plugged.at - plugSent).toFixed(2)} ms, unplug→report ${(unplugged.at - unplugSent).toFixed(2)} ms`,
      );
      await stopCleanly(ns);
    });

    it('through the tracker: a phone on the bus that adb never claims is offline after the grace period, then unplugged', async () => {
      ns = await UsbNamespace.start({ bus: 'present', trackerGraceMs: 300 });
      await ns.boot();
      const plugSent = await ns.plug(galaxy);
      await ns.waitForReport((p) => p.length > 0);
      // Within the grace period adb may still claim it: nothing is emitted yet.
      expect(ns.changes).toEqual([]);
      const offline = await ns.waitForChange((c) => c.to === 'offline');
      expect(offline).toMatchObject({
        udid: galaxy.serial,
        from: 'unplugged',
        to: 'offline',
        event: 'offline',
        platform: 'android',
      });
      expect(Date.parse(offline.observedAt)).toBeGreaterThanOrEqual(Math.floor(plugSent) + 300 - 50);
      await ns.unplug(galaxy);
      const unplugged = await ns.waitForChange((c) => c.to === 'unplugged');
      expect(unplugged).toMatchObject({ from: 'offline', event: 'unplugged' });
      expect(unplugged.sequence).toBeGreaterThan(offline.sequence);
      expect(ns.changes).toHaveLength(2);
      await stopCleanly(ns);
    });

    it('ignores a phone with no serial number, saying so once', async () => {
      ns = await UsbNamespace.start({ bus: 'present' });
      await ns.boot();
      const anonymous: FakeUsbDevice = { ...galaxy, serial: undefined };
      await ns.plug(anonymous);
      await ns.unplug(anonymous);
      await ns.plug(anonymous);
      await ns.plug(pixel);
      await ns.waitForReport((p) => p.length > 0, 1);

      expect(ns.reports.map((r) => serials(r.presences))).toEqual([[], [pixel.serial]]);
      expect(ns.logs.filter((line) => line.includes('no USB serial number'))).toEqual([
        'warn: usb: Samsung device at usb:1-4 (04e8:6860) has no USB serial number; ignored',
      ]);
      await stopCleanly(ns);
    });

    it('finds a device whose uevent was lost at the next full listing, and loses one the same way', async () => {
      ns = await UsbNamespace.start({ bus: 'present', resyncMs: 200 });
      await ns.boot();
      // Folders change with no uevent, as when the netlink socket's buffer overflowed.
      await ns.writeDevice(pixel);
      const found = await ns.waitForReport((p) => p.length > 0, 1);
      expect(found.presences).toEqual([presenceOf(pixel, 'android')]);
      await ns.removeDevice(pixel);
      await ns.waitForReport((p) => p.length === 0, ns.reports.indexOf(found) + 1);
      expect(ns.reports.map((r) => serials(r.presences))).toEqual([[], [pixel.serial], []]);
      await stopCleanly(ns);
    });

    it('measures plug→report and unplug→report over 20 cycles', async () => {
      ns = await UsbNamespace.start({ bus: 'present' });
      await ns.boot();
      const plugDelays: number[] = [];
      const unplugDelays: number[] = [];
      for (let i = 0; i < 20; i++) {
        // A new address on every plug, as the kernel assigns one.
        const phone: FakeUsbDevice = { ...pixel, devnum: 20 + i, serial: `CYCLE${i}` };
        const from = ns.reports.length;
        const plugSent = await ns.plug(phone);
        const plugged = await ns.waitForReport((p) => p.length === 1 && p[0].udid === phone.serial, from);
        plugDelays.push(plugged.at - plugSent);
        const unplugSent = await ns.unplug(phone);
        const unplugged = await ns.waitForReport((p) => p.length === 0, ns.reports.indexOf(plugged) + 1);
        unplugDelays.push(unplugged.at - unplugSent);
      }
      // One report per change, none lost or doubled.
      expect(ns.reports).toHaveLength(1 + 2 * 20);
      const plug = stats(plugDelays);
      const unplug = stats(unplugDelays);
      console.log(
        `usb: 20 cycles: plug→report median ${plug.median} ms, worst ${plug.worst} ms; unplug→report median ${unplug.median} ms, worst ${unplug.worst} ms`,
      );
      await stopCleanly(ns);
    });

    it('without /sys/bus/usb it is unavailable with a one-line reason, logged once, and never crashes', async () => {
      ns = await UsbNamespace.start({ bus: 'absent' });
      const status = await ns.boot();

      expect(status.state).toBe('unavailable');
      expect(status.detail).toBe(
        'no USB bus visible (/sys/bus/usb/devices is missing, as in a container or a VM without USB); phones are still seen through adb and usbmuxd',
      );
      expect(status.detail).not.toContain('\n');
      // It reports an empty list once, so the tracker need not wait for it.
      expect(ns.reports.map((r) => r.presences)).toEqual([[]]);
      expect(await ns.status()).toEqual(status);
      expect(ns.logs).toEqual([`warn: usb: USB watching is off: ${status.detail}`]);
      await stopCleanly(ns);
    });

    it('when the library itself rejects (its /sys/bus/usb is gone), it is unavailable and the process lives on', async () => {
      // Our own sysfs root looks fine, so the source gets as far as asking the library, which reads
      // /sys and rejects: the rejection the library's WebUSB object would leave unhandled.
      tempRoot = await mkdtemp(join(tmpdir(), 'labhook-usb-sysfs-'));
      await mkdir(join(tempRoot, 'bus', 'usb', 'devices'), { recursive: true });
      ns = await UsbNamespace.start({ bus: 'absent', sysfsRoot: tempRoot });
      const status = await ns.boot();

      expect(status).toEqual({
        state: 'unavailable',
        detail:
          'no USB bus visible (/sys/bus/usb/devices is missing, as in a container or a VM without USB); phones are still seen through adb and usbmuxd',
      });
      expect(ns.reports.map((r) => r.presences)).toEqual([[]]);
      expect(await ns.status()).toEqual(status);
      expect(ns.logs).toEqual([`warn: usb: USB watching is off: ${status.detail}`]);
      await stopCleanly(ns);
    });
  },
);
