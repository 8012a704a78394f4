/**
 * The device status tracker: the one place that turns what the sources see into statuses and
 * status changes. Sources report complete snapshots (presences, sessions); the tracker merges them
 * per device, applies Kobiton's rules (status-rules.ts) and emits one `change` per real change, in
 * order, synchronously within the report that caused it, so the delivery layer can enqueue in
 * emission order.
 *
 * Start-up reconciliation: `initial` holds the statuses persisted at the last shutdown. Sources need
 * a moment after boot before they can vouch for every device (the adb server answers, each phone's
 * getprop returns, usbmuxd lists), so a persisted device nobody has reported yet keeps its
 * persisted status until reconciliation, which happens once every source named in `awaitSources`
 * has given a complete report (model.ts: ReportOptions). Each source bounds how long that takes: a
 * source that cannot start says so with a complete, empty report once it has waited long enough
 * for its peer (timing.ts), so the tracker itself never guesses with a timer of its own; its
 * backstop (`backstopMs`, 60 s) only covers a source that breaks that promise, and is logged as a
 * fault. The engine may also call `reconcile()`.
 * From then on every device's status is derived from the reports alone. A device a source does
 * report before that is tracked normally, against its persisted status, with one exception: a device
 * utilizing at shutdown stays utilizing until reconciliation even if it is reachable without a
 * session, because the session sources (Appium's poll) may simply not have reported yet; letting it
 * drop to online and back would fire a second `utilizing`.
 *
 * Wiring: list the tracker after the sources in the engine's boot order. Its `boot()` then starts
 * the backstop once the sources are up, and at shutdown it goes first: it flushes, and the
 * reports that arrive while sources stop are ignored (stopping Labhook is not unplugging phones).
 */
import { EventEmitter } from 'node:events';
import type { Device, DeviceHealth, Session } from '../api/schemas.js';
import type { Service } from '../lifecycle.js';
import { consoleLogger, type Logger } from '../log.js';
import { changeId, nextSequence } from './change-identity.js';
import { displayName, type PersistedDevice } from './device-record.js';
import type { BatteryReading } from './health/battery.js';
import { isFlap, recentFlaps, withFlap } from './health/flaps.js';
import { currentWarnings, type BookedWarning } from './health/warnings.js';
import type { DeviceSink, Platform, Presence, ReportOptions, SessionClaim, SourceName, StatusChange } from './model.js';
import { deriveStatus, eventFor, isAttachedOnly } from './status-rules.js';
import { TRACKER } from './timing.js';
import { looksLikeIosUdid, preferredUdid, udidKey } from './udid.js';

export type { PersistedDevice } from './device-record.js';

export interface DeviceTrackerOptions {
  /** The devices persisted at the last shutdown. */
  initial: readonly PersistedDevice[];
  /**
   * Receives the full device list after changes; calls are coalesced (one per event-loop turn).
   * A returned promise is awaited at shutdown, so the last list is written before the store closes.
   */
  persist: (devices: PersistedDevice[]) => void | Promise<void>;
  /** How long a device may be on the USB bus alone before it is offline. */
  graceMs?: number;
  /** The last resort: how long after `boot()` the tracker reconciles although a source never gave a complete report. */
  backstopMs?: number;
  /** Reconcile as soon as each of these sources (device or session sources) has given a complete report. */
  awaitSources?: readonly SourceName[];
  now?: () => number;
  log?: Logger;
}

export interface DeviceTrackerEvents {
  change: [change: StatusChange];
}

interface Sighting {
  source: SourceName;
  presence: Presence;
}

interface Claim {
  source: string;
  claim: SessionClaim;
}

/** The latest battery reading of a device (kept in memory: a restart reads again). */
export interface HealthReading {
  reading: BatteryReading;
  /** When it was read (ISO 8601). */
  readAt: string;
  /** Why it could not be read, or is incomplete; null when it worked. */
  error: string | null;
}

/** What a device's health is built from. */
export interface HealthFacts {
  reading: HealthReading | null;
  flapsLastHour: number;
  warnings: BookedWarning[];
  /** The sequence of its current status (health callbacks carry it). */
  sequence: number;
}

