/**
 * Webhooks that share a receiver host:port (a lab's CI server usually takes several) never wait on
 * each other. Checked as facts about concurrency, not timing: a black-hole webhook holds every
 * connection it may open, and meanwhile every healthy webhook on the same origin gets all its
 * callbacks, over keep-alive connections of its own.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { makeChange, makeWebhook } from '../helpers/delivery-fixtures.js';
import { harness, only, receiver, type Cleanups } from '../helpers/delivery-harness.js';
import { replies } from '../peers/receivers.js';
import { waitFor } from '../helpers/wait.js';

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const DEVICES = 50;
const HEALTHY = 20;
const CONNECTIONS = 32;

describe('webhooks on one receiver origin', () => {
  it('a black-hole webhook holds only its own connections; the healthy ones deliver everything meanwhile', async () => {
    const r = await receiver(cleanups, (request) =>
      request.path.endsWith('/hole') ? replies.blackHole() : replies.ok(),
    );
    const hole = makeWebhook({ id: 1, url: `${r.url}/hole` });
    const healthy = Array.from({ length: HEALTHY }, (_, i) => makeWebhook({ id: i + 2, url: `${r.url}/ok-${i + 2}` }));
    // The timeout never comes into it: the black hole's requests stay open for the whole test.
    const h = await harness(cleanups, [hole, ...healthy], { timeoutMs: 120_000, connections: CONNECTIONS });
    const paths = (path: string) => r.received.filter((q) => q.path === path);

    // The black hole comes first for every device, as the webhook that was created first would.
    const round = async (sequence: number) => {
      const changes = Array.from({ length: DEVICES }, (_, d) =>
        makeChange(`phone-${d}`, sequence % 2 ? 'online' : 'offline', sequence),
      );
      await Promise.all(changes.map((c) => h.service.enqueue(c)));
      await r.waitFor(() => healthy.every((w) => paths(new URL(w.url).pathname).length >= DEVICES * sequence));
    };

    await round(1);
    // Its 50 lanes wanted 50 requests; 32 got a connection and hang there, the rest wait for one.
    expect(paths('/hook/hole')).toHaveLength(CONNECTIONS);
    const firstPorts = healthy.map((w) => new Set(paths(new URL(w.url).pathname).map((q) => q.remotePort)));
    for (const ports of firstPorts) expect(ports.size).toBeLessThanOrEqual(CONNECTIONS);

    await round(2);
    expect(paths('/hook/hole')).toHaveLength(CONNECTIONS);
    // Keep-alive: the second round goes out on the connections the first one opened.
    for (const [i, w] of healthy.entries()) {
      const second = paths(new URL(w.url).pathname).slice(DEVICES);
      for (const q of second) expect(firstPorts[i].has(q.remotePort)).toBe(true);
    }
    for (const w of healthy)
      await waitFor(
        `webhook ${w.id}'s outcomes to be logged`,
        async () =>
          (await only(h.service, { webhookId: w.id })).filter((d) => d.status === 'delivered').length === DEVICES * 2,
      );
    expect((await only(h.service, { webhookId: hole.id })).every((d) => d.status === 'pending')).toBe(true);
  });

  it('a test send goes out at once even when the webhook has every connection busy', async () => {
    const r = await receiver(cleanups, (request) =>
      request.headers['webhook-id'].startsWith('test_') ? replies.ok() : replies.blackHole(),
    );
    const webhook = makeWebhook({ id: 1, url: r.url });
    const h = await harness(cleanups, [webhook], { timeoutMs: 120_000, connections: 2 });
    await Promise.all([1, 2, 3].map((d) => h.service.enqueue(makeChange(`phone-${d}`, 'online', 1))));
    await r.waitFor(2);
    const attempt = await h.service.test(webhook, 'offline');
    expect(attempt.error).toBeNull();
    expect(attempt.response?.status).toBe(200);
  });
});
