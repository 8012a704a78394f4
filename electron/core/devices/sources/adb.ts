/**
 * The adb source: what the operator's adb server sees, reported as Presences.
 *
 * adb 29's `host:track-devices` stream misses some `offline`/`unauthorized` transitions, so the
 * source both tracks and polls `host:devices`; each answer is a complete snapshot and the latest one
 * wins. Every change is reported to the sink as the complete list.
 *
 * The adb server is not ours: Labhook never starts it (a watcher that spawned adb would run it with
 * Labhook's user and environment, and fight the lab's own tooling over the port). When it is absent
 * or dies, the source says `unavailable`, retries with backoff and picks it up when it appears.
 */
import { createRequire } from 'node:module';
import type { Client, Device } from '@devicefarmer/adbkit';
import type { Logger } from '../../log.js';
import type { DeviceSink, DeviceSource, Presence, SourceState } from '../model.js';
import { ADB } from '../timing.js';
import { readProperties } from './adb-getprop.js';
import { type DeviceProps, TRANSIENT_STATES, UNKNOWN_MODEL, presenceFor, samePresences } from './adb-presence.js';

// adbkit is CommonJS with an `exports.default`: Node's ESM default import yields module.exports,
// vitest's interop yields exports.default. require() gives module.exports under both.
const { Adb } = createRequire(import.meta.url)('@devicefarmer/adbkit') as typeof import('@devicefarmer/adbkit');

type Tracker = Awaited<ReturnType<Client['trackDevices']>>;

/**
 * adbkit runs `<bin> start-server` when the server refuses a connection. A name that is on no PATH
 * turns that into an ENOENT spawn error, which we read as "no server" (see describeFailure).
 */
const NO_AUTOSTART_BIN = 'labhook-never-starts-adb';

function endQuietly(tracker: Tracker): void {
  try {
    tracker.end();
  } catch {
    // Ending a tracker whose socket already died can throw inside adbkit; it is gone either way.
  }
}

export interface AdbSourceOptions {
  host: string;
  port: number;
  sink: DeviceSink;
  log: Logger;
  /** How often the device list is polled besides tracking. */
  pollMs?: number;
  /** How long the server may be unreachable before its devices are reported gone. */
  serverGoneMs?: number;
  /** After the server comes back, how long devices seen before get to reappear before they count as changed. */
  settleMs?: number;
  /** How long one device's getprop may take before the source falls back to the adb serial. */
  getpropTimeoutMs?: number;
  /**
   * How long a device never reported before may sit in a transient state (`offline`, `connecting`,
   * `authorizing`: what adb lists during the handshake of every new transport) before it is reported
   * unusable. Without it, every plug-in and `adb connect` would read as offline, then online.
   */
  arrivalMs?: number;
  /** Retry delays while the server is unreachable grow from the first to the second value. */
  retryMs?: readonly [number, number];
}

export class AdbSource implements DeviceSource {
  readonly name = 'adb' as const;

  private readonly host: string;
  private readonly port: number;
  private readonly sink: DeviceSink;
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly serverGoneMs: number;
  private readonly settleMs: number;
  private readonly getpropTimeoutMs: number;
  private readonly retryMs: readonly [number, number];
  private readonly arrivalMs: number;

  private client: Client | null = null;
  private running = false;
  private state: SourceState = { state: 'off', detail: 'not started' };

  /** Bumped whenever a connection to the server is given up, so late answers from it are dropped. */
  private session = 0;
  private tracker: Tracker | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private pollStartedAt: number | null = null;
  private pollAgain = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retries = 0;
  private goneTimer: NodeJS.Timeout | null = null;
  private settleTimer: NodeJS.Timeout | null = null;
  /** While set, previously reported devices missing from adb's list (or transient) are kept as they were. */
  private settleUntil = 0;
  private outage = false;
  /** The outage lasted serverGoneMs: the devices were reported gone. */
  private gone = false;
  /** A complete list has come from the current connection. */
  private listed = false;
  private downLogged = false;

  /** The server's latest complete list: adb serial → raw state. */
  private devices = new Map<string, string>();
  private readonly props = new Map<string, DeviceProps>();
  private readonly fetching = new Map<string, () => void>();
  private readonly warnedGetprop = new Set<string>();
  private reported: Presence[] | null = null;
  private reportedComplete = false;
  /** When each serial not yet reported was first listed in a transient state. */
  private readonly arriving = new Map<string, number>();
  private arrivalTimer: NodeJS.Timeout | null = null;