/** Which transport sees a device under which key (an adb serial, `usbmux:<DeviceID>`). */
export interface TransportLink {
  source: SourceName;
  key: string;
  state: Presence['state'];
}

interface Entry {
  /** Current facts; `status` is the last emitted (or persisted) one. */
  record: PersistedDevice;
  /** Listed and persisted: it was persisted before, or a change has been emitted for it. */
  known: boolean;
  /** A source has reported it present since boot (see reconciliation above). */
  seen: boolean;
  /** Its status is still the one persisted at the last shutdown. */
  fromLastRun: boolean;
  presences: Sighting[];
  claims: Claim[];
  /** When it became visible on the USB bus alone; null otherwise. */
  attachedSince: number | null;
  graceTimer: NodeJS.Timeout | null;
  health: HealthReading | null;
}

export class DeviceTracker extends EventEmitter<DeviceTrackerEvents> implements DeviceSink, Service {
  readonly name = 'tracker';

  private readonly entries = new Map<string, Entry>();
  private readonly presenceKeys = new Map<string, Set<string>>();
  private readonly claimKeys = new Map<string, Set<string>>();
  private readonly persistFn: (devices: PersistedDevice[]) => void | Promise<void>;
  private persisting: Promise<void> = Promise.resolve();
  private readonly graceMs: number;
  private readonly backstopMs: number;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly awaiting: Set<string>;

  private reconciled = false;
  private closed = false;
  private backstopTimer: NodeJS.Timeout | null = null;
  private persistPending: NodeJS.Immediate | null = null;
  private dirty = false;
  private readonly outgoing: StatusChange[] = [];
  private emitting = false;

  constructor(options: DeviceTrackerOptions) {
    super();
    this.persistFn = options.persist;
    this.graceMs = options.graceMs ?? TRACKER.graceMs;
    this.backstopMs = options.backstopMs ?? TRACKER.reconcileBackstopMs;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? consoleLogger;
    this.awaiting = new Set(options.awaitSources ?? []);
    for (const device of options.initial) {
      const key = udidKey(device.udid);
      const existing = this.entries.get(key);
      // Two spellings of one iPhone may have been persisted by an older version: keep the newer.
      if (existing && existing.record.sequence >= device.sequence) continue;
      this.entries.set(key, this.newEntry({ ...device }, true));
    }
  }

  async boot(): Promise<void> {
    this.closed = false;
    if (this.reconciled || this.backstopTimer !== null) return;
    if (this.awaiting.size === 0) return this.reconcile();
    this.backstopTimer = setTimeout(() => {
      this.backstopTimer = null;
      this.log.error(
        `tracker: no complete report from ${[...this.awaiting].join(', ')} within ${this.backstopMs / 1000} s of start; ` +
          'reconciling the devices of the last run with what is known',
      );
      this.reconcile();
    }, this.backstopMs);
    this.backstopTimer.unref();
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    if (this.backstopTimer) clearTimeout(this.backstopTimer);
    this.backstopTimer = null;
    for (const entry of this.entries.values()) this.clearGrace(entry);
    this.flush();
    await this.persisting;
  }

  /**
   * Derives every persisted device's status from the reports so far and emits what changed since
   * the last run (online at shutdown and absent now: unplugged, once). Unchanged devices fire nothing.
   */
  reconcile(): void {
    if (this.backstopTimer) clearTimeout(this.backstopTimer);
    this.backstopTimer = null;
    if (this.closed || this.reconciled) return;
    this.reconciled = true;
    let unchanged = 0;
    let changed = 0;
    for (const entry of [...this.entries.values()]) {
      const before = entry.record.status;
      const fromLastRun = entry.fromLastRun;
      this.recompute(entry);
      this.drain();
      if (fromLastRun) {
        if (entry.record.status === before) unchanged += 1;
        else changed += 1;
      }
    }
    this.sweep();
    this.log.info(
      `tracker: devices reconciled with the last run (${unchanged} unchanged, ${changed} changed while Labhook was not watching)`,
    );
  }

  get isReconciled(): boolean {
    return this.reconciled;
  }

