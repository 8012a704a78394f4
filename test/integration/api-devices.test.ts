/** Devices, sources, reservations and device events over HTTP, with a usbmuxd-speaking peer as the source. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../helpers/api-server.js';
import { openEventStream, type EventStream } from '../helpers/event-stream.js';
import { UsbmuxdPeer } from '../peers/usbmuxd.js';

const UDID = '00008030-001A2C3E0C38802E';
let server: ApiServer;
let usbmuxd: UsbmuxdPeer;
let stream: EventStream;

beforeAll(async () => {
  usbmuxd = new UsbmuxdPeer();
  await usbmuxd.start();
  server = await startApiServer(['--usbmux', usbmuxd.socketPath]);
  stream = await openEventStream(server.base, server.adminToken);
});
afterAll(async () => {
  stream?.close();
  await server?.close();
  await usbmuxd?.dispose();
});

const deviceEvent = (status: string) => (e: { type: string; data: any }) =>
  e.type === 'device' && e.data.device.udid === UDID && e.data.device.status === status;

describe('devices over HTTP', () => {
  it('reports what each source is doing', async () => {
    const reply = await server.call('GET', '/api/v1/sources');
    expect(reply.status).toBe(200);
    const byName = Object.fromEntries(reply.body.items.map((s: { name: string }) => [s.name, s]));
    expect(Object.keys(byName).sort()).toEqual(['adb', 'appium', 'demo', 'usb', 'usbmux']);
    expect(byName.adb).toEqual({ name: 'adb', state: 'off', detail: 'turned off (--adb off)' });
    expect(byName.usbmux.state).toBe('running');
  });

  it('an attached iPhone comes online, with a device event on the stream', async () => {
    await usbmuxd.attach({ udid: UDID });
    const event = await stream.next(deviceEvent('online'));
    expect(event.data).toMatchObject({ from: 'unplugged', event: 'online', sequence: expect.any(Number) });
    const reply = await server.call('GET', `/api/v1/devices/${UDID}`);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      udid: UDID,
      platform: 'ios',
      status: 'online',
      transports: ['usbmux'],
      sessions: [],
      simulated: false,
    });
    expect((await server.call('GET', '/api/v1/devices')).body.items.map((d: { udid: string }) => d.udid)).toEqual([
      UDID,
    ]);
  });

  it('a reservation makes it utilizing until released', async () => {
    const reserved = await server.call('POST', `/api/v1/devices/${UDID}/sessions`, {
      body: { ttlSeconds: 600, label: 'ci-job-42' },
    });
    expect(reserved.status).toBe(201);
    expect(reserved.body).toEqual({
      id: expect.any(String),
      udid: UDID,
      label: 'ci-job-42',
      expiresAt: expect.any(String),
    });
    await stream.next(deviceEvent('utilizing'));
    const device = (await server.call('GET', `/api/v1/devices/${UDID}`)).body;
    expect(device.status).toBe('utilizing');
    expect(device.sessions).toEqual([
      expect.objectContaining({ id: reserved.body.id, label: 'ci-job-42', source: 'reservations' }),
    ]);

    expect((await server.call('DELETE', `/api/v1/devices/${UDID}/sessions/${reserved.body.id}`)).status).toBe(204);
    const back = await stream.next((e) => deviceEvent('online')(e) && e.data.from === 'utilizing');
    // utilizing → online fires no webhook event, but the window still hears of it.
    expect(back.data.event).toBeNull();
    expect((await server.call('DELETE', `/api/v1/devices/${UDID}/sessions/${reserved.body.id}`)).status).toBe(404);
  });

  it('validates reservations and refuses unknown devices', async () => {
    expect((await server.call('POST', '/api/v1/devices/no-such-phone/sessions', { body: {} })).status).toBe(404);
    const bad = await server.call('POST', `/api/v1/devices/${UDID}/sessions`, { body: { ttlSeconds: 0 } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.fields.ttlSeconds).toBe('ttlSeconds must be at least 1');
    expect((await server.call('GET', '/api/v1/devices/no-such-phone')).status).toBe(404);
  });

  it('the operator can rename a device, and undo it', async () => {
    const detected = (await server.call('GET', `/api/v1/devices/${UDID}`)).body.name;
    const renamed = await server.call('PATCH', `/api/v1/devices/${UDID}`, { body: { name: 'Rack 3 · iPhone 12' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe('Rack 3 · iPhone 12');
    const restored = await server.call('PATCH', `/api/v1/devices/${UDID}`, { body: { name: null } });
    expect(restored.body.name).toBe(detected);
    expect(detected).not.toBe('Rack 3 · iPhone 12');
  });

  it('a detached iPhone is unplugged', async () => {
    await usbmuxd.detach(usbmuxd.idOf(UDID)!);
    const event = await stream.next(deviceEvent('unplugged'));
    expect(event.data).toMatchObject({ from: 'online', event: 'unplugged' });
  });
});

describe('a source whose peer is missing', () => {
  it('is reported unavailable with the reason, and the engine keeps running', async () => {
    const { freePort } = await import('../helpers/free-port.js');
    const lonely = await startApiServer(['--adb', `127.0.0.1:${await freePort()}`]);
    try {
      await expect
        .poll(async () =>
          (await lonely.call('GET', '/api/v1/sources')).body.items.find((s: { name: string }) => s.name === 'adb'),
        )
        .toMatchObject({ state: 'unavailable', detail: expect.stringContaining('no adb server is listening') });
      expect((await lonely.call('GET', '/api/v1/devices')).status).toBe(200);
    } finally {
      await lonely.close();
    }
  });
});