  constructor(options: AdbSourceOptions) {
    this.host = options.host;
    this.port = options.port;
    this.sink = options.sink;
    this.log = options.log;
    this.pollMs = options.pollMs ?? ADB.pollMs;
    this.serverGoneMs = options.serverGoneMs ?? ADB.serverGoneMs;
    this.settleMs = options.settleMs ?? ADB.settleMs;
    this.getpropTimeoutMs = options.getpropTimeoutMs ?? ADB.getpropMs;
    this.retryMs = options.retryMs ?? [ADB.retry.firstMs, ADB.retry.maxMs];
    this.arrivalMs = options.arrivalMs ?? ADB.arrivalMs;
  }

  status(): SourceState {
    return { ...this.state };
  }

  async boot(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.client = Adb.createClient({ host: this.host, port: this.port, bin: NO_AUTOSTART_BIN });
    // adbkit re-emits socket errors on the client; without a listener they would crash the process.
    // Every such error also fails the call that owns the socket, which is where it is handled.
    this.client.on('error', () => {});
    this.state = { state: 'unavailable', detail: `connecting to the adb server at ${this.address}` };
    // Nothing is known yet: if no server shows up, the (empty) list is reported after serverGoneMs.
    this.startOutage();
    this.connect();
  }

  async shutdown(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.dropSession();
    for (const timer of [this.retryTimer, this.goneTimer, this.settleTimer, this.arrivalTimer])
      if (timer) clearTimeout(timer);
    this.retryTimer = this.goneTimer = this.settleTimer = this.arrivalTimer = null;
    this.client = null;
    this.state = { state: 'off', detail: 'stopped' };
  }

  private get address(): string {
    return `${this.host}:${this.port}`;
  }

  // ---- connection to the server -------------------------------------------------------------

  private connect(): void {
    const client = this.client;
    if (!this.running || !client) return;
    const session = ++this.session;
    // The tracker comes first: once it answers, the server is there, and the first poll fills the
    // list even if the tracker's first push is delayed.
    Promise.resolve()
      .then(() => client.trackDevices())
      .then(
        (tracker) => {
          if (session !== this.session || !this.running) {
            endQuietly(tracker);
            return;
          }
          this.tracker = tracker;
          // A push only says "something changed": adbkit hands out deltas against a list it keeps to
          // itself, and a push that lands before this listener is attached would be lost from any
          // mirror of it. So every push triggers a fresh complete `host:devices` instead (one more
          // loopback round trip).
          tracker.on('changeSet', () => this.poll(session, true));
          tracker.on('error', (error: Error) => this.lost(session, error));
          tracker.on('end', () => this.lost(session, new Error('the device tracker ended')));
          this.connected();
          this.poll(session);
          this.pollTimer = setInterval(() => this.poll(session), this.pollMs);
          this.pollTimer.unref?.();
        },
        (error: unknown) => this.lost(session, error),
      );
  }

  /** Asks for the complete list; `pushed` when the tracker announced a change. */
  private poll(session: number, pushed = false): void {
    const client = this.client;
    if (session !== this.session || !client) return;
    if (this.pollStartedAt !== null) {
      // The answer in flight may predate the change just pushed: ask again once it is in.
      if (pushed) this.pollAgain = true;
      // A server that accepts but never answers is as good as gone; start over.
      if (Date.now() - this.pollStartedAt > Math.max(10_000, 3 * this.pollMs))
        this.lost(session, new Error('the adb server stopped answering'));
      return;
    }
    this.pollStartedAt = Date.now();
    this.pollAgain = false;
    Promise.resolve()
      .then(() => client.listDevices())
      .then(
        (list: Device[]) => {
          if (session !== this.session) return;
          this.pollStartedAt = null;
          this.onList(new Map(list.map((device) => [device.id, device.type as string])));
          if (this.pollAgain) this.poll(session);
        },
        (error: unknown) => {
          if (session !== this.session) return;
          this.pollStartedAt = null;
          this.lost(session, error);
        },
      );
  }

