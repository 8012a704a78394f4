/**
 * The benchmark's receivers, run in a process of their own (a lab's receivers never share the
 * engine's event loop; on one loop they would slow the engine down and flatter nobody). Fast
 * node:http servers on 127.0.0.1 that stamp each request when its body has fully arrived.
 * Driven over the fork IPC channel by bench/receivers.ts.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { nowMs } from './stats.js';

/**
 * How a receiver answers. `routes` is one origin serving several webhooks, as a lab's CI server
 * does: a path ending in `/hang` never answers, one ending in `/slow` answers after 2 s, any other
 * at once.
 */
export type ReceiverMode = { kind: 'ok' } | { kind: 'slow'; delayMs: number } | { kind: 'hang' } | { kind: 'routes' };

const ROUTE_SLOW_MS = 2000;

/** One request as recorded: arrival (monotonic ms), webhook-id, labhook-sequence, deviceUdid, webhookId. */
export type Arrival = [t: number, eventId: string, sequence: number, udid: string, webhookId: number];

interface Host {
  server: http.Server;
  url: string;
  arrivals: Arrival[];
  sockets: Set<Socket>;
  held: Set<http.ServerResponse>;
}

const hosts: Host[] = [];
const UDID = /"deviceUdid":"([^"]*)"/;
const WEBHOOK = /"webhookId":(\d+)/;

/** What `mode` does with a request to `path`. */
function behaviour(
  mode: ReceiverMode,
  path: string,
): { kind: 'ok' } | { kind: 'slow'; delayMs: number } | { kind: 'hang' } {
  if (mode.kind !== 'routes') return mode;
  if (path.endsWith('/hang')) return { kind: 'hang' };
  if (path.endsWith('/slow')) return { kind: 'slow', delayMs: ROUTE_SLOW_MS };
  return { kind: 'ok' };
}

function start(mode: ReceiverMode): Promise<Host> {
  const arrivals: Arrival[] = [];
  const held = new Set<http.ServerResponse>();
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const t = nowMs();
      const body = chunks.length === 1 ? chunks[0].toString('latin1') : Buffer.concat(chunks).toString('latin1');
      arrivals.push([
        t,
        String(req.headers['webhook-id'] ?? ''),
        Number(req.headers['labhook-sequence'] ?? -1),
        UDID.exec(body)?.[1] ?? '',
        Number(WEBHOOK.exec(body)?.[1] ?? 0),
      ]);
      const does = behaviour(mode, req.url ?? '');
      if (does.kind === 'hang') {
        held.add(res);
        return;
      }
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
        res.end('ok');
      };
      if (does.kind === 'slow') setTimeout(answer, does.delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  server.on('connection', (socket: Socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolve) => {
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}/hook`, arrivals, sockets, held });
    });
  });
}

type Command =
  { cmd: 'start'; modes: ReceiverMode[] } | { cmd: 'reset' } | { cmd: 'count' } | { cmd: 'collect' } | { cmd: 'stop' };

async function handle(message: Command): Promise<unknown> {
  switch (message.cmd) {
    case 'start': {
      const started = await Promise.all(message.modes.map(start));
      const first = hosts.length;
      hosts.push(...started);
      return started.map((h, i) => ({ index: first + i, url: h.url }));
    }
    case 'reset':
      // Every run starts cold: records cleared, held requests dropped, every connection closed.
      for (const h of hosts) {
        h.arrivals.length = 0;
        h.held.clear();
        for (const s of h.sockets) s.destroy();
      }
      return null;
    case 'count':
      return hosts.map((h) => h.arrivals.length);
    case 'collect':
      return hosts.map((h) => h.arrivals);
    case 'stop':
      for (const h of hosts) {
        for (const s of h.sockets) s.destroy();
        h.server.close();
      }
      setImmediate(() => process.exit(0));
      return null;
  }
}

process.on('message', (raw: { id: number; body: Command }) => {
  handle(raw.body).then(
    (result) => process.send!({ id: raw.id, result }),
    (error: Error) => process.send!({ id: raw.id, error: error.message }),
  );
});
// The parent owns this process: when it goes, so do the receivers.
process.on('disconnect', () => process.exit(0));
