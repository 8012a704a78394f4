/**
 * Health, labels, health callbacks and /metrics through the real server, with an emulated paired
 * iPhone behind the emulated usbmuxd as the device and real HTTP receivers.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipReason } from '../../scripts/requirements.mjs';
import { startApiServer, type ApiServer } from '../helpers/api-server.js';
import { KOBITON_BODY_KEYS } from '../helpers/delivery-fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { makePairing } from '../peers/pair-record.js';
import { startReceiver, type Receiver } from '../peers/receivers.js';
import { UsbmuxdPeer, type FakeIosDevice } from '../peers/usbmuxd.js';

const UDID = '00008030-001A2C3E0C38802E';
const METRICS_TOKEN = 'scrape-only-token-for-prometheus';
let server: ApiServer;
let usbmuxd: UsbmuxdPeer;
const receivers: Record<'health' | 'plain' | 'rack', Receiver> = {} as never;
const ids: Record<string, number> = {};
const phone: FakeIosDevice = {
  udid: UDID,
  battery: { BatteryCurrentCapacity: 80, BatteryIsCharging: true, ExternalConnected: true, HasBattery: true },
};

beforeAll(async () => {
  usbmuxd = new UsbmuxdPeer();
  await usbmuxd.start();
  const pairing = await makePairing();
  phone.trusts = pairing;
  usbmuxd.pair(UDID, pairing);
  server = await startApiServer(['--usbmux', usbmuxd.socketPath], { LABHOOK_METRICS_TOKEN: METRICS_TOKEN });
  for (const name of ['health', 'plain', 'rack'] as const) receivers[name] = await startReceiver();
  const create = async (name: string, body: Record<string, unknown>) => {
    const reply = await server.call('POST', '/api/v1/webhooks', {
      body: { name, url: receivers[name as keyof typeof receivers].url, events: ['online', 'offline'], ...body },
    });
    expect(reply.status).toBe(201);
    ids[name] = reply.body.id;
  };
  await create('health', { healthCallbacks: true });
  await create('plain', {});
  await create('rack', { labels: ['rack-a'] });
});
afterAll(async () => {
  await server?.close();
  await usbmuxd?.dispose();
  for (const receiver of Object.values(receivers)) await receiver?.close();
});

const device = async () => (await server.call('GET', `/api/v1/devices/${UDID}`)).body;

describe.skipIf(skipReason('openssl'))('health, labels and metrics over HTTP', () => {
  it('a device comes online and is read; webhooks scoped by a label it lacks hear nothing', async () => {
    await usbmuxd.attach(phone);
    await receivers.plain.waitFor(1);
    const read = await waitFor('a battery reading', async () => {
      const d = await device();
      return d.health.readAt ? d : null;
    });
    expect(read.labels).toEqual([]);
    expect(read.health).toEqual({
      batteryLevel: 80,
      batteryTemp: null,
      charging: true,
      power: 'external',
      batteryHealth: null,
      flapsLastHour: 0,
      readAt: expect.any(String),
      readError: null,
      warnings: [],
    });
    await receivers.health.waitFor(1);
    expect(receivers.rack.received).toHaveLength(0);
  });

  it('labels are set with PATCH; a device labelled while the webhook exists is in scope from then on', async () => {
    const bad = await server.call('PATCH', `/api/v1/devices/${UDID}`, { body: { labels: ['ok', 'a,b'] } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.fields).toEqual({ labels: 'A label cannot contain commas or control characters' });
    const patched = await server.call('PATCH', `/api/v1/devices/${UDID}`, { body: { labels: [' rack-a ', 'team-x'] } });
    expect(patched.status).toBe(200);
    expect(patched.body.labels).toEqual(['rack-a', 'team-x']);
    expect(patched.body.name).toBe('iPhone');

    const id = usbmuxd.idOf(UDID)!;
    await usbmuxd.detach(id);
    await usbmuxd.attach(phone);
    const [callback] = await receivers.rack.waitFor(1);
    expect(JSON.parse(callback.body)).toMatchObject({ eventActivity: 'device.status.online', deviceUdid: UDID });
    // Unplugged is not among its events; online is. And the flap is counted.
    expect((await device()).health.flapsLastHour).toBe(1);
  });

  it('a health warning goes only to the webhook that opted in, with the nine keys and the warning header', async () => {
    phone.battery = { BatteryCurrentCapacity: 9, BatteryIsCharging: false, ExternalConnected: true, HasBattery: true };
    const plainBefore = receivers.plain.received.length;
    // The interval is a minute: plugging it in again reads it at once.
    await usbmuxd.detach(usbmuxd.idOf(UDID)!);
    await usbmuxd.attach(phone);
    const received = await receivers.health.waitFor((list) =>
      list.some((r) => JSON.parse(r.body).eventActivity === 'device.health.warning'),
    );
    const warning = received.find((r) => JSON.parse(r.body).eventActivity === 'device.health.warning')!;
    const body = JSON.parse(warning.body);
    expect(Object.keys(body)).toEqual(KOBITON_BODY_KEYS);
    expect(body).toMatchObject({ eventType: 'DEVICE', eventDescription: 'Health warning', webhookId: ids.health });
    expect(warning.headers['labhook-health-warning']).toBe('not_charging; Battery low on external power: not charging');
    expect(warning.headers['webhook-signature']).toMatch(/^v1,/);

    const listed = await server.call('GET', '/api/v1/devices?warning=true');
    expect(listed.body.items.map((d: { udid: string }) => d.udid)).toEqual([UDID]);
    expect(listed.body.items[0].health.warnings).toEqual([
      {
        code: 'not_charging',
        message: 'Not charging: battery at 9 % on external power (below 15 %)',
        since: expect.any(String),
      },
    ]);
    expect((await server.call('GET', '/api/v1/devices?warning=false')).body.items).toEqual([]);
    expect((await server.call('GET', '/api/v1/devices?warning=maybe')).status).toBe(422);

    // The status callbacks to the others went on as before, and none of them carried health.
    await receivers.plain.waitFor(plainBefore + 1);
    for (const r of [...receivers.plain.received, ...receivers.rack.received])
      expect(JSON.parse(r.body).eventActivity).toMatch(/^device\.(status|state)\./);
  });

  it('thresholds live in settings and take effect on the next look', async () => {
    const bad = await server.call('PATCH', '/api/v1/settings/health', { body: { lowBatteryPercent: 0 } });
    expect(bad.status).toBe(422);
    const changed = await server.call('PATCH', '/api/v1/settings/health', { body: { lowBatteryPercent: 5 } });
    expect(changed.body).toEqual({
      lowBatteryPercent: 5,
      maxTemperatureC: 45,
      maxFlapsPerHour: 10,
      readIntervalSeconds: 60,
    });
    expect((await server.call('GET', '/api/v1/settings/health')).body.lowBatteryPercent).toBe(5);
  });

  it('GET /metrics speaks the Prometheus text format, to API tokens and the metrics token only', async () => {
    expect((await server.call('GET', '/metrics', { token: null })).status).toBe(401);
    expect((await server.call('GET', '/metrics', { token: 'wrong' })).status).toBe(401);
    // The metrics token opens nothing else.
    expect((await server.call('GET', '/api/v1/devices', { token: METRICS_TOKEN })).status).toBe(401);
    const reply = await server.call('GET', '/metrics', { token: METRICS_TOKEN });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = new Map(parsePrometheusTextFormat(reply.text).map((f) => [f.name, f]));
    const value = (name: string, labels: Record<string, string>) =>
      families.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value;

    expect(families.get('labhook_devices')?.type).toBe('GAUGE');
    expect(value('labhook_devices', { status: 'online' })).toBe('1');
    expect(value('labhook_devices', { status: 'offline' })).toBe('0');
    expect(value('labhook_device_battery_level_percent', { udid: UDID, platform: 'ios' })).toBe('9');
    // iOS reports no temperature: no sample rather than a 0.
    expect(families.get('labhook_device_battery_temperature_celsius')?.metrics ?? []).toEqual([]);
    expect(value('labhook_device_flaps_last_hour', { udid: UDID })).toBe('2');
    expect(value('labhook_source_up', { source: 'usbmux', state: 'running' })).toBe('1');
    expect(value('labhook_source_up', { source: 'adb', state: 'off' })).toBe('1');
    expect(
      Number(value('labhook_delivery_attempts_total', { webhook_id: String(ids.plain), outcome: 'success' })),
    ).toBeGreaterThanOrEqual(2);
    expect(
      Number(value('labhook_deliveries_total', { webhook_id: String(ids.health), status: 'delivered' })),
    ).toBeGreaterThanOrEqual(1);
    // Callbacks of the last re-plug may still be on their way: a count, not a fixed value.
    expect(families.get('labhook_deliveries_pending')?.type).toBe('GAUGE');
    expect(Number(value('labhook_deliveries_pending', {}))).toBeGreaterThanOrEqual(0);
    const latency = families.get('labhook_delivery_attempt_duration_seconds');
    expect(latency?.type).toBe('HISTOGRAM');
    const attempts = Number(latency?.metrics[0]?.buckets?.['+Inf']);
    expect(attempts).toBeGreaterThanOrEqual(4);
    expect(Number(latency?.metrics[0]?.buckets?.['0.005'])).toBeLessThanOrEqual(attempts);
  });
});
