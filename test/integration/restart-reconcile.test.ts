/**
 * Restart reconciliation through the real `serve` process: a phone that went away while Labhook
 * was down fires `unplugged` once on the next start; phones that did not change fire nothing.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startReceiver, type Receiver } from '../peers/receivers.js';
import { UsbmuxdPeer } from '../peers/usbmuxd.js';

const STAYS = '00008030-0000111122223333';
const LEAVES = '00008030-0000444455556666';
let usbmuxd: UsbmuxdPeer;
let receiver: Receiver;
let dir: { path: string; remove: () => Promise<void> };
let running: ServeProcess | null = null;

const start = async () => (running = await startServeProcess(['--data-dir', dir.path, '--usbmux', usbmuxd.socketPath]));
const bodies = () => receiver.received.map((r) => ({ ...JSON.parse(r.body), sequence: r.headers['labhook-sequence'] }));
const settle = () => new Promise((resolve) => setTimeout(resolve, 1500));

beforeAll(async () => {
  usbmuxd = new UsbmuxdPeer();
  await usbmuxd.start();
  receiver = await startReceiver({ status: 204 });
  dir = await tempDir();
});
afterAll(async () => {
  await running?.stop('SIGKILL');
  await receiver.close();
  await usbmuxd.dispose();
  await dir.remove();
});

describe('restart', () => {
  it('fires each real change once, and nothing for devices that did not change', async () => {
    const first = await start();
    const created = await request(`${first.base}/api/v1/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${first.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'all', url: receiver.url, events: ['online', 'offline', 'utilizing', 'unplugged'] }),
    });
    expect(created.statusCode).toBe(201);
    await created.body.dump();
    await usbmuxd.attach({ udid: STAYS }, { udid: LEAVES });
    await receiver.waitFor(2);
    expect(
      bodies()
        .map((b) => [b.deviceUdid, b.eventActivity])
        .sort(),
    ).toEqual([
      [STAYS, 'device.status.online'],
      [LEAVES, 'device.status.online'],
    ]);
    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    await usbmuxd.detach(usbmuxd.idOf(LEAVES)!);
    await start();
    await receiver.waitFor(3);
    await settle();
    expect(bodies().slice(2)).toEqual([
      expect.objectContaining({ deviceUdid: LEAVES, eventActivity: 'device.state.unplugged' }),
    ]);
    const online = bodies().find((b) => b.deviceUdid === LEAVES)!;
    expect(Number(bodies()[2].sequence)).toBeGreaterThan(Number(online.sequence));
    expect(await running!.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    await start();
    await settle();
    expect(receiver.received).toHaveLength(3);
  });
});