  reportPresences(source: SourceName, presences: readonly Presence[], options?: ReportOptions): void {
    if (this.closed) return;
    const grouped = byDevice(presences);
    const touched = new Set([...(this.presenceKeys.get(source) ?? []), ...grouped.keys()]);
    this.presenceKeys.set(source, new Set(grouped.keys()));
    for (const key of touched) {
      const fresh = grouped.get(key) ?? [];
      const entry = this.entryFor(key, fresh[0]?.udid);
      entry.presences = entry.presences.filter((s) => s.source !== source);
      for (const presence of fresh) {
        entry.presences.push({ source, presence: { ...presence } });
        this.learn(entry, presence);
      }
      if (entry.presences.length > 0) entry.seen = true;
    }
    this.recomputeAll(touched);
    this.reported(source, options);
  }

  reportSessions(source: string, sessions: readonly SessionClaim[], options?: ReportOptions): void {
    if (this.closed) return;
    const grouped = byDevice(sessions);
    const touched = new Set([...(this.claimKeys.get(source) ?? []), ...grouped.keys()]);
    this.claimKeys.set(source, new Set(grouped.keys()));
    for (const key of touched) {
      const fresh = grouped.get(key) ?? [];
      const entry = this.entryFor(key, fresh[0]?.udid);
      entry.claims = entry.claims
        .filter((c) => c.source !== source)
        .concat(fresh.map((claim) => ({ source, claim: { ...claim } })));
    }
    this.recomputeAll(touched);
    this.reported(source, options);
  }

  private reported(source: string, options: ReportOptions | undefined): void {
    if (this.reconciled || options?.complete === false) return;
    if (this.awaiting.delete(source) && this.awaiting.size === 0) this.reconcile();
  }

  /** Every device the tracker knows, in the API's shape. */
  devices(): Device[] {
    const list: Device[] = [];
    for (const entry of this.entries.values()) if (entry.known) list.push(this.toDevice(entry));
    return list.sort((a, b) => (a.udid < b.udid ? -1 : a.udid > b.udid ? 1 : 0));
  }

  /** One device by UDID (either spelling of an iPhone's), or undefined. */
  device(udid: string): Device | undefined {
    const entry = this.entries.get(udidKey(udid));
    return entry?.known ? this.toDevice(entry) : undefined;
  }

  /** Sets (or with null, clears) the operator's name for a device. Undefined when the device is unknown. */
  rename(udid: string, name: string | null): Device | undefined {
    const entry = this.entries.get(udidKey(udid));
    if (!entry?.known) return undefined;
    const override = name?.trim() || null;
    if (entry.record.nameOverride !== override) {
      entry.record.nameOverride = override;
      this.schedulePersist();
    }
    return this.toDevice(entry);
  }

  /** Sets a device's labels (its groups). Undefined when the device is unknown. */
  setLabels(udid: string, labels: readonly string[]): Device | undefined {
    const entry = this.entries.get(udidKey(udid));
    if (!entry?.known) return undefined;
    const next = [...new Set(labels.map((l) => l.trim()).filter(Boolean))];
    if (next.join('\n') !== entry.record.labels.join('\n')) {
      entry.record.labels = next;
      this.schedulePersist();
    }
    return this.toDevice(entry);
  }

  /** A device's labels; empty for an unknown one. */
  labelsOf(udid: string): readonly string[] {
    return this.entries.get(udidKey(udid))?.record.labels ?? [];
  }

  /** Where the device can be reached now, for readers that talk to it (battery). */
  transportsOf(udid: string): TransportLink[] {
    const entry = this.entries.get(udidKey(udid));
    if (!entry) return [];
    return entry.presences.map(({ source, presence }) => ({ source, key: presence.key, state: presence.state }));
  }

  /** What health is built from: the latest reading, the recent flaps and the warning book. */
  healthOf(udid: string): HealthFacts | undefined {
    const entry = this.entries.get(udidKey(udid));
    if (!entry?.known) return undefined;
    return {
      reading: entry.health,
      flapsLastHour: recentFlaps(entry.record.flaps, this.now()).length,
      warnings: entry.record.warnings,
      sequence: entry.record.sequence,
    };
  }

