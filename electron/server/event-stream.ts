/** `GET /api/v1/events`: the engine's events as server-sent events, with a heartbeat so proxies keep the stream open. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerEvent } from '../core/api/contract.js';
import type { Engine } from '../core/engine/engine.js';

const HEARTBEAT_MS = 15_000;

export function streamEvents(request: FastifyRequest, reply: FastifyReply, engine: Engine): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-content-type-options': 'nosniff',
  });
  res.write(': connected\n\n');
  const send = (event: ServerEvent) => {
    res.write(`event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`);
  };
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  engine.events.on('event', send);
  const close = () => {
    clearInterval(heartbeat);
    engine.events.off('event', send);
  };
  request.raw.on('close', close);
  res.on('close', close);
}
