/**
 * Who is in the fleet: every host publishes a heartbeat; every node follows them all and calls a
 * host lost once it has been silent for the host timeout. Silence is only counted while this node
 * itself can hear: after it (re)joins, every other host gets a whole timeout to be heard from, so
 * a node that lost the broker does not call the rest of the fleet dead.
 */
import { EventEmitter } from 'node:events';
import type { Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import type { FleetLink } from './link.js';
import { STREAMS, SUBJECTS } from './subjects.js';
import { StreamTail } from './tail.js';

export interface Heartbeat {
  host: string;
  version: string;
  startedAt: string;
}

export interface HostRosterEvents {
  /** A host was declared lost, or was heard from again. */
  change: [host: string, lost: boolean];
}

export interface HostState {
  host: string;
  lost: boolean;
  lastSeen: string | null;
  version: string | null;
}

export class HostRoster extends EventEmitter<HostRosterEvents> implements Service {
  readonly name = 'fleet hosts';
  private readonly seen = new Map<string, { at: number; beat: Heartbeat }>();
  private readonly lost = new Set<string>();
  private readonly tail: StreamTail;
  private readonly startedAt = new Date().toISOString();
  private beatTimer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  /** Since when this node has been cut off from the broker (null: it can hear), and its past deaf spells. */
  private deafSince: number | null = null;
  private readonly deafSpells: Array<{ from: number; to: number }> = [];

  constructor(
    private readonly link: FleetLink,
    private readonly options: { host: string; version: string; timeoutMs: number; log: Logger },
  ) {
    super();
    this.setMaxListeners(0);
    this.tail = new StreamTail(link, {
      stream: STREAMS.hosts.name,
      start: 'last-per-subject',
      onMessage: (msg) => {
        const beat = msg.json<Heartbeat>();
        this.seen.set(beat.host, { at: msg.time.getTime(), beat });
        this.check();
      },
      log: options.log,
    });
  }

  /** A heartbeat several times per timeout, so one lost beat never makes a host look dead. */
  get beatMs(): number {
    return Math.max(200, Math.min(3000, Math.floor(this.options.timeoutMs / 4)));
  }

  async boot(): Promise<void> {
    // Silence is counted only while this node can hear: time cut off from the broker is not a host's fault.
    this.deafSince = this.link.isUp ? null : Date.now();
    this.link.on('up', () => {
      if (this.deafSince !== null) this.deafSpells.push({ from: this.deafSince, to: Date.now() });
      this.deafSince = null;
      this.beat();
    });
    this.link.on('down', () => (this.deafSince ??= Date.now()));
    this.tail.start();
    this.beat();
    this.beatTimer = setInterval(() => this.beat(), this.beatMs);
    this.checkTimer = setInterval(() => this.check(), this.beatMs);
  }

  async shutdown(): Promise<void> {
    if (this.beatTimer) clearInterval(this.beatTimer);
    if (this.checkTimer) clearInterval(this.checkTimer);
    await this.tail.stop();
  }

  isLost(host: string): boolean {
    return host !== this.options.host && this.lost.has(host);
  }

  /** When a lost host was last heard from (ISO), or null. */
  lastSeen(host: string): string | null {
    const entry = this.seen.get(host);
    return entry ? new Date(entry.at).toISOString() : null;
  }

  hosts(): HostState[] {
    return [...this.seen.entries()]
      .map(([host, { at, beat }]) => ({
        host,
        lost: this.isLost(host),
        lastSeen: new Date(at).toISOString(),
        version: beat.version,
      }))
      .sort((a, b) => a.host.localeCompare(b.host));
  }

  private beat(): void {
    if (!this.link.isUp) return;
    const beat: Heartbeat = { host: this.options.host, version: this.options.version, startedAt: this.startedAt };
    this.link.js.publish(SUBJECTS.host(this.options.host), JSON.stringify(beat)).catch(() => undefined);
  }

  /** How long `host` has been silent while this node could hear it (0 when unknown). */
  private silentFor(at: number, now: number): number {
    let deaf = 0;
    for (const spell of this.deafSpells) deaf += Math.max(0, spell.to - Math.max(spell.from, at));
    if (this.deafSince !== null) deaf += now - Math.max(this.deafSince, at);
    return Math.max(0, now - at - deaf);
  }

  private check(): void {
    const now = Date.now();
    // Spells older than any timeout matter to nobody.
    const horizon = now - 2 * this.options.timeoutMs;
    while (this.deafSpells.length > 0 && this.deafSpells[0].to < horizon) this.deafSpells.shift();
    if (this.deafSince !== null) return;
    for (const [host, { at }] of this.seen) {
      if (host === this.options.host) continue;
      const silent = this.silentFor(at, now);
      const isLost = silent > this.options.timeoutMs;
      if (isLost === this.lost.has(host)) continue;
      if (isLost) {
        this.lost.add(host);
        this.options.log.warn(`fleet host "${host}" is lost: not heard from for ${Math.round(silent / 1000)} s`);
      } else {
        this.lost.delete(host);
        this.options.log.info(`fleet host "${host}" is back`);
      }
      this.emit('change', host, isLost);
    }
  }
}
