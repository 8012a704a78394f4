/**
 * Sends one callback and reports what happened. One keep-alive undici Pool per (owner, origin),
 * reused; the owner is the webhook. A lab's CI server usually takes several webhooks on one
 * host:port, and a pool shared by them would let one slow or silent webhook hold every
 * connection while the others queue behind it: with a pool of its own, a webhook only ever waits
 * for its own requests.
 * Names are resolved by our own lookup, which refuses link-local and metadata addresses; the
 * socket connects to exactly the address that was checked, so DNS cannot change in between.
 */
import dns from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { Pool, type Dispatcher } from 'undici';
import { isBlockedAddress, isBlockedHost } from '../api/addresses.js';
import type { Callback } from './payload.js';

/**
 * Connections per (webhook, receiver origin). Measured by bench/ (16,000 callbacks to 20
 * receivers): 8–32 is the fastest range here; 128 spent a quarter more CPU on 2,560 sockets. 32
 * leaves room for a slow receiver with many devices (each device's lane has one request in flight).
 */
export const DEFAULT_CONNECTIONS = 32;

/** First bytes of a response body that the log keeps. */
export const RESPONSE_BODY_LIMIT = 4096;
// Past this a response body is not drained for keep-alive; the connection is dropped instead.
const DRAIN_LIMIT = 64 * 1024;

export interface SendResult {
  /** Epoch ms when the request started. */
  at: number;
  durationMs: number;
  response: { status: number; headers: Record<string, string>; body: string } | null;
  error: string | null;
}

type Resolver = (
  hostname: string,
  options: { all: true; family?: number; hints?: number },
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `net.connect` lookup that fails when any address a name resolves to is refused. */
export function checkedLookup(resolve: Resolver = dns.lookup) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolve(
      hostname,
      { all: true, family: typeof options.family === 'number' ? options.family : undefined, hints: options.hints },
      (error, addresses) => {
        if (error) return callback(error, '');
        const blocked = addresses.find((a) => isBlockedAddress(a.address));
        if (blocked || addresses.length === 0) {
          const refusal = Object.assign(
            new Error(
              blocked
                ? `${hostname} resolves to ${blocked.address}, a link-local or cloud metadata address; refused`
                : `${hostname} resolves to no address`,
            ),
            { code: 'EREFUSEDADDRESS' },
          );
          return callback(refusal, '');
        }
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      },
    );
  };
}

export interface SenderOptions {
  timeoutMs: number;
  /** Concurrent connections per (owner, origin) (default DEFAULT_CONNECTIONS). */
  connections?: number;
  resolve?: Resolver;
}

const NOOP = (): void => {};

type Target = { origin: string; path: string } | { refused: string };

interface Pending {
  deadline: number;
  settled: boolean;
  abort: ((error?: Error) => void) | null;
  expire: () => void;
}

