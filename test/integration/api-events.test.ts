/**
 * The event stream's limits: ids and `Last-Event-ID` resume (with `resync` when the id is no longer
 * kept), a bound on what a client that stops reading can hold, and streams that end when their
 * token is revoked.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_STREAM_LIMITS } from '../../electron/server/event-stream.js';
import { startApiServer, type ApiServer } from '../helpers/api-server.js';
import { openEventStream, type EventStream, type StreamedEvent } from '../helpers/event-stream.js';

let server: ApiServer;
const open: EventStream[] = [];

beforeAll(async () => {
  server = await startApiServer();
});
afterAll(async () => {
  for (const stream of open) stream.close();
  await server?.close();
});

let counter = 0;
/** Publishes notices through the engine, as its services do. */
function notices(count: number, size = 10): string[] {
  const sent: string[] = [];
  for (let i = 0; i < count; i++) {
    const message = `n${++counter} ${'x'.repeat(size)}`;
    sent.push(message);
    server.served.engine.events.emit('event', { type: 'notice', data: { level: 'info', message } });
  }
  return sent;
}
async function stream(token = server.adminToken, lastEventId?: string): Promise<EventStream> {
  const s = await openEventStream(server.base, token, { lastEventId });
  open.push(s);
  return s;
}
const messages = (events: StreamedEvent[]) => events.filter((e) => e.type === 'notice').map((e) => e.data.message);
const withMessage = (message: string) => (e: StreamedEvent) => e.type === 'notice' && e.data.message === message;
async function token(role: 'viewer' | 'manager'): Promise<{ id: string; token: string }> {
  return (await server.call('POST', '/api/v1/tokens', { body: { name: `${role} ${++counter}`, role } })).body;
}

describe('event ids and Last-Event-ID', () => {
  it('a client that reconnects with the last id it saw gets exactly what it missed, then live events', async () => {
    const first = await stream();
    const [a, b] = notices(2);
    await first.next(withMessage(b));
    expect(first.events.map((e) => e.id)).toEqual([expect.stringMatching(/^[0-9a-z]+-\d+$/), expect.any(String)]);
    const seen = first.events[1].id!;
    first.close();

    const missed = notices(3);
    const again = await stream(server.adminToken, seen);
    await again.next(withMessage(missed[2]));
    const [live] = notices(1);
    await again.next(withMessage(live));
    expect(messages(again.events)).toEqual([...missed, live]);
    expect(messages(again.events)).not.toContain(a);
    expect(again.events.map((e) => e.type)).not.toContain('resync');

    // Up to date: nothing is replayed.
    const current = await stream(server.adminToken, again.events.at(-1)!.id);
    const [next] = notices(1);
    await current.next(withMessage(next));
    expect(messages(current.events)).toEqual([next]);
  });

  it('an id from before a restart, or older than what is kept, opens the stream with resync', async () => {
    const foreign = await stream(server.adminToken, 'zzzzzz-5');
    const resync = await foreign.next((e) => e.type === 'resync');
    expect(resync.data.reason).toMatch(/no longer kept/);
    expect(foreign.events[0].type).toBe('resync');

    const early = await stream();
    const sent = notices(EVENT_STREAM_LIMITS.replayEvents + 5);
    await early.next(withMessage(sent.at(-1)!));
    const tooOld = await stream(server.adminToken, early.events[0].id);
    await tooOld.next((e) => e.type === 'resync');
    expect(tooOld.events.filter((e) => e.type === 'notice')).toEqual([]);
  });
});

/** A client that sends its request and then stops reading, as a stalled tab or a dead peer does. */
function stalledClient(): Promise<{ socket: Socket; received: () => string }> {
  const url = new URL(server.base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let text = '';
    let stalled = false;
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (stalled || !text.includes(': connected')) return;
      stalled = true;
      socket.pause();
      resolve({ socket, received: () => text });
    });
    socket.write(
      `GET /api/v1/events HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${server.adminToken}\r\n\r\n`,
    );
  });
}

describe('a client that stops reading', () => {
  it('is dropped with a dropped event once it falls too far behind, instead of buffering everything', async () => {
    const { socket, received } = await stalledClient();
    const healthy = await stream();
    const size = 4096;
    const count = 4000; // 16 MiB: far more than the per-client bound and any socket buffers
    const sent: string[] = [];
    // In batches well under the bound, as a busy engine publishes them, so a client that reads keeps up.
    for (let batch = 0; batch < count / 50; batch++) {
      sent.push(...notices(50, size));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    // The healthy client gets everything; a positive control that events did flow.
    await healthy.next(withMessage(sent.at(-1)!), 30_000);

    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.resume();
    await ended;
    const events = received()
      .split('\n\n')
      .map((block) => ({ type: /^event: (.*)$/m.exec(block)?.[1], id: /^id: (.*)$/m.exec(block)?.[1] }))
      .filter((e) => e.type);
    expect(events.at(-1)!.type).toBe('dropped');
    const got = events.filter((e) => e.type === 'notice');
    expect(got.length).toBeGreaterThan(0);
    // Not everything: what it could not read was never buffered (the rest is the sockets' own buffers).
    expect(got.length).toBeLessThan(count * 0.75);

    // It reconnects with the last id it read; what it missed is more than is kept, so it resyncs.
    const back = await stream(server.adminToken, got.at(-1)!.id);
    await back.next((e) => e.type === 'resync');
    socket.destroy();
  });
});

describe('revoked tokens', () => {
  it('end the streams opened with them; other streams stay open', async () => {
    const doomed = await token('viewer');
    const kept = await token('viewer');
    const doomedStream = await stream(doomed.token);
    const keptStream = await stream(kept.token);
    const signInStream = await stream(server.adminToken);

    expect((await server.call('DELETE', `/api/v1/tokens/${doomed.id}`)).status).toBe(204);
    await doomedStream.ended;
    expect(doomedStream.events.at(-1)).toEqual({ type: 'signed-out', data: { reason: expect.any(String) } });
    await expect(stream(doomed.token)).rejects.toThrow(/answered 401/);

    const [after] = notices(1);
    await keptStream.next(withMessage(after));
    await signInStream.next(withMessage(after));

    const rotated = await server.call('POST', '/api/v1/tokens/sign-in/rotate', { token: kept.token });
    expect(rotated.status).toBe(403);
    expect((await server.call('POST', '/api/v1/tokens/sign-in/rotate')).status).toBe(200);
    await signInStream.ended;
    expect(signInStream.events.at(-1)!.type).toBe('signed-out');
    const [later] = notices(1);
    await keptStream.next(withMessage(later));
  });
});

describe('streams per token', () => {
  it(`are at most ${EVENT_STREAM_LIMITS.streamsPerCredential}; one more answers 429, other tokens are not affected`, async () => {
    const { token: busy } = await token('viewer');
    for (let i = 0; i < EVENT_STREAM_LIMITS.streamsPerCredential; i++) await stream(busy);
    await expect(stream(busy)).rejects.toThrow(/answered 429/);
    const { token: other } = await token('viewer');
    await stream(other);
  });
});