  /** Sets (or with null, forgets) a device's latest battery reading. */
  setReading(udid: string, reading: HealthReading | null): void {
    const entry = this.entries.get(udidKey(udid));
    if (entry?.known) entry.health = reading;
  }

  setWarnings(udid: string, warnings: BookedWarning[]): void {
    const entry = this.entries.get(udidKey(udid));
    if (!entry?.known) return;
    entry.record.warnings = warnings;
    this.schedulePersist();
  }

  /** Hands the current list to `persist` now if anything changed since the last call. */
  flush(): void {
    if (this.persistPending) clearImmediate(this.persistPending);
    this.persistPending = null;
    if (!this.dirty) return;
    this.dirty = false;
    const snapshot: PersistedDevice[] = [];
    for (const entry of this.entries.values()) if (entry.known) snapshot.push({ ...entry.record });
    try {
      const written = this.persistFn(snapshot);
      if (written)
        this.persisting = written.catch((error: Error) =>
          this.log.error(`tracker: could not persist device statuses: ${error.message}`),
        );
    } catch (error) {
      this.log.error(`tracker: could not persist device statuses: ${(error as Error).message}`);
    }
  }

  private newEntry(record: PersistedDevice, known: boolean): Entry {
    return {
      record,
      known,
      seen: false,
      fromLastRun: known,
      presences: [],
      claims: [],
      attachedSince: null,
      graceTimer: null,
      health: null,
    };
  }

  private entryFor(key: string, udid: string | undefined): Entry {
    let entry = this.entries.get(key);
    if (!entry) {
      const id = udid ?? key;
      entry = this.newEntry(
        {
          udid: id,
          name: id,
          nameOverride: null,
          platform: looksLikeIosUdid(id) ? 'ios' : 'android',
          status: 'unplugged',
          since: new Date(this.now()).toISOString(),
          sequence: 0,
          simulated: false,
          labels: [],
          flaps: [],
          warnings: [],
        },
        false,
      );
      this.entries.set(key, entry);
    }
    return entry;
  }

  /** Takes the name, platform and spelling a source gives; the latest name wins. */
  private learn(entry: Entry, presence: Presence): void {
    const record = entry.record;
    const udid = preferredUdid(record.udid, presence.udid);
    const name = presence.name?.trim() || record.name;
    const platform: Platform = presence.platform ?? record.platform;
    const simulated = presence.simulated ?? record.simulated;
    if (udid === record.udid && name === record.name && platform === record.platform && simulated === record.simulated)
      return;
    Object.assign(record, { udid, name, platform, simulated });
    if (entry.known) this.schedulePersist();
  }

