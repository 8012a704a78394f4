import { appendFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { Attempt as AttemptShape, Delivery as DeliveryShape } from '../../electron/core/api/schemas.js';
import type { DeliveryNotice, DeliveryServiceOptions } from '../../electron/core/delivery/service.js';
import type { StoredWebhook } from '../../electron/core/webhooks/model.js';
import { failFirst, replies, type Receiver, type startReceiver } from '../peers/receivers.js';
import { makeChange, makeWebhook, newSecret } from '../helpers/delivery-fixtures.js';
import {
  harness as startHarness,
  only,
  receiver as startTracked,
  settled,
  type Cleanups,
} from '../helpers/delivery-harness.js';
import { waitFor } from '../helpers/wait.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const receiver = (...args: Parameters<typeof startReceiver>) => startTracked(cleanups, ...args);
const harness = (webhooks: StoredWebhook[], options?: Partial<DeliveryServiceOptions>, dataDir?: string) =>
  startHarness(cleanups, webhooks, options, dataDir);

describe('delivery service', () => {
  it('sends Kobiton body and signed headers, and logs the attempt', async () => {
    const r = await receiver();
    const webhook = makeWebhook({
      id: 129,
      url: r.url,
      name: 'Webhook for All events',
      headers: { 'X-Lab': 'north', Authorization: 'Bearer t0ken' },
    });
    const h = await harness([webhook]);
    const change = makeChange('ce0917198075440c057e', 'utilizing', 4, { name: 'Galaxy Note 8' });
    const before = Date.now();
    await h.service.enqueue(change);
    const [req] = await r.waitFor(1);
    const body = JSON.parse(req.body);
    expect(Object.keys(body).sort()).toEqual([
      'creationTime',
      'deviceName',
      'deviceUdid',
      'eventActivity',
      'eventDescription',
      'eventType',
      'orgId',
      'webhookId',
      'webhookName',
    ]);
    expect(body).toMatchObject({
      eventType: 'DEVICE',
      eventActivity: 'device.state.utilizing',
      eventDescription: 'Utilizing',
      deviceUdid: 'ce0917198075440c057e',
      deviceName: 'Galaxy Note 8',
      orgId: 7,
      webhookId: 129,
      webhookName: 'Webhook for All events',
    });
    expect(body.creationTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(body.creationTime)).toBeGreaterThanOrEqual(before);
    expect(req.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'Labhook/0.1.0-test',
      'webhook-id': change.id,
      'labhook-event-time': change.observedAt,
      'labhook-sequence': '4',
      'x-lab': 'north',
      authorization: 'Bearer t0ken',
    });
    expect(Number(req.headers['webhook-timestamp'])).toBe(Math.floor(Date.parse(body.creationTime) / 1000));
    expect(new StandardWebhook(webhook.secret).verify(req.body, req.headers)).toEqual(body);

    const [delivery] = await only(h.service);
    const done = await settled(h.service, delivery.id);
    expect(done).toMatchObject({
      eventId: change.id,
      webhookId: 129,
      udid: change.udid,
      eventActivity: 'device.state.utilizing',
      status: 'delivered',
    });
    expect(done.attempts).toHaveLength(1);
    // The API's own schema accepts what the engine returns, unchanged.
    expect(DeliveryShape.strict().parse(done)).toEqual(done);
    const attempt = done.attempts[0];
    expect(AttemptShape.parse(attempt)).toEqual(attempt);
    expect(attempt.request).toMatchObject({ url: r.url, body: req.body });
    expect(attempt.request.headers['webhook-signature']).toBe(req.headers['webhook-signature']);
    expect(attempt.request.headers['authorization']).toBe('****');
    expect(attempt.response).toMatchObject({ status: 200, body: 'ok' });
    expect(attempt.response!.headers['content-type']).toBe('text/plain');
    expect(attempt.error).toBeNull();
    await waitFor('one delivery event', () => h.events.length === 1);
    expect(h.events[0].delivery).toMatchObject({ id: delivery.id, status: 'delivered', attemptCount: 1 });
  });

  it('verifies with either secret during a rotation', async () => {
    const r = await receiver();
    const old = newSecret();
    const webhook = makeWebhook({
      id: 1,
      url: r.url,
      previousSecret: { secret: old, expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    const h = await harness([webhook]);
    await h.service.enqueue(makeChange('A', 'online', 1));
    const [req] = await r.waitFor(1);
    expect(req.headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new StandardWebhook(webhook.secret).verify(req.body, req.headers)).toBeTruthy();
    expect(new StandardWebhook(old).verify(req.body, req.headers)).toBeTruthy();
    expect(() => new StandardWebhook(newSecret()).verify(req.body, req.headers)).toThrow();
  });

  it('keeps order per (webhook, device) under retries, across two devices and two webhooks', async () => {
    // Each receiver fails a changing share of requests, so retries interleave with new events.
    const flaky = (seed: number) => (_req: unknown, i: number) =>
      (i * 7 + seed) % 3 === 0 ? replies.status(500) : replies.ok();
    const a = await receiver(flaky(1));
    const b = await receiver(flaky(2));
    const h = await harness([makeWebhook({ id: 1, url: a.url }), makeWebhook({ id: 2, url: b.url })], {
      retrySchedule: [0, 5, 10, 20, 40, 80, 160, 320],
    });
    const events = ['online', 'utilizing', 'offline', 'unplugged'] as const;
    const sent: Record<string, string[]> = { X: [], Y: [] };
    for (let i = 0; i < 12; i++) {
      for (const udid of ['X', 'Y']) {
        const change = makeChange(udid, events[i % 4], i + 1);
        sent[udid].push(change.id);
        // Not awaited: enqueues of one tick share a commit, like a burst from the tracker.
        void h.service.enqueue(change);
      }
      if (i % 3 === 0) await new Promise((r) => setTimeout(r, 3));
    }
    const successes = (r: Receiver, udid: string) =>
      r.received.filter((q, i) => JSON.parse(q.body).deviceUdid === udid && (i * 7 + (r === a ? 1 : 2)) % 3 !== 0);
    await waitFor(
      'all callbacks',
      () => ['X', 'Y'].every((u) => successes(a, u).length >= 12 && successes(b, u).length >= 12),
      20_000,
    );
    for (const r of [a, b]) {
      for (const udid of ['X', 'Y']) {
        const ids = r.received
          .filter((q) => JSON.parse(q.body).deviceUdid === udid)
          .map((q) => q.headers['webhook-id']);
        // Collapsing retries of the same id leaves exactly the order they were enqueued in.
        const collapsed = ids.filter((id, i) => id !== ids[i - 1]);
        expect(collapsed).toEqual(sent[udid]);
        expect(ids.length).toBeGreaterThan(12);
      }
    }
    // A receiver has the request a moment before its outcome is in the log.
    await waitFor('48 delivered', async () => (await only(h.service, { status: 'delivered' })).length === 48);
  });

  it('does not let a black-hole or a 503 receiver delay a healthy one', async () => {
    const hole = await receiver(replies.blackHole());
    const busy = await receiver(replies.retryAfter(503, '1'));
    const healthy = await receiver();
    const h = await harness(
      [
        makeWebhook({ id: 1, url: hole.url }),
        makeWebhook({ id: 2, url: busy.url }),
        makeWebhook({ id: 3, url: healthy.url }),
      ],
      { timeoutMs: 20_000, retrySchedule: [0, 10_000] },
    );
    for (let i = 1; i <= 20; i++) await h.service.enqueue(makeChange('D', i % 2 ? 'online' : 'offline', i));
    await healthy.waitFor(20);
    await waitFor(
      '20 deliveries to webhook 3',
      async () => (await only(h.service, { webhookId: 3, status: 'delivered' })).length === 20,
    );
    // The same device's other lanes are still stuck on their first callback.
    expect(hole.received).toHaveLength(1);
    expect(busy.received).toHaveLength(1);
    expect(await only(h.service, { webhookId: 1, status: 'pending' })).toHaveLength(20);
    const busyOnes = await only(h.service, { webhookId: 2 });
    expect(busyOnes.filter((d) => d.attempts.length > 0)).toHaveLength(1);
    expect(busyOnes.find((d) => d.attempts.length > 0)!.attempts[0].response!.status).toBe(503);
  });

  it('retries on the configured schedule and fails after the last attempt', async () => {
    const recovering = await receiver(failFirst(2, replies.status(500, {}), replies.ok()));
    const dead = await receiver(replies.status(500));
    const h = await harness([makeWebhook({ id: 1, url: recovering.url }), makeWebhook({ id: 2, url: dead.url })]);
    await h.service.enqueue(makeChange('A', 'online', 1));
    const [first, second] = await only(h.service);
    const byHook = new Map([first, second].map((d) => [d.webhookId, d]));
    const ok = await settled(h.service, byHook.get(1)!.id);
    expect(ok.status).toBe('delivered');
    expect(ok.attempts.map((a) => a.response?.status)).toEqual([500, 500, 200]);
    expect(ok.attempts[0].error).toContain('500');
    const failed = await settled(h.service, byHook.get(2)!.id);
    expect(failed.status).toBe('failed');
    expect(failed.attempts).toHaveLength(3);
    // Waits of at least 50 ms and 100 ms after each failure (lower bounds only).
    const times = dead.received.map((q) => q.at);
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(45);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(95);
    // Every attempt carries the same webhook-id.
    expect(new Set(dead.received.map((q) => q.headers['webhook-id'])).size).toBe(1);
  });

  it('honours Retry-After on 429 and 503 when it is later than the schedule', async () => {
    const r = await receiver(failFirst(1, replies.retryAfter(429, '1'), replies.ok()));
    const date = await receiver(
      failFirst(1, replies.retryAfter(503, new Date(Date.now() + 2000).toUTCString()), replies.ok()),
    );
    const h = await harness([makeWebhook({ id: 1, url: r.url }), makeWebhook({ id: 2, url: date.url })]);
    await h.service.enqueue(makeChange('A', 'online', 1));
    await r.waitFor(2);
    await date.waitFor(2);
    expect(r.received[1].at - r.received[0].at).toBeGreaterThanOrEqual(950);
    // An HTTP date has one-second resolution.
    expect(date.received[1].at - date.received[0].at).toBeGreaterThanOrEqual(900);
  });

  it('does not follow redirects: a 3xx is a failure logged with its location', async () => {
    const target = await receiver();
    const r = await receiver(replies.redirect(target.url, 307));
    const h = await harness([makeWebhook({ id: 1, url: r.url })]);
    await h.service.enqueue(makeChange('A', 'online', 1));
    const [d] = await only(h.service);
    const done = await settled(h.service, d.id);
    expect(done.status).toBe('failed');
    expect(done.attempts).toHaveLength(3);
    expect(done.attempts[0].response!.status).toBe(307);
    expect(done.attempts[0].response!.headers['location']).toBe(target.url);
    expect(done.attempts[0].error).toContain(target.url);
    expect(target.received).toHaveLength(0);
  });

  it('disables the webhook on 410 Gone, tells the operator, and parks the rest until re-enabled', async () => {
    const r = await receiver(failFirst(1, replies.gone(), replies.ok()));
    const h = await harness([makeWebhook({ id: 9, url: r.url, name: 'Gone hook' })], { retrySchedule: [0, 50, 100] });
    const notices: DeliveryNotice[] = [];
    h.service.on('notice', (n: DeliveryNotice) => notices.push(n));
    const first = makeChange('A', 'online', 1);
    const second = makeChange('A', 'offline', 2);
    await h.service.enqueue(first);
    await h.service.enqueue(second);
    await waitFor('one notice', () => notices.length === 1);
    expect(notices[0]).toMatchObject({ webhookId: 9 });
    expect(notices[0].message).toContain('Gone hook');
    expect(h.directory.disabled).toEqual([{ id: 9, reason: expect.stringContaining('410') }]);
    expect(h.directory.get(9)!.enabled).toBe(false);
    const list = await only(h.service);
    const gone = list.find((d) => d.eventId === first.id)!;
    expect(await settled(h.service, gone.id)).toMatchObject({ status: 'failed' });
    expect((await h.service.get(gone.id)).attempts).toHaveLength(1);
    // Nothing new is queued for a disabled webhook; the pending one waits.
    await h.service.enqueue(makeChange('A', 'unplugged', 3));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(r.received).toHaveLength(1);
    const parked = list.find((d) => d.eventId === second.id)!;
    expect((await h.service.get(parked.id)).status).toBe('pending');
    h.directory.update(9, { enabled: true });
    await r.waitFor(2);
    expect(r.received[1].headers['webhook-id']).toBe(second.id);
    expect((await settled(h.service, parked.id)).status).toBe('delivered');
    expect(await only(h.service)).toHaveLength(2);
  });

  it('matches events, device scope and enabled', async () => {
    const all = await receiver();
    const scoped = await receiver();
    const off = await receiver();
    const h = await harness([
      makeWebhook({ id: 1, url: all.url }),
      makeWebhook({ id: 2, url: scoped.url, events: ['offline'], devices: ['A'] }),
      makeWebhook({ id: 3, url: off.url, enabled: false }),
    ]);
    await h.service.enqueue(makeChange('A', 'offline', 1));
    await h.service.enqueue(makeChange('B', 'offline', 1));
    await h.service.enqueue(makeChange('A', 'online', 2));
    await h.service.enqueue(makeChange('A', null, 3));
    await all.waitFor(3);
    await scoped.waitFor(1);
    const deliveries = await only(h.service);
    expect(deliveries).toHaveLength(4);
    expect(deliveries.filter((d) => d.webhookId === 2).map((d) => [d.udid, d.eventActivity])).toEqual([
      ['A', 'device.status.offline'],
    ]);
    // An edit applies to the next event.
    h.directory.update(2, { devices: ['B'] });
    await h.service.enqueue(makeChange('B', 'offline', 2));
    await scoped.waitFor(2);
    expect(JSON.parse(scoped.received[1].body).deviceUdid).toBe('B');
    // The two receivers get B's offline independently: wait for the other one's too.
    await all.waitFor(4);
    expect(off.received).toHaveLength(0);
    expect(all.received).toHaveLength(4);
  });

  it('cancels what is pending when a webhook is deleted', async () => {
    const r = await receiver(replies.status(500));
    const h = await harness([makeWebhook({ id: 4, url: r.url })], { retrySchedule: [0, 60_000] });
    await h.service.enqueue(makeChange('A', 'online', 1));
    await h.service.enqueue(makeChange('A', 'offline', 2));
    await h.service.enqueue(makeChange('B', 'offline', 1));
    await r.waitFor(2);
    h.directory.remove(4);
    await h.service.cancelWebhook(4);
    const deliveries = await only(h.service);
    expect(deliveries.map((d) => d.status)).toEqual(['failed', 'failed', 'failed']);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(r.received).toHaveLength(2);
    // Still failed after a restart.
    await h.restart();
    expect((await only(h.service)).map((d) => d.status)).toEqual(['failed', 'failed', 'failed']);
  });

  it("takes every spelling of an iPhone's UDID as one device: scope, order and the udid filter", async () => {
    const dashed = '00008030-001A2B3C4D5E6F70';
    const bus = '00008030001a2b3c4d5e6f70';
    // The first attempt fails, so the second change must wait behind its retry.
    const r = await receiver(failFirst(1, replies.status(500)));
    const h = await harness([makeWebhook({ id: 1, url: r.url, devices: [dashed] })], { retrySchedule: [0, 200] });
    await h.service.enqueue(makeChange(bus, 'online', 1));
    await h.service.enqueue(makeChange(dashed, 'offline', 2));
    await r.waitFor(3);
    expect(r.received.map((q) => q.headers['labhook-sequence'])).toEqual(['1', '1', '2']);
    for (const udid of [dashed, bus, dashed.toLowerCase(), bus.toUpperCase()])
      expect(await only(h.service, { udid })).toHaveLength(2);
    expect(await only(h.service, { udid: 'some-android-serial' })).toHaveLength(0);
  });

  it('refuses link-local and metadata destinations at send time', async () => {
    const h = await harness(
      [
        makeWebhook({ id: 1, url: 'http://169.254.169.254/latest/meta-data' }),
        makeWebhook({ id: 2, url: 'http://[fe80::1]:8080/x' }),
      ],
      { retrySchedule: [0] },
    );
    await h.service.enqueue(makeChange('A', 'online', 1));
    const list = await only(h.service);
    for (const d of list) {
      const done = await settled(h.service, d.id);
      expect(done.status).toBe('failed');
      expect(done.attempts[0].error).toMatch(/link-local or cloud metadata/);
      expect(done.attempts[0].response).toBeNull();
    }
  });

  it('lists newest first with filters and an opaque cursor, and gets one', async () => {
    const r = await receiver();
    const h = await harness([makeWebhook({ id: 1, url: r.url }), makeWebhook({ id: 2, url: r.url, devices: ['B'] })]);
    const changes = [];
    for (let i = 1; i <= 6; i++) {
      const change = makeChange(i % 2 ? 'A' : 'B', 'online', i);
      changes.push(change);
      await h.service.enqueue(change);
    }
    await r.waitFor(9);
    await waitFor('9 deliveries', async () => (await only(h.service, { status: 'delivered' })).length === 9);
    const page1 = await h.service.list({ limit: 4 });
    expect(page1.items).toHaveLength(4);
    expect(page1.next).toEqual(expect.any(String));
    const page2 = await h.service.list({ limit: 4, cursor: page1.next! });
    const page3 = await h.service.list({ limit: 4, cursor: page2.next! });
    expect(page3.next).toBeNull();
    const ids = [...page1.items, ...page2.items, ...page3.items].map((d) => d.id);
    expect(ids).toHaveLength(9);
    expect(new Set(ids).size).toBe(9);
    const created = [...page1.items, ...page2.items, ...page3.items].map((d) => d.eventId);
    // Newest first: the last change's deliveries lead.
    expect(created[0]).toBe(changes[5].id);
    expect(created[created.length - 1]).toBe(changes[0].id);
    expect((await only(h.service, { webhookId: 2 })).map((d) => d.udid)).toEqual(['B', 'B', 'B']);
    expect((await only(h.service, { udid: 'A' })).every((d) => d.udid === 'A' && d.webhookId === 1)).toBe(true);
    expect(await only(h.service, { udid: 'A', webhookId: 2 })).toEqual([]);
    expect(await only(h.service, { status: 'failed' })).toEqual([]);
    const one = await h.service.get(ids[3]);
    expect(one.id).toBe(ids[3]);
    await expect(h.service.get('nope')).rejects.toMatchObject({ code: 'not_found' });
    await expect(h.service.redeliver('nope')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('bounds the log by count and age, oldest first, and keeps the bounds across a restart', async () => {
    const r = await receiver();
    const h = await harness([makeWebhook({ id: 1, url: r.url })], { logBounds: { maxAttempts: 10 } });
    const ids: string[] = [];
    for (let i = 1; i <= 25; i++) {
      const change = makeChange(`D${i}`, 'online', 1);
      ids.push(change.id);
      await h.service.enqueue(change);
      await r.waitFor(i);
    }
    await waitFor('nothing left pending', async () => (await only(h.service, { status: 'pending' })).length === 0);
    await h.service.enqueue(makeChange('last', 'online', 1));
    await r.waitFor(26);
    await waitFor('nothing left pending', async () => (await only(h.service, { status: 'pending' })).length === 0);
    const kept = await only(h.service);
    expect(kept.length).toBeLessThanOrEqual(10);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept[0].udid).toBe('last');
    // What is kept is the newest, contiguous.
    expect(kept.slice(1).map((d) => d.eventId)).toEqual(ids.slice(25 - (kept.length - 1)).reverse());
    await h.restart();
    expect((await only(h.service)).map((d) => d.id)).toEqual(kept.map((d) => d.id));

    // Age: a second service with a tiny age bound drops everything finished at its next start.
    await h.service.shutdown();
    const aged = await harness([makeWebhook({ id: 1, url: r.url })], { logBounds: { maxAgeMs: 1 } }, h.dir);
    expect(await only(aged.service)).toEqual([]);
  });

  it('deletes journal segments nobody needs and stays readable', async () => {
    const r = await receiver();
    const h = await harness([makeWebhook({ id: 1, url: r.url })], {
      logBounds: { maxAttempts: 20 },
      segmentBytes: 8 * 1024,
    });
    for (let i = 1; i <= 60; i++) {
      await h.service.enqueue(makeChange(`D${i % 7}`, 'online', i));
      if (i % 10 === 0) await r.waitFor(i);
    }
    await r.waitFor(60);
    await waitFor('nothing left pending', async () => (await only(h.service, { status: 'pending' })).length === 0);
    const segments = readdirSync(path.join(h.dir, 'deliveries'));
    // 60 deliveries of ~1.5 KiB need ~11 segments of 8 KiB; at most ~20 attempts' worth remain.
    expect(segments.length).toBeLessThan(7);
    const kept = await only(h.service);
    expect(kept.length).toBeLessThanOrEqual(20);
    for (const d of kept) expect(d.attempts).toHaveLength(1);
    await h.restart();
    expect((await only(h.service)).map((d) => d.id)).toEqual(kept.map((d) => d.id));
  });

  it('moves a long-pending delivery forward so old journal segments can be deleted', async () => {
    const stuck = await receiver(replies.status(500));
    const busy = await receiver();
    const h = await harness(
      [makeWebhook({ id: 1, url: stuck.url, devices: ['P'] }), makeWebhook({ id: 2, url: busy.url, devices: ['B'] })],
      { retrySchedule: [0, 3_600_000], logBounds: { maxAttempts: 20 }, segmentBytes: 8 * 1024 },
    );
    await h.service.enqueue(makeChange('P', 'online', 1));
    await waitFor('the first attempt', async () => (await only(h.service))[0].attempts.length === 1);
    for (let i = 1; i <= 60; i++) {
      await h.service.enqueue(makeChange('B', 'online', i));
      if (i % 10 === 0) await busy.waitFor(i);
    }
    await busy.waitFor(60);
    await waitFor('one delivery left pending', async () => (await only(h.service, { status: 'pending' })).length === 1);
    const dir = path.join(h.dir, 'deliveries');
    await waitFor('the first segment to go', () => !readdirSync(dir).includes('00000001.jsonl'), 5000);
    expect(readdirSync(dir).length).toBeLessThan(7);
    const [waiting] = await only(h.service, { status: 'pending' });
    expect(waiting).toMatchObject({ udid: 'P', webhookId: 1 });
    expect(waiting.attempts.map((a) => a.response?.status)).toEqual([500]);
    await h.restart();
    expect(await h.service.get(waiting.id)).toEqual(waiting);
    stuck.respond(replies.ok());
    await h.service.redeliver(waiting.id);
    // Once delivered it is the oldest finished delivery, so the 20-attempt bound drops it at once:
    // the event stream is where its outcome shows.
    await waitFor('the waiting delivery to be delivered', () =>
      h.events.some((e) => e.delivery.id === waiting.id && e.delivery.status === 'delivered'),
    );
    expect(
      h.events.find((e) => e.delivery.id === waiting.id && e.delivery.status === 'delivered')!.delivery.attemptCount,
    ).toBe(2);
    expect(stuck.received.map((q) => q.headers['webhook-id'])).toEqual([waiting.eventId, waiting.eventId]);
  });

  it('redelivers with the same webhook-id, signed with the current secret, as a new attempt', async () => {
    const r = await receiver();
    const webhook = makeWebhook({ id: 3, url: r.url });
    const h = await harness([webhook]);
    const change = makeChange('A', 'offline', 5);
    await h.service.enqueue(change);
    await r.waitFor(1);
    const [d] = await only(h.service);
    await settled(h.service, d.id);
    const rotated = newSecret();
    h.directory.update(3, { secret: rotated, previousSecret: null });
    let n = 0;
    r.respond(() => (n++ < 2 ? replies.status(502) : replies.ok()));
    const again = await h.service.redeliver(d.id);
    expect(again.id).toBe(d.id);
    expect(['pending', 'delivered']).toContain(again.status);
    const done = await settled(h.service, d.id);
    expect(done.status).toBe('delivered');
    expect(done.attempts.map((a) => a.response?.status)).toEqual([200, 502, 502, 200]);
    expect(r.received).toHaveLength(4);
    for (const again of r.received.slice(1)) {
      expect(again.headers['webhook-id']).toBe(change.id);
      expect(new StandardWebhook(rotated).verify(again.body, again.headers)).toBeTruthy();
      expect(() => new StandardWebhook(webhook.secret).verify(again.body, again.headers)).toThrow();
    }
    // Redelivering a failed one starts the schedule afresh.
    r.respond(replies.status(500));
    await h.service.redeliver(d.id);
    const failed = await settled(h.service, d.id);
    expect(failed.status).toBe('failed');
    expect(failed.attempts).toHaveLength(7);
  });

  it('sends a test callback at once, outside the queue, and logs it', async () => {
    const hole = await receiver(replies.blackHole());
    const r = await receiver(replies.status(201));
    const webhook = makeWebhook({ id: 8, url: r.url, name: 'Test me', devices: ['elsewhere'] });
    const h = await harness([webhook, makeWebhook({ id: 9, url: hole.url })], { timeoutMs: 20_000 });
    // A lane stuck on a black hole must not hold the test back.
    await h.service.enqueue(makeChange('A', 'online', 1));
    h.directory.update(8, { enabled: false });
    const attempt = await h.service.test(h.directory.get(8)!, 'unplugged');
    expect(attempt.response).toMatchObject({ status: 201 });
    expect(attempt.error).toBeNull();
    const [req] = await r.waitFor(1);
    expect(JSON.parse(req.body)).toMatchObject({
      eventActivity: 'device.state.unplugged',
      eventDescription: 'Unplugged',
      deviceUdid: 'test-device',
      webhookId: 8,
      webhookName: 'Test me',
    });
    expect(new StandardWebhook(webhook.secret).verify(req.body, req.headers)).toBeTruthy();
    const [logged] = await only(h.service, { udid: 'test-device' });
    expect(logged).toMatchObject({ webhookId: 8, status: 'delivered', eventActivity: 'device.state.unplugged' });
    expect(logged.attempts).toEqual([attempt]);
    await expect(h.service.test(12345)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('keeps pending deliveries across a clean restart and tolerates a torn journal tail', async () => {
    const r = await receiver(replies.status(500));
    const h = await harness([makeWebhook({ id: 1, url: r.url })], { retrySchedule: [0, 60_000, 10] });
    await h.service.enqueue(makeChange('A', 'online', 1));
    await h.service.enqueue(makeChange('A', 'offline', 2));
    await r.waitFor(1);
    await waitFor('the second delivery’s first attempt', async () => (await only(h.service))[1].attempts.length === 1);
    await h.service.shutdown();
    const segments = readdirSync(path.join(h.dir, 'deliveries'));
    appendFileSync(
      path.join(h.dir, 'deliveries', segments[segments.length - 1]),
      '{"t":"a","d":"00000000001","s":"deliv',
    );
    r.respond(replies.ok());
    // The schedule's 60 s wait is remembered: shorten it by redelivering the waiting one.
    const service = await h.restart();
    expect(h.log.lines.some((l) => l.includes('incomplete record'))).toBe(true);
    const [second, first] = await only(service);
    expect(first.status).toBe('pending');
    expect(second.status).toBe('pending');
    await service.redeliver(first.id);
    await r.waitFor(3);
    expect(r.received.map((q) => JSON.parse(q.body).eventActivity)).toEqual([
      'device.status.online',
      'device.status.online',
      'device.status.offline',
    ]);
    expect((await settled(service, second.id)).status).toBe('delivered');
  });
});
