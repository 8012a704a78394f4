/**
 * Real HTTP receivers on 127.0.0.1 for the delivery tests: they record every request (headers
 * and raw body, as received) and answer as told: 2xx, any status with headers (Retry-After,
 * Location), slowly, or never (a black hole that accepts the request and sends nothing back).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
  /** The client's port: the same for requests that reused a keep-alive connection. */
  remotePort: number;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Answer after this many milliseconds. */
  delayMs?: number;
  /** Never answer (the connection stays open until the receiver closes). */
  hang?: boolean;
}

export type Responder = (request: Received, index: number) => Reply;

export interface Receiver {
  url: string;
  received: Received[];
  /** Changes how later requests are answered. */
  respond(responder: Responder | Reply): void;
  /** Resolves with the requests once `until` holds (a count or a predicate), or rejects after `timeoutMs`. */
  waitFor(until: number | ((received: Received[]) => boolean), timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(responder: Responder | Reply = { status: 200 }): Promise<Receiver> {
  let respond: Responder = typeof responder === 'function' ? responder : () => responder;
  const received: Received[] = [];
  const watchers = new Set<() => void>();
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      const request: Received = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
        remotePort: req.socket.remotePort ?? 0,
      };
      const index = received.length;
      received.push(request);
      for (const w of [...watchers]) w();
      const reply = respond(request, index);
      if (reply.hang) return;
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(reply.status ?? 200, { 'content-type': 'text/plain', ...reply.headers });
        res.end(reply.body ?? 'ok');
      };
      if (reply.delayMs) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          send();
        }, reply.delayMs);
        timers.add(timer);
      } else send();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    respond(next) {
      respond = typeof next === 'function' ? next : () => next;
    },
    waitFor(until, timeoutMs = 15_000) {
      const done = () => (typeof until === 'number' ? received.length >= until : until(received));
      if (done()) return Promise.resolve(received);
      return new Promise((resolve, reject) => {
        const watcher = () => {
          if (!done()) return;
          cleanup();
          resolve(received);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`receiver ${port}: condition not met within ${timeoutMs} ms (${received.length} received)`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          watchers.delete(watcher);
        };
        watchers.add(watcher);
      });
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const replies = {
  ok: (): Reply => ({ status: 200 }),
  slow: (delayMs: number): Reply => ({ status: 200, delayMs }),
  blackHole: (): Reply => ({ hang: true }),
  status: (status: number, headers: Record<string, string> = {}): Reply => ({ status, headers }),
  retryAfter: (status: 429 | 503, value: string): Reply => ({ status, headers: { 'retry-after': value } }),
  redirect: (location: string, status = 302): Reply => ({ status, headers: { location } }),
  gone: (): Reply => ({ status: 410, body: 'gone' }),
};

/** Answers with `first` for the first `count` requests, then with `then`. */
export function failFirst(count: number, first: Reply, then: Reply = { status: 200 }): Responder {
  return (_req, index) => (index < count ? first : then);
}
