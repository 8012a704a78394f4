/**
 * The whole path over HTTP: a phone appears at a usbmuxd-speaking peer, the engine sees it, and a
 * real receiver gets Kobiton's callback, signed; the delivery log, redeliver and test send.
 */
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../helpers/api-server.js';
import { openEventStream, type EventStream } from '../helpers/event-stream.js';
import { startReceiver, type Receiver } from '../peers/receivers.js';
import { UsbmuxdPeer } from '../peers/usbmuxd.js';

const UDID = '00008101-000A1B2C3D4E5F60';
let server: ApiServer;
let usbmuxd: UsbmuxdPeer;
let receiver: Receiver;
let stream: EventStream;
let webhook: { id: number; secret: string; name: string };

beforeAll(async () => {
  usbmuxd = new UsbmuxdPeer();
  await usbmuxd.start();
  receiver = await startReceiver({ status: 200, body: 'thanks' });
  server = await startApiServer(['--usbmux', usbmuxd.socketPath, '--retry-schedule', '0s,100ms']);
  stream = await openEventStream(server.base, server.adminToken);
  const created = await server.call('POST', '/api/v1/webhooks', {
    body: {
      name: 'Webhook for All events',
      url: `${receiver.url}/labhook`,
      events: ['online', 'offline', 'utilizing', 'unplugged'],
      headers: { Authorization: 'Bearer receiver-secret' },
    },
  });
  webhook = created.body;
});
afterAll(async () => {
  stream?.close();
  await server?.close();
  await receiver?.close();
  await usbmuxd?.dispose();
});