  private connected(): void {
    this.retries = 0;
    this.gone = false;
    if (this.goneTimer) clearTimeout(this.goneTimer);
    this.goneTimer = null;
    if (this.outage) {
      this.outage = false;
      // Devices come back one by one after a server restart (USB ones re-handshake, TCP ones are
      // re-connected by whoever connected them); give them settleMs before their absence counts.
      if (this.reported && this.reported.length > 0) {
        this.settleUntil = Date.now() + this.settleMs;
        if (this.settleTimer) clearTimeout(this.settleTimer);
        this.settleTimer = setTimeout(() => {
          this.settleTimer = null;
          this.settleUntil = 0;
          this.publish();
        }, this.settleMs);
        this.settleTimer.unref?.();
      }
    }
    this.state = { state: 'running', detail: `adb server at ${this.address}` };
    this.log.info(
      this.downLogged
        ? `adb: the adb server at ${this.address} is back`
        : `adb: watching devices through the adb server at ${this.address}`,
    );
    this.downLogged = false;
  }

  /** The server went away (or never was there): tear the session down and retry with backoff. */
  private lost(session: number, error: unknown): void {
    if (session !== this.session || !this.running) return;
    this.dropSession();
    const reason = this.describeFailure(error);
    if (!this.downLogged) {
      // Logged once per outage; the retries are silent until the server is back.
      this.downLogged = true;
      this.log.warn(`adb: ${reason}; retrying in the background`);
    }
    this.state = { state: 'unavailable', detail: reason };
    this.startOutage();
    const [first, max] = this.retryMs;
    const delay = Math.min(max, first * 2 ** this.retries);
    this.retries += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
    this.retryTimer.unref?.();
  }

  private dropSession(): void {
    this.session += 1;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    this.pollStartedAt = null;
    this.pollAgain = false;
    this.listed = false;
    if (this.tracker) endQuietly(this.tracker);
    this.tracker = null;
    // Property reads in flight ride on the old server; they are redone once it is back.
    for (const cancel of this.fetching.values()) cancel();
    this.fetching.clear();
  }

  /**
   * What an outage means for the report (the choice, and why):
   * - while the server is unreachable the last report stands, for up to serverGoneMs (10 s): an adb
   *   restart (a crash, `adb kill-server && adb start-server`, an SDK update) that comes back within
   *   that must not read as every phone being unplugged and plugged in again — receivers would get
   *   an unplugged/online pair per phone for nothing;
   * - when it stays away longer, the empty list is reported: by then nobody can vouch for the
   *   devices, and a host whose adb is gone must not show phones online forever;
   * - when it comes back, the devices reported before get settleMs (5 s) to reappear and finish
   *   their handshake (see connected()), since a fresh server lists nothing at first.
   * The cost: a phone really unplugged during a restart is reported up to serverGoneMs + settleMs late.
   */
  private startOutage(): void {
    if (this.outage) return;
    this.outage = true;
    if (this.goneTimer) clearTimeout(this.goneTimer);
    this.goneTimer = setTimeout(() => {
      this.goneTimer = null;
      if (!this.running || !this.outage) return;
      this.gone = true;
      this.devices = new Map();
      this.settleUntil = 0;
      this.publish();
    }, this.serverGoneMs);
    this.goneTimer.unref?.();
  }

  private describeFailure(error: unknown): string {
    const err = error as NodeJS.ErrnoException | undefined;
    const code = err?.code;
    const spawnFailed = code === 'ENOENT' && typeof err?.syscall === 'string' && err.syscall.startsWith('spawn');
    if (spawnFailed || code === 'ECONNREFUSED')
      return `no adb server is listening at ${this.address} (start one with "adb start-server")`;
    if (code === 'ECONNRESET' || /Connection closed|tracker ended/.test(err?.message ?? ''))
      return `the adb server at ${this.address} closed the connection`;
    const message = (err?.message ?? String(error)).split('\n')[0].trim();
    return `the adb server at ${this.address} is unreachable: ${message}`;
  }

  // ---- device list → presences ----------------------------------------------------------------

  private onList(devices: Map<string, string>): void {
    if (!this.running) return;
    this.devices = devices;
    this.listed = true;
    for (const [serial, state] of devices) {
      if (state === 'device' && !this.props.has(serial) && !this.fetching.has(serial)) this.fetchProps(serial);
    }
    this.publish();
  }

