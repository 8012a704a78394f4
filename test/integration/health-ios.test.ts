/**
 * iOS battery readings over the emulated usbmuxd: the real protocol (ReadPairRecord, Connect to
 * lockdownd's port, QueryType, StartSession, TLS with the pairing's root certificate, GetValue of
 * the battery domain), through the real usbmuxd source, tracker and health monitor.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { skipReason } from '../../scripts/requirements.mjs';
import { HealthMonitor } from '../../electron/core/devices/health/monitor.js';
import { LockdownBatteryReader } from '../../electron/core/devices/health/readers.js';
import { UsbmuxSource } from '../../electron/core/devices/sources/usbmux.js';
import { DeviceTracker } from '../../electron/core/devices/tracker.js';
import { memoryLogger } from '../../electron/core/log.js';
import { DEFAULT_HEALTH_SETTINGS } from '../../electron/core/api/schemas.js';
import { waitFor } from '../helpers/wait.js';
import { makePairing } from '../peers/pair-record.js';
import { UsbmuxdPeer, type FakeIosDevice } from '../peers/usbmuxd.js';

const UDID = '00008030-001A2C3E0C38802E';
const OTHER = '00008101-000A11D22E33001E';

let peer: UsbmuxdPeer;
let source: UsbmuxSource;
let tracker: DeviceTracker;
let monitor: HealthMonitor;

async function start(timeoutMs = 5000): Promise<void> {
  const log = memoryLogger();
  tracker = new DeviceTracker({ initial: [], persist: () => {}, log });
  source = new UsbmuxSource({ socketPath: peer.socketPath, sink: tracker, log });
  monitor = new HealthMonitor({
    host: tracker,
    readers: { usbmux: new LockdownBatteryReader(peer.socketPath) },
    thresholds: () => DEFAULT_HEALTH_SETTINGS,
    timeoutMs,
    log,
  });
  await tracker.boot();
  await source.boot();
  await monitor.boot();
}

beforeEach(async () => {
  peer = new UsbmuxdPeer();
  await peer.start();
});
afterEach(async () => {
  await monitor?.shutdown();
  await source?.shutdown();
  await tracker?.shutdown();
  await peer.dispose();
});

const health = (udid: string) => tracker.device(udid)?.health;

describe.skipIf(skipReason('openssl'))('iOS battery over lockdown', () => {
  it('a paired iPhone coming online is read at once: level, charging, external power', async () => {
    const pairing = await makePairing();
    const phone: FakeIosDevice = {
      udid: UDID,
      trusts: pairing,
      battery: {
        BatteryCurrentCapacity: 64,
        BatteryIsCharging: true,
        ExternalChargeCapable: true,
        ExternalConnected: true,
        FullyCharged: false,
        GasGaugeCapability: true,
        HasBattery: true,
      },
    };
    peer.pair(UDID, pairing);
    await start();
    await peer.attach(phone);
    const read = await waitFor('a reading', () => health(UDID)?.readAt && health(UDID));
    expect(read).toMatchObject({
      batteryLevel: 64,
      batteryTemp: null,
      charging: true,
      power: 'external',
      batteryHealth: null,
      readError: null,
      warnings: [],
    });
    // The protocol as a real device needs it: the session opened with the pairing's ids, then TLS
    // (with the root certificate the device checks) before the battery domain was asked for.
    const requests = peer.lockdownRequests.filter((r) => r.udid === UDID).map((r) => [r.message.Request, r.tls]);
    expect(requests.slice(0, 4)).toEqual([
      ['QueryType', false],
      ['StartSession', false],
      ['GetValue', true],
      ['StopSession', true],
    ]);
    const start_ = peer.lockdownRequests.find((r) => r.message.Request === 'StartSession')!.message;
    expect(start_).toMatchObject({ HostID: pairing.hostId, SystemBUID: pairing.systemBuid });
    expect(peer.tlsSessions).toBeGreaterThanOrEqual(1);
    expect(
      peer.requests.some((r) => r.message.MessageType === 'ReadPairRecord' && r.message.PairRecordID === UDID),
    ).toBe(true);

    // On battery, low: no warning (not on external power).
    phone.battery = { BatteryCurrentCapacity: 9, BatteryIsCharging: false, ExternalConnected: false, HasBattery: true };
    await monitor.readNow(UDID);
    expect(health(UDID)).toMatchObject({ batteryLevel: 9, charging: false, power: 'battery', warnings: [] });
    // On a charger that does not charge it: not charging.
    phone.battery = { BatteryCurrentCapacity: 9, BatteryIsCharging: false, ExternalConnected: true, HasBattery: true };
    await monitor.readNow(UDID);
    expect(health(UDID)?.warnings.map((w) => w.code)).toEqual(['not_charging']);
  });

  it('an unpaired iPhone is unknown, with the reason', async () => {
    await start();
    await peer.attach({ udid: UDID, battery: { BatteryCurrentCapacity: 50 } });
    const read = await waitFor('a reading', () => health(UDID)?.readAt && health(UDID));
    expect(read.batteryLevel).toBeNull();
    expect(read.readError).toMatch(/not paired with this host/);
    expect(peer.lockdownRequests).toHaveLength(0);
  });

  it('a device that no longer trusts the pairing says so', async () => {
    const pairing = await makePairing();
    const other = await makePairing();
    peer.pair(UDID, pairing);
    await start();
    await peer.attach({ udid: UDID, trusts: other, battery: { BatteryCurrentCapacity: 50 } });
    const read = await waitFor('a reading', () => health(UDID)?.readAt && health(UDID));
    expect(read.batteryLevel).toBeNull();
    expect(read.readError).toMatch(/no longer trusts this host/);
  });

  it('a hung iPhone times out without holding up the others', async () => {
    const pairing = await makePairing();
    peer.pair(UDID, pairing);
    peer.pair(OTHER, pairing);
    await start(1000);
    await peer.attach(
      { udid: UDID, trusts: pairing, lockdown: 'silent', battery: { BatteryCurrentCapacity: 50 } },
      { udid: OTHER, trusts: pairing, battery: { BatteryCurrentCapacity: 77, ExternalConnected: false } },
    );
    const other = await waitFor('the other reading', () => health(OTHER)?.readAt && health(OTHER));
    expect(other.batteryLevel).toBe(77);
    // The hung one is still waiting (or has just given up): its reading never delayed the other's.
    const hung = await waitFor('the hung one to give up', () => health(UDID)?.readError && health(UDID));
    expect(hung.readError).toMatch(/no answer within 1000 ms/);
    expect(tracker.device(UDID)?.status).toBe('online');
  });
});