describe('callbacks end to end', () => {
  it("a phone coming online sends Kobiton's body, signed, to the receiver", async () => {
    await usbmuxd.attach({ udid: UDID });
    const [request] = await receiver.waitFor(1);
    const body = JSON.parse(request.body);
    expect(Object.keys(body).sort()).toEqual(
      [
        'creationTime',
        'deviceName',
        'deviceUdid',
        'eventActivity',
        'eventDescription',
        'eventType',
        'orgId',
        'webhookId',
        'webhookName',
      ].sort(),
    );
    expect(body).toMatchObject({
      eventType: 'DEVICE',
      eventActivity: 'device.status.online',
      eventDescription: 'Online',
      deviceUdid: UDID,
      orgId: 1,
      webhookId: webhook.id,
      webhookName: 'Webhook for All events',
    });
    expect(body.creationTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(request.path).toMatch(/\/labhook$/);
    expect(request.headers['authorization']).toBe('Bearer receiver-secret');
    expect(request.headers['user-agent']).toMatch(/^Labhook\/\d+\.\d+\.\d+/);
    // The change's time in microseconds (or one more than the device's last sequence).
    expect(request.headers['labhook-sequence']).toMatch(/^\d{16}$/);
    expect(Number(request.headers['labhook-sequence'])).toBe(Date.parse(request.headers['labhook-event-time']) * 1000);
    expect(() => new StandardWebhook(webhook.secret).verify(request.body, request.headers)).not.toThrow();
  });

  it('the delivery log shows the attempt, and the event stream announced it', async () => {
    const event = await stream.next((e) => e.type === 'delivery' && e.data.delivery.udid === UDID);
    expect(event.data.delivery).toMatchObject({
      webhookId: webhook.id,
      status: 'delivered',
      eventActivity: 'device.status.online',
      attemptCount: 1,
    });
    expect(event.data.attempt.response.status).toBe(200);

    const list = await server.call('GET', `/api/v1/deliveries?webhookId=${webhook.id}&udid=${UDID}`);
    expect(list.status).toBe(200);
    expect(list.body.next).toBeNull();
    const [delivery] = list.body.items;
    expect(delivery).toMatchObject({
      webhookId: webhook.id,
      udid: UDID,
      status: 'delivered',
      eventActivity: 'device.status.online',
    });
    expect(delivery.attempts).toHaveLength(1);
    expect(delivery.attempts[0].response).toEqual({ status: 200, headers: expect.any(Object), body: 'thanks' });
    expect(delivery.attempts[0].request.headers['authorization']).toBe('****');
    expect((await server.call('GET', `/api/v1/deliveries/${delivery.id}`)).body).toEqual(delivery);
  });

  it('redeliver sends the same webhook-id again, as a new attempt of the same delivery', async () => {
    const [delivery] = (await server.call('GET', `/api/v1/deliveries?udid=${UDID}`)).body.items;
    const first = receiver.received[0];
    const reply = await server.call('POST', `/api/v1/deliveries/${delivery.id}/redeliver`);
    expect(reply.status).toBe(202);
    expect(reply.body.id).toBe(delivery.id);
    const requests = await receiver.waitFor(2);
    expect(requests[1].headers['webhook-id']).toBe(first.headers['webhook-id']);
    await expect
      .poll(async () => (await server.call('GET', `/api/v1/deliveries/${delivery.id}`)).body.attempts.length)
      .toBe(2);
  });

  it('test send posts a sample for the chosen event at once and returns the attempt', async () => {
    const reply = await server.call('POST', `/api/v1/webhooks/${webhook.id}/test`, { body: { event: 'unplugged' } });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ error: null, response: { status: 200 } });
    expect(JSON.parse(reply.body.request.body)).toMatchObject({
      eventActivity: 'device.state.unplugged',
      eventDescription: 'Unplugged',
      webhookId: webhook.id,
    });
    expect(
      (await server.call('POST', `/api/v1/webhooks/${webhook.id}/test`, { body: { event: 'rebooted' } })).status,
    ).toBe(422);
  });

  it('answers 404 for unknown deliveries and 422 for bad filters', async () => {
    expect((await server.call('GET', '/api/v1/deliveries/nope')).status).toBe(404);
    expect((await server.call('POST', '/api/v1/deliveries/nope/redeliver')).status).toBe(404);
    expect((await server.call('GET', '/api/v1/deliveries?status=lost')).body.error.fields.status).toBe(
      'status must be pending, delivered or failed',
    );
    expect((await server.call('GET', '/api/v1/deliveries?webhookId=x')).body.error.fields.webhookId).toBe(
      'webhookId must be a number',
    );
    expect((await server.call('GET', '/api/v1/deliveries?limit=0')).body.error.fields.limit).toBe(
      'limit must be at least 1',
    );
  });

  it('takes blank filters as no filter, as a form sends them', async () => {
    const all = await server.call('GET', '/api/v1/deliveries');
    const blank = await server.call('GET', '/api/v1/deliveries?webhookId=&udid=&status=&limit=&cursor=');
    expect(blank.status).toBe(200);
    expect(blank.body.items.map((d: { id: string }) => d.id)).toEqual(all.body.items.map((d: { id: string }) => d.id));
  });

  it('pages newest first with a cursor', async () => {
    const all = (await server.call('GET', '/api/v1/deliveries?limit=500')).body.items;
    expect(all.length).toBeGreaterThanOrEqual(2);
    const first = await server.call('GET', '/api/v1/deliveries?limit=1');
    expect(first.body.items[0].id).toBe(all[0].id);
    expect(first.body.next).toEqual(expect.any(String));
    const second = await server.call('GET', `/api/v1/deliveries?limit=1&cursor=${encodeURIComponent(first.body.next)}`);
    expect(second.body.items[0].id).toBe(all[1].id);
  });

  it('deleting the webhook stops its callbacks', async () => {
    const before = receiver.received.length;
    expect((await server.call('DELETE', `/api/v1/webhooks/${webhook.id}`)).status).toBe(204);
    await usbmuxd.detach(usbmuxd.idOf(UDID)!);
    await stream.next((e) => e.type === 'device' && e.data.device.status === 'unplugged');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.received.length).toBe(before);
  });
});

describe('a receiver that answers 410 Gone', () => {
  it('turns its webhook off and tells the operator on the event stream', async () => {
    const gone = await startReceiver({ status: 410 });
    try {
      const created = await server.call('POST', '/api/v1/webhooks', {
        body: { name: 'gone', url: gone.url, events: ['online'] },
      });
      await usbmuxd.attach({ udid: '00008101-0000000000000410' });
      await gone.waitFor(1);
      const notice = await stream.next((e) => e.type === 'notice');
      expect(notice.data).toEqual({
        level: 'warning',
        message: expect.stringContaining('Webhook "gone" was disabled'),
      });
      await expect
        .poll(async () => (await server.call('GET', `/api/v1/webhooks/${created.body.id}`)).body.enabled)
        .toBe(false);
    } finally {
      await gone.close();
    }
  });
});
