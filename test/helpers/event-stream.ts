/** A client for `GET /api/v1/events` that collects parsed server-sent events. */
import { request } from 'node:http';

export interface StreamedEvent {
  type: string;
  data: any;
  /** The event's `id:` field, when it has one. */
  id?: string;
}

export interface EventStream {
  events: StreamedEvent[];
  /** Resolves with the first collected event (past or future) that matches. */
  next(match: (event: StreamedEvent) => boolean, timeoutMs?: number): Promise<StreamedEvent>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export interface EventStreamOptions {
  /** Sent as `Last-Event-ID`, as a reconnecting EventSource does. */
  lastEventId?: string;
  headers?: Record<string, string>;
  /** false: send no Authorization header (a browser signed in by its cookie). */
  bearer?: boolean;
}

export function openEventStream(base: string, token: string, options: EventStreamOptions = {}): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const events: StreamedEvent[] = [];
    const waiters = new Set<() => void>();
    const headers: Record<string, string> = {
      ...(options.bearer === false ? {} : { authorization: `Bearer ${token}` }),
      ...options.headers,
    };
    if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
    const req = request(new URL('/api/v1/events', base), { headers }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`event stream answered ${res.statusCode}`));
      let buffer = '';
      res.setEncoding('utf8');
      const ended = new Promise<void>((done) => {
        res.on('end', done);
        res.on('close', done);
      });
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          const id = /^id: (.*)$/m.exec(block)?.[1];
          if (type && data) events.push({ type, data: JSON.parse(data), ...(id === undefined ? {} : { id }) });
        }
        for (const wake of waiters) wake();
      });
      resolve({
        events,
        ended,
        next(match, timeoutMs = 10_000) {
          return new Promise((done, fail) => {
            const check = () => {
              const found = events.find(match);
              if (!found) return;
              waiters.delete(check);
              clearTimeout(timer);
              done(found);
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`no matching event in ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => e.type))}`));
            }, timeoutMs);
            waiters.add(check);
            check();
          });
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(error);
    });
    req.end();
  });
}