  /**
   * Reads ro.serialno and ro.product.model with one `shell:getprop`. Each device has its own read,
   * bounded by getpropTimeoutMs, so a slow phone delays only its own report.
   */
  private fetchProps(serial: string): void {
    const client = this.client;
    if (!client) return;
    const session = this.session;
    let done = false;
    const read = readProperties(client, serial);
    const finish = (props: DeviceProps | null, failure?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.fetching.delete(serial);
      if (session !== this.session || !this.running) return;
      if (!props) {
        // A read that failed because the device left `device` meanwhile is retried when it returns;
        // only a device that is still usable gets the fallback identity.
        if (this.devices.get(serial) !== 'device') {
          this.publish();
          return;
        }
        if (!this.warnedGetprop.has(serial)) {
          this.warnedGetprop.add(serial);
          this.log.warn(
            `adb: could not read the properties of ${serial} (${failure}); using the adb serial as its udid`,
          );
        }
        props = { serialno: serial, model: UNKNOWN_MODEL, failed: true };
      }
      this.props.set(serial, props);
      this.publish();
    };
    const timer = setTimeout(() => {
      read.abandon();
      finish(null, `no answer within ${this.getpropTimeoutMs} ms`);
    }, this.getpropTimeoutMs);
    timer.unref?.();
    this.fetching.set(serial, () => {
      done = true;
      clearTimeout(timer);
      read.abandon();
    });
    read.result.then(
      (properties) => {
        const serialno = properties['ro.serialno']?.trim();
        const model = properties['ro.product.model']?.trim();
        finish({ serialno: serialno || serial, model: model || UNKNOWN_MODEL, failed: false });
      },
      (error: unknown) => finish(null, (error as Error).message.split('\n')[0]),
    );
  }

  private publish(): void {
    if (!this.running) return;
    const previous = new Map((this.reported ?? []).map((presence) => [presence.key, presence]));
    const now = Date.now();
    const settling = now < this.settleUntil;
    const presences: Presence[] = [];
    const seen = new Set<string>();
    let nextArrival = Infinity;
    for (const [serial, state] of this.devices) {
      const held = previous.get(serial);
      if (!held && TRANSIENT_STATES.has(state)) {
        const since = this.arriving.get(serial) ?? now;
        this.arriving.set(serial, since);
        if (now - since < this.arrivalMs) {
          nextArrival = Math.min(nextArrival, since + this.arrivalMs);
          continue;
        }
      }
      let presence = presenceFor(serial, state, this.props.get(serial));
      // A usable device whose getprop is still running keeps what was last said about it (or is not
      // mentioned yet); a transient state during the settle window keeps the pre-restart report.
      if (!presence || (settling && held && TRANSIENT_STATES.has(state))) presence = held ?? null;
      if (!presence) continue;
      presences.push(presence);
      seen.add(serial);
    }
    if (settling) {
      for (const [key, presence] of previous) if (!seen.has(key)) presences.push(presence);
    }
    presences.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

    // What adb no longer lists is forgotten: the next phone at that address may be another one.
    const keep = new Set(presences.map((presence) => presence.key));
    for (const serial of this.props.keys())
      if (!this.devices.has(serial) && !keep.has(serial)) this.props.delete(serial);
    for (const serial of this.warnedGetprop) if (!this.devices.has(serial)) this.warnedGetprop.delete(serial);
    for (const serial of this.arriving.keys())
      if (this.devices.get(serial) === undefined || keep.has(serial)) this.arriving.delete(serial);
    if (this.arrivalTimer) clearTimeout(this.arrivalTimer);
    this.arrivalTimer = null;
    if (nextArrival !== Infinity) {
      this.arrivalTimer = setTimeout(
        () => {
          this.arrivalTimer = null;
          this.publish();
        },
        Math.max(0, nextArrival - now),
      );
      this.arrivalTimer.unref?.();
    }

    // Complete once nothing is left to wait for: the server's list is in (or the server is declared
    // gone), no getprop is pending, no new transport is still in its handshake, no settle is running.
    const complete = (this.gone || this.listed) && this.fetching.size === 0 && nextArrival === Infinity && !settling;
    if (this.reported && complete === this.reportedComplete && samePresences(this.reported, presences)) return;
    this.reported = presences;
    this.reportedComplete = complete;
    this.sink.reportPresences('adb', presences, { complete });
  }
}
