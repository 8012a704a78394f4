/**
 * Test sessions from Appium servers. Appium 3 lists its sessions at `GET /appium/sessions` only
 * when started with `--allow-insecure '*:session_discovery'`; each session's device is the UDID in
 * its capabilities. Each server is polled on its own, so a slow one never delays the others.
 */
import { Agent, errors, request } from 'undici';
import type { Logger } from '../../log.js';
import type { DeviceSink, DeviceSource, SessionClaim, SourceState } from '../model.js';
import { APPIUM } from '../timing.js';

const REQUEST_TIMEOUT_MS = APPIUM.requestMs;
/**
 * How long a server that stops answering in time keeps the sessions we last saw on it.
 *
 * A server that cannot be vouched for has, in the end, no sessions: they are dropped. But the two
 * ways of not answering differ. A refused connection means the Appium process is gone, and its
 * sessions died with it (they never outlive the server), so they are dropped at once. A timeout
 * (or a reset) usually means a live server busy with a heavy command; dropping its sessions then would
 * flap the device utilizing → online → utilizing and send a spurious `utilizing` callback. So
 * after a timeout the last known sessions stand for this long past the last good answer (at start,
 * past boot: the sessions of the last run are not known, so the report stays incomplete meanwhile).
 */
const STALE_AFTER_TIMEOUT_MS = APPIUM.staleAfterTimeoutMs;

export const SESSION_DISCOVERY_FLAG = "--allow-insecure '*:session_discovery'";

type Outcome =
  | { kind: 'ok'; claims: SessionClaim[] }
  /** The server may still hold sessions we cannot see right now. */
  | { kind: 'timeout'; problem: string }
  | { kind: 'failed'; problem: string };

interface ServerWatch {
  url: string;
  claims: SessionClaim[];
  lastGoodAt: number;
  problem: string | null;
  checked: boolean;
  /** Timed out: its last known sessions stand, unvouched for. */
  holding: boolean;
  loggedProblem: string | null;
  warnedSessions: Set<string>;
  timer: NodeJS.Timeout | null;
  inFlight: Promise<void> | null;
}

const UDID_KEYS = ['udid', 'appium:udid', 'deviceUDID', 'appium:deviceUDID'];

