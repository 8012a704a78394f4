/**
 * `GET /api/v1/events`: the engine's events as server-sent events, to every signed-in client.
 *
 * - Every event carries an id (`<run>-<n>`, `run` naming this start). The hub keeps the last
 *   events (bounded by count and bytes) so a client that reconnects with `Last-Event-ID` gets what
 *   it missed. When that id is unknown (from before a restart, or older than what is kept), the
 *   stream opens with a `resync` event instead: the client reloads what it shows.
 * - Backpressure: what a client has not read yet is bounded. One that falls further behind (a
 *   stalled tab, a dead connection) is dropped with a `dropped` event; it reconnects and resumes.
 * - Credentials: when a token is revoked (deleted, the sign-in token rotated) every stream
 *   re-checks the credential it was opened with; those that fail end with `signed-out`.
 * - Each event is serialised once, however many clients listen. A heartbeat comment keeps proxies
 *   from closing an idle stream.
 */
import type { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { ServerEvent, StreamEvent } from '../core/api/contract.js';

export interface EventHubOptions {
  /** Events kept for `Last-Event-ID`. */
  replayEvents: number;
  /** Bytes kept for `Last-Event-ID`; at most `clientBytes`, so a replay always fits a client. */
  replayBytes: number;
  /** What one client may have unread before it is dropped. */
  clientBytes: number;
  /** Open streams per credential; one more is refused. */
  streamsPerCredential: number;
  heartbeatMs: number;
  /** How long a dropped client gets to read its last bytes before its connection is cut. */
  lingerMs: number;
}

export const EVENT_STREAM_LIMITS: EventHubOptions = {
  replayEvents: 1000,
  replayBytes: 512 * 1024,
  clientBytes: 1024 * 1024,
  streamsPerCredential: 32,
  heartbeatMs: 15_000,
  lingerMs: 5_000,
};

/** Who a stream is for. */
export interface Subscriber {
  /** Streams with the same key count against one limit (one per token). */
  key: string;
  /** Whether the credential the stream was opened with still signs anybody in. */
  stillValid(): boolean;
  /** The `Last-Event-ID` the client sent, to resume after. */
  lastEventId?: string;
}

interface Frame {
  seq: number;
  text: string;
  bytes: number;
}

interface Client {
  res: ServerResponse;
  subscriber: Subscriber;
  open: boolean;
}

export class EventHub {
  private readonly options: EventHubOptions;
  private readonly run = Date.now().toString(36);
  private seq = 0;
  private readonly frames: Frame[] = [];
  private frameBytes = 0;
  private readonly clients = new Set<Client>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly onEvent = (event: ServerEvent) => this.publish(event);

  constructor(
    private readonly events: EventEmitter<{ event: [ServerEvent] }>,
    options: Partial<EventHubOptions> = {},
  ) {
    this.options = { ...EVENT_STREAM_LIMITS, ...options };
    this.options.replayBytes = Math.min(this.options.replayBytes, this.options.clientBytes);
    events.on('event', this.onEvent);
    this.heartbeat = setInterval(() => this.broadcast(': keep-alive\n\n', 14), this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Open streams. */
  get size(): number {
    return this.clients.size;
  }

  /** False when streams with this key are already as many as they may be. */
  admits(key: string): boolean {
    let count = 0;
    for (const client of this.clients) if (client.subscriber.key === key) count += 1;
    return count < this.options.streamsPerCredential;
  }

  /** Takes over `res` as an event stream, resuming after the subscriber's `lastEventId` when it can. */
  attach(res: ServerResponse, subscriber: Subscriber): void {
    const { lastEventId } = subscriber;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // Not reused after the stream ends: a connection that is cut for lingering is this stream's alone.
      connection: 'close',
      'x-content-type-options': 'nosniff',
    });
    const client: Client = { res, subscriber, open: true };
    this.clients.add(client);
    res.on('close', () => this.forget(client));
    // `retry`: how soon a dropped client's EventSource comes back.
    let opening = 'retry: 2000\n: connected\n\n';
    if (lastEventId !== undefined) {
      const missed = this.since(lastEventId);
      opening +=
        missed === null
          ? frame(null, {
              type: 'resync',
              data: {
                reason: `Event ${lastEventId.slice(0, 40)} is no longer kept (Labhook restarted, or more events passed than it keeps); reload`,
              },
            })
          : missed.map((f) => f.text).join('');
    }
    this.write(client, opening, Buffer.byteLength(opening));
  }

  /** Ends every stream whose credential no longer signs anybody in. */
  recheck(): void {
    for (const client of this.clients) {
      if (!client.subscriber.stillValid())
        this.end(client, { type: 'signed-out', data: { reason: 'The token this stream was opened with was revoked' } });
    }
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.events.off('event', this.onEvent);
    for (const client of this.clients) client.res.destroy();
    this.clients.clear();
  }

  private publish(event: ServerEvent): void {
    this.seq += 1;
    const text = frame(`${this.run}-${this.seq}`, event);
    const bytes = Buffer.byteLength(text);
    this.frames.push({ seq: this.seq, text, bytes });
    this.frameBytes += bytes;
    while (
      this.frames.length > this.options.replayEvents ||
      (this.frames.length > 0 && this.frameBytes > this.options.replayBytes)
    ) {
      this.frameBytes -= this.frames.shift()!.bytes;
    }
    this.broadcast(text, bytes);
  }

  /** The frames after `id`, or null when they are not all kept. */
  private since(id: string): Frame[] | null {
    const match = /^([0-9a-z]+)-(\d+)$/.exec(id);
    if (!match || match[1] !== this.run) return null;
    const seq = Number(match[2]);
    if (seq > this.seq) return null;
    if (seq === this.seq) return [];
    const first = this.frames[0]?.seq ?? this.seq + 1;
    if (seq < first - 1) return null;
    return this.frames.filter((f) => f.seq > seq);
  }

  private broadcast(text: string, bytes: number): void {
    for (const client of this.clients) this.write(client, text, bytes);
  }

  private write(client: Client, text: string, bytes: number): void {
    if (!client.open) return;
    if (client.res.writableLength + bytes > this.options.clientBytes) {
      this.end(client, {
        type: 'dropped',
        data: { reason: 'This client read too slowly and fell too far behind; reconnect to resume' },
      });
      return;
    }
    client.res.write(text);
  }

  /** Says why, ends the stream, and cuts the connection if the client does not read that in time. */
  private end(client: Client, why: StreamEvent): void {
    if (!client.open) return;
    this.forget(client);
    client.res.end(frame(null, why));
    setTimeout(() => client.res.destroy(), this.options.lingerMs).unref();
  }

  private forget(client: Client): void {
    client.open = false;
    this.clients.delete(client);
  }
}

function frame(id: string | null, event: ServerEvent | StreamEvent): string {
  return `${id === null ? '' : `id: ${id}\n`}event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
}
