/**
 * Restarting Labhook must not tell receivers anything about adb phones that did not change: through
 * the real `serve` process, Debian's adb server and emulated phones, one on Wi-Fi (`adb connect`,
 * identified by its ro.serialno) and one with a serial that is no address (announced as an emulator,
 * as a USB phone's serial would be), across `kill -9`, SIGTERM and a start while the adb server is
 * too busy to answer.
 *
 * How "nothing fired" is shown without waiting for nothing: after each start both phones are
 * reserved. Callbacks for one device arrive in order, so anything a restart fired for a phone
 * (an `unplugged`, an `online`) would arrive before its `utilizing`. The utilizing callbacks are
 * awaited by `webhook-id`, so a repeat of an earlier callback (at-least-once after `kill -9`) is
 * told apart from a new event.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipReason } from '../../scripts/requirements.mjs';
import { callApi, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { AdbServer } from '../peers/adb-server.js';
import { EmulatedAdbd } from '../peers/adbd.js';
import { startReceiver, type Receiver } from '../peers/receivers.js';
import { TcpProxy } from '../peers/tcp-proxy.js';

describe.skipIf(skipReason('adb'))('restart with adb phones', () => {
  let adb: AdbServer;
  let proxy: TcpProxy;
  let wifi: EmulatedAdbd;
  let cable: EmulatedAdbd;
  let cableSerial: string;
  let receiver: Receiver;
  let dir: { path: string; remove: () => Promise<void> };
  let running: ServeProcess | null = null;

  /**
   * The callbacks from `from` on, as "udid activity". A repeat of a callback received before (same
   * `webhook-id`: a delivery `kill -9` caught between the receiver's answer and the journal's write)
   * is at-least-once delivery, not a new event, and is left out.
   */
  const events = (from = 0) => {
    const earlier = new Set(receiver.received.slice(0, from).map((r) => r.headers['webhook-id']));
    return receiver.received
      .slice(from)
      .filter((r) => !earlier.has(r.headers['webhook-id']))
      .map((r) => {
        const body = JSON.parse(r.body) as { deviceUdid: string; eventActivity: string };
        return `${body.deviceUdid} ${body.eventActivity}`;
      });
  };

  async function start(): Promise<ServeProcess> {
    running = await startServeProcess(['--data-dir', dir.path, '--adb', `127.0.0.1:${proxy.port}`]);
    return running;
  }

  /** Waits until both phones are listed as seen over adb, online. */
  async function bothOnline(served: ServeProcess): Promise<void> {
    await waitFor('both phones online over adb', async () => {
      const { body } = await callApi(served, 'GET', '/devices');
      const items = body.items as { udid: string; status: string; transports: string[] }[];
      return [wifi.serialno, cableSerial].every((udid) =>
        items.some((d) => d.udid === udid && d.status === 'online' && d.transports.includes('adb')),
      );
    });
  }

  /** Reserves and releases both phones; returns the callbacks that arrived since `from`, sorted. */
  async function marker(served: ServeProcess, from: number): Promise<string[]> {
    const reservations = [];
    for (const udid of [wifi.serialno, cableSerial]) {
      const created = await callApi(served, 'POST', `/devices/${udid}/sessions`, { label: 'restart marker' });
      expect(created.status).toBe(201);
      reservations.push(created.body as { id: string; udid: string });
    }
    await receiver.waitFor(() => events(from).filter((e) => e.endsWith('device.state.utilizing')).length >= 2);
    for (const r of reservations)
      expect((await callApi(served, 'DELETE', `/devices/${r.udid}/sessions/${r.id}`)).status).toBe(204);
    return events(from).sort();
  }

  const utilizingBoth = () =>
    [`${cableSerial} device.state.utilizing`, `${wifi.serialno} device.state.utilizing`].sort();

  beforeAll(async () => {
    adb = await AdbServer.start();
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: adb.port });
    wifi = await EmulatedAdbd.start({ serialno: 'ACC-REL-1', model: 'Wi-Fi Phone' });
    cable = await EmulatedAdbd.start({ serialno: 'ACC-REL-2', model: 'Cable Phone' });
    await adb.connect(wifi.serial);
    cableSerial = await adb.registerEmulator(cable.port);
    receiver = await startReceiver({ status: 204 });
    dir = await tempDir();

    const served = await start();
    const created = await callApi(served, 'POST', '/webhooks', {
      name: 'all',
      url: receiver.url,
      events: ['online', 'offline', 'utilizing', 'unplugged'],
    });
    expect(created.status).toBe(201);
    await receiver.waitFor(2);
    expect(events().sort()).toEqual(
      [`${cableSerial} device.status.online`, `${wifi.serialno} device.status.online`].sort(),
    );
  });

  afterAll(async () => {
    await running?.stop('SIGKILL');
    await receiver?.close();
    await proxy?.close();
    await wifi?.close();
    await cable?.close();
    await adb?.stop();
    await dir?.remove();
  });

  it('kill -9, then start again: unchanged phones fire nothing', async () => {
    // Phones seen for the very first time are persisted a moment after their callbacks; this case
    // is about phones Labhook already knew.
    await waitFor('both phones in db.json', async () => {
      const { devices } = JSON.parse(await readFile(join(dir.path, 'db.json'), 'utf8')) as {
        devices: { status: string }[];
      };
      return devices.filter((d) => d.status === 'online').length === 2;
    });
    expect(await running!.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    const before = receiver.received.length;
    const served = await start();
    await bothOnline(served);
    expect(await marker(served, before)).toEqual(utilizingBoth());
    expect(served.output()).toMatch(/devices reconciled with the last run \(2 unchanged, 0 changed/);
  });

  it('SIGTERM, then start again: unchanged phones fire nothing', async () => {
    expect(await running!.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const before = receiver.received.length;
    const served = await start();
    await bothOnline(served);
    expect(await marker(served, before)).toEqual(utilizingBoth());
    expect(served.output()).toMatch(/devices reconciled with the last run \(2 unchanged, 0 changed/);
  });

  it('a start while the adb server is slow to answer waits for it and fires nothing', async () => {
    expect(await running!.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const before = receiver.received.length;
    // The server accepts but answers nothing for a while: longer than any fixed settle delay a
    // tracker might use, shorter than the time after which the adb source gives its devices up.
    proxy.setMode('stall');
    const served = await start();
    await waitFor('the engine to connect', () => proxy.accepted > 0 && proxy.openConnections > 0);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect((await callApi(served, 'GET', '/devices')).body.items.map((d: { status: string }) => d.status)).toEqual([
      'online',
      'online',
    ]);
    proxy.setMode('forward');
    await bothOnline(served);
    expect(await marker(served, before)).toEqual(utilizingBoth());
    expect(served.output()).toMatch(/devices reconciled with the last run \(2 unchanged, 0 changed/);
  });
});