  private recomputeAll(keys: Iterable<string>): void {
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (!entry) continue;
      this.recompute(entry);
      this.drain();
    }
    this.sweep();
  }

  private recompute(entry: Entry): void {
    // Before reconciliation, a persisted device no source has reported keeps its persisted status.
    if (!this.reconciled && !entry.seen) return;
    const now = this.now();
    const presences = entry.presences.map((s) => s.presence);
    const attachedOnly = isAttachedOnly(presences);
    if (!attachedOnly) entry.attachedSince = null;
    else entry.attachedSince ??= now;
    const record = entry.record;
    let status = deriveStatus(presences, entry.claims, entry.attachedSince, now, this.graceMs, record.status);
    if (!this.reconciled && entry.fromLastRun && record.status === 'utilizing' && status === 'online')
      status = 'utilizing';
    if (attachedOnly && entry.attachedSince !== null && now - entry.attachedSince <= this.graceMs) {
      this.armGrace(entry, entry.attachedSince + this.graceMs + 1 - now);
    } else {
      this.clearGrace(entry);
    }
    if (status === record.status) return;
    const from = record.status;
    const observedAt = new Date(now).toISOString();
    // Derived from the state it leaves, before that state is replaced (change-identity.ts).
    const id = changeId(udidKey(record.udid), record.sequence, record.since, status);
    record.status = status;
    record.since = observedAt;
    record.sequence = nextSequence(record.sequence, now);
    if (isFlap(from, status)) record.flaps = withFlap(record.flaps, now);
    entry.known = true;
    entry.fromLastRun = false;
    this.schedulePersist();
    this.outgoing.push({
      id,
      udid: record.udid,
      name: displayName(record),
      platform: record.platform,
      from,
      to: status,
      event: eventFor(from, status),
      sequence: record.sequence,
      observedAt,
      simulated: record.simulated,
      labels: [...record.labels],
    });
  }

  /**
   * Emits queued changes in order. A listener that reports back into the tracker only queues, so
   * every listener sees one device's changes in the order they happened.
   */
  private drain(): void {
    if (this.emitting) return;
    this.emitting = true;
    try {
      let change: StatusChange | undefined;
      while ((change = this.outgoing.shift())) {
        // Called one by one rather than through emit(): a failing listener must not keep the
        // others from a change, nor break the source that reported, nor hold back later changes.
        for (const listener of this.rawListeners('change')) {
          try {
            listener.call(this, change);
          } catch (error) {
            this.log.error(
              `tracker: a change listener failed on ${change.udid} ${change.from}→${change.to}: ${(error as Error).message}`,
            );
          }
        }
      }
    } finally {
      this.emitting = false;
    }
  }

  private armGrace(entry: Entry, delayMs: number): void {
    if (entry.graceTimer) return;
    entry.graceTimer = setTimeout(
      () => {
        entry.graceTimer = null;
        if (this.closed || this.entries.get(udidKey(entry.record.udid)) !== entry) return;
        this.recompute(entry);
        this.drain();
      },
      Math.max(1, delayMs),
    );
    entry.graceTimer.unref();
  }

  private clearGrace(entry: Entry): void {
    if (entry.graceTimer) clearTimeout(entry.graceTimer);
    entry.graceTimer = null;
  }

  /** Forgets devices that were never listed and that no source sees any more. */
  private sweep(): void {
    for (const [key, entry] of this.entries) {
      if (!entry.known && entry.presences.length === 0 && entry.claims.length === 0 && !entry.graceTimer)
        this.entries.delete(key);
    }
  }

  private schedulePersist(): void {
    this.dirty = true;
    if (this.persistPending || this.closed) return;
    // One write per event-loop turn: a burst of reports (a hub full of phones) becomes one call.
    this.persistPending = setImmediate(() => {
      this.persistPending = null;
      this.flush();
    });
  }

  private toDevice(entry: Entry): Device {
    const record = entry.record;
    const sessions: Session[] = entry.claims.map(({ source, claim }) => ({
      id: claim.id,
      udid: record.udid,
      source,
      label: claim.label,
      expiresAt: claim.expiresAt,
    }));
    return {
      udid: record.udid,
      name: displayName(record),
      platform: record.platform,
      status: record.status,
      since: record.since,
      transports: [...new Set(entry.presences.map((s) => s.source))].sort(),
      sessions,
      simulated: record.simulated,
      labels: [...record.labels],
      health: this.describeHealth(entry),
    };
  }

  private describeHealth(entry: Entry): DeviceHealth {
    const reading = entry.health?.reading;
    return {
      batteryLevel: reading?.level ?? null,
      batteryTemp: reading?.temperature ?? null,
      charging: reading?.charging ?? null,
      power: reading?.power ?? null,
      batteryHealth: reading?.health ?? null,
      flapsLastHour: recentFlaps(entry.record.flaps, this.now()).length,
      readAt: entry.health?.readAt ?? null,
      readError: entry.health?.error ?? null,
      warnings: currentWarnings(entry.record.warnings),
    };
  }
}

/** A report's items by device key (one phone may appear under two UDID spellings); items without a UDID are dropped. */
function byDevice<T extends { udid: string }>(items: readonly T[]): Map<string, T[]> {
  const grouped = new Map<string, T[]>();
  for (const item of items) {
    if (!item.udid) continue;
    const key = udidKey(item.udid);
    const list = grouped.get(key);
    if (list) list.push(item);
    else grouped.set(key, [item]);
  }
  return grouped;
}
