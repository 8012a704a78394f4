import { afterEach, describe, expect, it } from 'vitest';
import { Sender } from '../../electron/core/delivery/sender.js';
import { replies, startReceiver, type Receiver } from '../peers/receivers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  cleanups.push(() => r.close());
  return r;
}

function sender(options: ConstructorParameters<typeof Sender>[0]): Sender {
  const s = new Sender(options);
  cleanups.push(() => s.close());
  return s;
}

const post = (url: string) => ({ url, headers: { 'content-type': 'application/json' }, body: '{"a":1}' });

describe('sender', () => {
  it('connects to exactly the address its checked lookup returned', async () => {
    const r = await receiver();
    const port = new URL(r.url).port;
    const names: string[] = [];
    // receiver.invalid exists nowhere; only our resolver can send it to the loopback receiver.
    const s = sender({
      timeoutMs: 5000,
      resolve: (host, _o, cb) => (names.push(host), cb(null, [{ address: '127.0.0.1', family: 4 }])),
    });
    const result = await s.send(post(`http://receiver.invalid:${port}/hook?x=1`), 1);
    expect(result.error).toBeNull();
    expect(result.response?.status).toBe(200);
    expect(names).toEqual(['receiver.invalid']);
    expect(r.received[0]).toMatchObject({
      path: '/hook?x=1',
      body: '{"a":1}',
      headers: { host: `receiver.invalid:${port}` },
    });
  });

  it('refuses a name that resolves to a link-local address, before connecting', async () => {
    const s = sender({
      timeoutMs: 5000,
      resolve: (_h, _o, cb) => cb(null, [{ address: '169.254.169.254', family: 4 }]),
    });
    const result = await s.send(post('http://metadata.invalid/latest'), 1);
    expect(result.response).toBeNull();
    expect(result.error).toContain('169.254.169.254');
  });

  it('resolves localhost through the system resolver and delivers', async () => {
    const r = await receiver();
    const result = await sender({ timeoutMs: 5000 }).send(post(r.url.replace('127.0.0.1', 'localhost')), 1);
    expect(result.error).toBeNull();
    expect(r.received).toHaveLength(1);
  });

  it('times out a black hole, keeps the first 4 KiB of a body, and reuses connections', async () => {
    const hole = await receiver(replies.blackHole());
    const s = sender({ timeoutMs: 300 });
    const timedOut = await s.send(post(hole.url), 1);
    expect(timedOut.error).toBe('timed out after 300 ms');
    expect(timedOut.durationMs).toBeGreaterThanOrEqual(250);

    const big = await receiver({ status: 500, body: 'é'.repeat(3000) });
    const result = await s.send(post(big.url), 1);
    expect(Buffer.byteLength(result.response!.body)).toBeLessThanOrEqual(4096);
    expect(result.response!.body.startsWith('éé')).toBe(true);
    expect(result.error).toContain('500');
    for (let i = 0; i < 5; i++) {
      // As in a lane, the next request leaves after the previous one's outcome is recorded.
      await new Promise((resolve) => setImmediate(resolve));
      await s.send(post(big.url), 1);
    }
    // Sent one after another, all six reuse one keep-alive connection.
    expect(new Set(big.received.map((q) => q.remotePort)).size).toBe(1);
  });
});