export class Sender {
  private readonly pools = new Map<string, { owner: number | string; origin: string; pool: Pool }>();
  private readonly targets = new Map<string, Target>();
  private readonly lookup: ReturnType<typeof checkedLookup>;
  // Every request has the same timeout, so deadlines come due in the order requests started:
  // one FIFO and one timer serve them all (no timer or AbortSignal per request).
  private deadlines: Pending[] = [];
  private deadlineHead = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: SenderOptions) {
    this.lookup = checkedLookup(options.resolve);
  }

  /** Sends `callback` on the connections of `owner` (a webhook id, or any key that must not share them). */
  send(callback: Callback, owner: number | string): Promise<SendResult> {
    const at = Date.now();
    const started = performance.now();
    const result = (response: SendResult['response'], error: string | null): SendResult => ({
      at,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      response,
      error,
    });
    const target = this.target(callback.url);
    if ('refused' in target) return Promise.resolve(result(null, target.refused));

    return new Promise<SendResult>((resolve) => {
      const timeoutMs = this.options.timeoutMs;
      let status = 0;
      let headers: Record<string, string> = {};
      const chunks: Buffer[] = [];
      let kept = 0;
      let seen = 0;
      const pending: Pending = {
        deadline: at + timeoutMs,
        settled: false,
        abort: null,
        expire: () => finish(null, `timed out after ${timeoutMs} ms`, true),
      };
      const finish = (response: SendResult['response'], error: string | null, abort = false) => {
        if (pending.settled) return;
        pending.settled = true;
        if (abort) pending.abort?.(new Error('labhook: attempt finished'));
        // The deadline queue outlives the request: it must not keep its closures alive.
        pending.expire = NOOP;
        this.trim();
        resolve(result(response, error));
      };
      const handler: Dispatcher.DispatchHandler = {
        onConnect: (abort) => {
          pending.abort = abort;
          // Timed out while queued behind busy connections: it must not go out late.
          if (pending.settled) abort(new Error('labhook: attempt timed out'));
        },
        onHeaders: (statusCode, raw) => {
          status = statusCode;
          headers = parseRawHeaders(raw);
          return true;
        },
        onData: (chunk) => {
          seen += chunk.length;
          if (kept < RESPONSE_BODY_LIMIT) {
            const part = chunk.subarray(0, RESPONSE_BODY_LIMIT - kept);
            chunks.push(part);
            kept += part.length;
          }
          if (seen > DRAIN_LIMIT) complete(true);
          return true;
        },
        onComplete: () => complete(false),
        onError: (error) => finish(null, describe(error)),
      };
      const complete = (abort: boolean) => {
        const response = { status, headers, body: Buffer.concat(chunks).toString('utf8') };
        if (status >= 300 && status < 400) {
          const location = headers['location'];
          finish(
            response,
            `redirect${location ? ` to ${location}` : ''} not followed: a ${status} is a failure`,
            abort,
          );
        } else if (status < 200 || status >= 300) finish(response, `receiver answered ${status}`, abort);
        else finish(response, null, abort);
      };
      this.track(pending);
      this.pool(owner, target.origin).dispatch(
        { method: 'POST', path: target.path, headers: callback.headers, body: callback.body },
        handler,
      );
    });
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((entry) => entry.pool.destroy().catch(() => {})));
  }

  /**
   * Closes the pools nobody sends on any more: an owner that is gone, or an origin an owner no
   * longer uses (its URL changed). `live` maps each owner to its current URL. Requests still in
   * flight on a closed pool finish first.
   */
  retain(live: ReadonlyMap<number | string, string>): void {
    for (const [key, entry] of this.pools) {
      const url = live.get(entry.owner);
      const target = url === undefined ? undefined : this.target(url);
      if (target && 'origin' in target && target.origin === entry.origin) continue;
      this.pools.delete(key);
      void entry.pool.close().catch(() => {});
    }
  }

  private track(pending: Pending): void {
    this.deadlines.push(pending);
    if (!this.timer) this.arm();
  }

  private trim(): void {
    while (this.deadlineHead < this.deadlines.length && this.deadlines[this.deadlineHead].settled)
      this.deadlineHead += 1;
    if (this.deadlineHead > 1024 && this.deadlineHead * 2 > this.deadlines.length) {
      this.deadlines = this.deadlines.slice(this.deadlineHead);
      this.deadlineHead = 0;
    }
  }

  private arm(): void {
    this.trim();
    const head = this.deadlines[this.deadlineHead];
    if (!head) {
      this.deadlines = [];
      this.deadlineHead = 0;
      this.timer = null;
      return;
    }
    this.timer = setTimeout(() => this.expire(), Math.max(0, head.deadline - Date.now())).unref();
  }

  private expire(): void {
    const now = Date.now();
    while (this.deadlineHead < this.deadlines.length) {
      const head = this.deadlines[this.deadlineHead];
      if (!head.settled && head.deadline > now) break;
      this.deadlineHead += 1;
      if (!head.settled) head.expire();
    }
    this.arm();
  }

  /** Where a URL goes, or why it may not; remembered, as every callback to a webhook asks again. */
  private target(href: string): Target {
    let target = this.targets.get(href);
    if (target) return target;
    let url: URL | null = null;
    try {
      url = new URL(href);
    } catch {
      target = { refused: `invalid URL ${href}` };
    }
    if (url) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        target = { refused: `unsupported URL scheme ${url.protocol}` };
      // IP literals never go through the lookup, so they are checked here.
      else if (isBlockedHost(url.hostname))
        target = { refused: `${url.hostname} is a link-local or cloud metadata address; refused` };
      else target = { origin: url.origin, path: `${url.pathname}${url.search}` };
    }
    if (this.targets.size >= 1000) this.targets.clear();
    this.targets.set(href, target!);
    return target!;
  }

  private pool(owner: number | string, origin: string): Pool {
    const key = `${owner}\u0000${origin}`;
    let entry = this.pools.get(key);
    if (!entry) {
      const pool = new Pool(origin, {
        connections: this.options.connections ?? DEFAULT_CONNECTIONS,
        pipelining: 1,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        connect: { timeout: this.options.timeoutMs, lookup: this.lookup },
      });
      entry = { owner, origin, pool };
      this.pools.set(key, entry);
    }
    return entry.pool;
  }
}

function parseRawHeaders(raw: Buffer[] | string[] | null): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!raw) return headers;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toString().toLowerCase();
    const value = raw[i + 1].toString();
    headers[name] = Object.hasOwn(headers, name) ? `${headers[name]}, ${value}` : value;
  }
  return headers;
}

function describe(error: unknown): string {
  const e = error as { message?: string; code?: string; cause?: { message?: string; code?: string } };
  // undici wraps socket errors; the cause says what actually happened.
  const inner = e.cause && e.cause.message ? e.cause : e;
  const code = inner.code ?? e.code;
  const message = inner.message ?? String(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