function udidOf(capabilities: unknown): string | null {
  if (typeof capabilities !== 'object' || capabilities === null) return null;
  const caps = capabilities as Record<string, unknown>;
  for (const key of UDID_KEYS) {
    const value = caps[key];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  return null;
}

export class AppiumSource implements DeviceSource {
  readonly name = 'appium' as const;
  private readonly sink: DeviceSink;
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly servers: ServerWatch[];
  private stopped = true;
  private abort = new AbortController();
  private agent: Agent | null = null;
  private lastReported: string | null = null;

  constructor(options: { urls: string[]; sink: DeviceSink; log: Logger; pollMs?: number }) {
    this.sink = options.sink;
    this.log = options.log;
    this.pollMs = options.pollMs ?? APPIUM.pollMs;
    const urls = [...new Set(options.urls.map((url) => url.trim().replace(/\/+$/, '')).filter(Boolean))];
    this.servers = urls.map((url) => ({
      url,
      claims: [],
      lastGoodAt: 0,
      problem: null,
      checked: false,
      holding: false,
      loggedProblem: null,
      warnedSessions: new Set(),
      timer: null,
      inFlight: null,
    }));
  }

  async boot(): Promise<void> {
    this.stopped = false;
    this.abort = new AbortController();
    this.agent = new Agent({ connect: { timeout: REQUEST_TIMEOUT_MS }, keepAliveTimeout: 10_000 });
    for (const server of this.servers) {
      server.lastGoodAt = Date.now();
      this.pollSoon(server, 0);
    }
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    for (const server of this.servers) {
      if (server.timer) clearTimeout(server.timer);
      server.timer = null;
    }
    await Promise.all(this.servers.flatMap((server) => (server.inFlight ? [server.inFlight] : [])));
    const agent = this.agent;
    this.agent = null;
    await agent?.destroy();
  }

  status(): SourceState {
    if (this.servers.length === 0) return { state: 'off', detail: 'no Appium servers configured' };
    if (this.stopped) return { state: 'off', detail: 'stopped' };
    const problems = this.servers.flatMap((server) => (server.problem ? [server.problem] : []));
    if (problems.length > 0) return { state: 'unavailable', detail: problems.join('; ') };
    const waiting = this.servers.filter((server) => !server.checked);
    if (waiting.length > 0)
      return { state: 'running', detail: `waiting for the first answer from ${waiting.map((s) => s.url).join(', ')}` };
    const sessions = this.servers.reduce((sum, server) => sum + server.claims.length, 0);
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    return {
      state: 'running',
      detail: `watching ${plural(this.servers.length, 'Appium server')}, ${plural(sessions, 'session')}`,
    };
  }

  private pollSoon(server: ServerWatch, delay: number): void {
    if (this.stopped) return;
    server.timer = setTimeout(() => {
      server.timer = null;
      server.inFlight = this.poll(server).finally(() => {
        server.inFlight = null;
        this.pollSoon(server, this.pollMs);
      });
    }, delay);
  }

  private async poll(server: ServerWatch): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = await this.fetchSessions(server);
    } catch (error) {
      outcome = { kind: 'failed', problem: `Appium at ${server.url}: ${(error as Error).message}` };
    }
    if (this.stopped) return;
    server.checked = true;
    if (outcome.kind === 'ok') {
      server.claims = outcome.claims;
      server.lastGoodAt = Date.now();
      server.holding = false;
      if (server.problem) this.log.info(`Appium at ${server.url} answers again`);
      server.problem = null;
      server.loggedProblem = null;
    } else {
      server.problem = outcome.problem;
      const keep = outcome.kind === 'timeout' && Date.now() - server.lastGoodAt < STALE_AFTER_TIMEOUT_MS;
      if (!keep) server.claims = [];
      server.holding = keep;
      if (server.loggedProblem !== outcome.problem) {
        server.loggedProblem = outcome.problem;
        this.log.warn(outcome.problem);
      }
    }
    this.report();
  }

  private async fetchSessions(server: ServerWatch): Promise<Outcome> {
    const where = `Appium at ${server.url}`;
    let statusCode: number;
    let text: string;
    try {
      const response = await request(`${server.url}/appium/sessions`, {
        dispatcher: this.agent ?? undefined,
        headers: { accept: 'application/json' },
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: REQUEST_TIMEOUT_MS,
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      });
      statusCode = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      return this.networkOutcome(where, error);
    }

    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return {
        kind: 'failed',
        problem: `${where} answered ${statusCode} with something that is not JSON; is it an Appium server?`,
      };
    }
    const value = (body as { value?: unknown } | null)?.value;
    if (statusCode !== 200) {
      const message =
        typeof (value as { message?: unknown } | undefined)?.message === 'string'
          ? (value as { message: string }).message
          : '';
      if (message.includes('session_discovery')) {
        return {
          kind: 'failed',
          problem: `${where} does not allow session discovery: start it with ${SESSION_DISCOVERY_FLAG}`,
        };
      }
      if (statusCode === 404) {
        return { kind: 'failed', problem: `${where} has no GET /appium/sessions (Appium 3 or newer is needed)` };
      }
      return {
        kind: 'failed',
        problem: `${where} answered ${statusCode} to GET /appium/sessions${message ? `: ${message.slice(0, 200)}` : ''}`,
      };
    }
    if (!Array.isArray(value)) {
      return { kind: 'failed', problem: `${where} answered GET /appium/sessions without a session list` };
    }

    const claims: SessionClaim[] = [];
    const present = new Set<string>();
    for (const entry of value as Array<Record<string, unknown> | null>) {
      const id = entry?.id ?? entry?.sessionId;
      if (typeof id !== 'string') continue;
      present.add(id);
      const udid = udidOf(entry?.capabilities);
      if (!udid) {
        if (!server.warnedSessions.has(id)) {
          server.warnedSessions.add(id);
          this.log.warn(
            `${where}: session ${id} names no device (no udid in its capabilities), so no device is marked utilizing for it`,
          );
        }
        continue;
      }
      claims.push({
        id: `appium:${server.url}:${id}`,
        udid,
        label: `Appium session ${id} (${server.url})`,
        expiresAt: null,
      });
    }
    for (const id of server.warnedSessions) if (!present.has(id)) server.warnedSessions.delete(id);
    return { kind: 'ok', claims };
  }

  private networkOutcome(where: string, error: unknown): Outcome {
    const err = error as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    const code = err.code ?? err.cause?.code;
    if (
      err.name === 'TimeoutError' ||
      err instanceof errors.HeadersTimeoutError ||
      err instanceof errors.BodyTimeoutError ||
      err instanceof errors.ConnectTimeoutError
    ) {
      return { kind: 'timeout', problem: `${where} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s` };
    }
    if (code === 'ECONNREFUSED') return { kind: 'failed', problem: `${where} is unreachable (connection refused)` };
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
      return { kind: 'failed', problem: `${where} is unreachable (unknown host)` };
    const detail = err.cause?.message ?? err.message;
    // Resets and other socket errors: treated like a timeout, the server may be up and busy.
    return { kind: 'timeout', problem: `${where} is unreachable (${code ?? detail})` };
  }

  private report(): void {
    const claims = this.servers
      .flatMap((server) => server.claims)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    // Complete once every server has answered, or failed in a way that says it has no sessions.
    const complete = this.servers.every((server) => server.checked && !server.holding);
    const key = JSON.stringify({ complete, claims });
    if (key === this.lastReported) return;
    this.lastReported = key;
    this.sink.reportSessions('appium', claims, { complete });
  }
}
