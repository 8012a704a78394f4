/**
 * Every device everywhere: two real `serve --fleet` hosts, each watching its own usbmuxd-speaking
 * peer, on a real 3-server NATS cluster. Each node lists both hosts' phones with their `host`;
 * reservations and renames work from either node; a phone moved between hosts is one device; a
 * host that dies is lost after the timeout and its phones go offline everywhere, until it is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipReason } from '../../scripts/requirements.mjs';
import { openEventStream } from '../helpers/event-stream.js';
import { fleetNodes, type FleetNode } from '../helpers/fleet.js';
import { waitFor } from '../helpers/wait.js';
import { NatsCluster } from '../peers/nats-cluster.js';
import { UsbmuxdPeer } from '../peers/usbmuxd.js';

const ON_A = '00008030-001A35E80C42802E';
const ON_B = '00008027-000C19A83E38002E';
const MOVED = '00008101-000A1B2C3D4E5F60';

interface ListedDevice {
  udid: string;
  name: string;
  status: string;
  host?: string;
  statusReason?: string;
  sessions: unknown[];
}

async function listed(node: FleetNode, udid: string): Promise<ListedDevice | undefined> {
  const { body } = await node.call('GET', '/devices');
  const matches = (body.items as ListedDevice[]).filter((d) => d.udid === udid);
  // One phone is one device, however many hosts report it.
  expect(matches.length).toBeLessThanOrEqual(1);
  return matches[0];
}

function seenAs(node: FleetNode, udid: string, want: Partial<ListedDevice>): Promise<ListedDevice> {
  return node.until(`${udid} as ${JSON.stringify(want)} on ${node.host}`, async () => {
    const device = await listed(node, udid);
    if (!device) return null;
    return Object.entries(want).every(([k, v]) => device[k as keyof ListedDevice] === v) ? device : null;
  });
}

describe.skipIf(skipReason('nats'))('fleet devices', () => {
  let cluster: NatsCluster;
  const nodes = fleetNodes(() => cluster);
  const peerA = new UsbmuxdPeer();
  const peerB = new UsbmuxdPeer();
  let a: FleetNode;
  let b: FleetNode;

  beforeAll(async () => {
    cluster = await NatsCluster.start();
    await Promise.all([peerA.start(), peerB.start()]);
    [a, b] = await Promise.all([
      nodes.start('host-a', { args: ['--usbmux', peerA.socketPath] }),
      nodes.start('host-b', { args: ['--usbmux', peerB.socketPath] }),
    ]);
    await waitFor('both hosts to listen to usbmuxd', () => peerA.listenerCount > 0 && peerB.listenerCount > 0);
    await peerA.attach({ udid: ON_A }, { udid: MOVED });
    await peerB.attach({ udid: ON_B });
  });
  afterAll(async () => {
    await nodes.cleanup();
    await Promise.all([peerA.dispose(), peerB.dispose()]);
    await cluster?.stop();
  });

  it("lists every host's devices on every node, with their host", async () => {
    for (const node of [a, b]) {
      await seenAs(node, ON_A, { status: 'online', host: 'host-a' });
      await seenAs(node, ON_B, { status: 'online', host: 'host-b' });
    }
    // GET /devices/{udid} answers for another host's device too.
    expect((await a.call('GET', `/devices/${ON_B}`)).body).toMatchObject({ udid: ON_B, host: 'host-b' });
  });

  it("reserves, renames and releases another host's device from either node", async () => {
    const reserved = await b.call('POST', `/devices/${ON_A}/sessions`, { label: 'ci-42', ttlSeconds: 600 });
    expect(reserved.status).toBe(201);
    await seenAs(a, ON_A, { status: 'utilizing', host: 'host-a' });
    await seenAs(b, ON_A, { status: 'utilizing' });

    const renamed = await b.call('PATCH', `/devices/${ON_A}`, { name: 'Rack 3 iPhone' });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe('Rack 3 iPhone');
    await seenAs(a, ON_A, { name: 'Rack 3 iPhone' });

    expect((await b.call('DELETE', `/devices/${ON_A}/sessions/${reserved.body.id}`)).status).toBe(204);
    await seenAs(a, ON_A, { status: 'online' });
    await seenAs(b, ON_A, { status: 'online' });
    expect((await b.call('DELETE', `/devices/${ON_A}/sessions/${reserved.body.id}`)).status).toBe(404);
  });

  it('a phone moved from one host to another is one device, now on the other host', async () => {
    await seenAs(b, MOVED, { status: 'online', host: 'host-a' });
    const events = await openEventStream(b.process.base, b.process.token);
    try {
      await peerA.detach(peerA.idOf(MOVED)!);
      await peerB.attach({ udid: MOVED });
      for (const node of [a, b]) await seenAs(node, MOVED, { status: 'online', host: 'host-b' });
      // The window hears of the merged device, which ends on host-b.
      const last = await events.next(
        (e) => e.type === 'device' && e.data.device.udid === MOVED && e.data.device.host === 'host-b',
      );
      expect(last.data.device.status).toBe('online');
    } finally {
      events.close();
    }
  });

  it('a host that dies is lost after the timeout: its phones go offline everywhere, and come back with it', async () => {
    const dataDir = b.dataDir;
    await b.process.stop('SIGKILL');
    const lost = await seenAs(a, ON_B, { status: 'offline', statusReason: 'host lost' });
    expect(lost.host).toBe('host-b');
    await seenAs(a, MOVED, { status: 'offline', statusReason: 'host lost' });
    // Host A's own phone is untouched.
    await seenAs(a, ON_A, { status: 'online', host: 'host-a' });

    b = await nodes.start('host-b', { dataDir, args: ['--usbmux', peerB.socketPath] });
    const back = await seenAs(a, ON_B, { status: 'online', host: 'host-b' });
    expect(back.statusReason).toBeUndefined();
  });
});
