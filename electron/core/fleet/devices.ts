/**
 * Every device everywhere. Each host publishes its tracker's view of each of its devices (the
 * stream keeps the newest per host and device); every node follows all of them and merges them per
 * device: a phone that moved from one host to another, or that two hosts see at once, is one
 * device (its UDID) with the best status any live host reports (utilizing > online > offline >
 * unplugged) and that host as its `host`. A lost host's devices are `offline`, with the reason
 * "host lost", until it is heard from again.
 *
 * Actions on a device (reserve, release, rename, labels) are carried out by the host that sees it: asked
 * over the fleet when that is another host.
 */
import type { ServerEvent } from '../api/contract.js';
import { notFound } from '../api/errors.js';
import type { Device, DeviceStatus, Reservation } from '../api/schemas.js';
import { eventFor } from '../devices/status-rules.js';
import { udidKey } from '../devices/udid.js';
import type { DeviceDirectory, ReservationDesk } from '../engine/parts.js';
import type { Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import type { HostRoster } from './hosts.js';
import type { FleetLink } from './link.js';
import type { HostRequest, HostRpc } from './rpc.js';
import { STREAMS, SUBJECTS } from './subjects.js';
import { StreamTail } from './tail.js';

/** How often this host compares its devices with what it last published (changes also publish at once). */
const SYNC_MS = 1000;

export const HOST_LOST = 'host lost';

const RANK: Record<DeviceStatus, number> = { utilizing: 3, online: 2, offline: 1, unplugged: 0 };

interface DeviceMessage {
  host: string;
  udid: string;
  /** null: the host no longer knows the device (forgotten). */
  device: Device | null;
}

export interface FleetDevicesOptions {
  link: FleetLink;
  roster: HostRoster;
  rpc: HostRpc;
  host: string;
  /** This host's own tracker and reservations. */
  local: { directory: DeviceDirectory; reservations: ReservationDesk };
  publish: (event: ServerEvent) => void;
  log: Logger;
}

export class FleetDevices implements Service, DeviceDirectory, ReservationDesk {
  readonly name = 'fleet devices';
  /** Other hosts' views: udid key → host → device. */
  private readonly remote = new Map<string, Map<string, Device>>();
  /** What this host last published, per udid key (JSON). */
  private readonly published = new Map<string, string>();
  /** The merged device last shown to the window, per udid key, and the view's sequence. */
  private readonly shown = new Map<string, { device: Device; sequence: number }>();
  private readonly tail: StreamTail;
  private timer: NodeJS.Timeout | null = null;
  private syncQueued = false;

  constructor(private readonly o: FleetDevicesOptions) {
    this.tail = new StreamTail(o.link, {
      stream: STREAMS.devices.name,
      start: 'last-per-subject',
      onMessage: (msg) => this.heard(msg.json<DeviceMessage>()),
      log: o.log,
    });
  }

  async boot(): Promise<void> {
    // After a reconnect everything is published again: what was said while cut off never arrived.
    this.o.link.on('up', () => {
      this.published.clear();
      this.localChanged();
    });
    this.o.roster.on('change', (host) => {
      for (const [key, views] of this.remote) if (views.has(host)) this.refresh(key);
    });
    this.tail.start();
    this.timer = setInterval(() => this.sync(), SYNC_MS);
    this.localChanged();
  }

  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.tail.stop();
  }

  /** The local tracker changed something: publish it soon (coalesced per event-loop turn). */
  localChanged(): void {
    if (this.syncQueued) return;
    this.syncQueued = true;
    setImmediate(() => {
      this.syncQueued = false;
      this.sync();
    });
  }

  /** Answers another node's request about a device this host sees. */
  async handle(request: HostRequest): Promise<unknown> {
    const { directory, reservations } = this.o.local;
    switch (request.op) {
      case 'reserve':
        return reservations.reserve(request.udid, { ttlSeconds: request.ttlSeconds, label: request.label });
      case 'release':
        return reservations.release(request.udid, request.id);
      case 'rename': {
        if (!directory.device(request.udid)) throw notFound(`Device ${request.udid}`);
        directory.rename(request.udid, request.name);
        this.sync();
        return directory.device(request.udid) ?? null;
      }
      case 'labels': {
        if (!directory.device(request.udid)) throw notFound(`Device ${request.udid}`);
        directory.setLabels(request.udid, request.labels);
        this.sync();
        return directory.device(request.udid) ?? null;
      }
    }
  }

  // ---- DeviceDirectory ----

  devices(): Device[] {
    const keys = new Set([...this.remote.keys(), ...this.o.local.directory.devices().map((d) => udidKey(d.udid))]);
    const list: Device[] = [];
    for (const key of keys) {
      const device = this.merged(key);
      if (device) list.push(device);
    }
    return list.sort((a, b) => (a.udid < b.udid ? -1 : a.udid > b.udid ? 1 : 0));
  }

  device(udid: string): Device | undefined {
    return this.merged(udidKey(udid)) ?? undefined;
  }

  async rename(udid: string, name: string | null): Promise<void> {
    const host = this.hostOf(udid);
    if (host === this.o.host) {
      await this.o.local.directory.rename(udid, name);
      this.localChanged();
      return;
    }
    const renamed = (await this.o.rpc.ask(host, { op: 'rename', udid, name })) as unknown as Device | null;
    // The host publishes the new name too; taking its answer now lets the caller read it back at once.
    if (renamed) this.heard({ host, udid: renamed.udid, device: renamed });
  }

  async setLabels(udid: string, labels: readonly string[]): Promise<void> {
    const host = this.hostOf(udid);
    if (host === this.o.host) {
      await this.o.local.directory.setLabels(udid, labels);
      this.localChanged();
      return;
    }
    const labelled = (await this.o.rpc.ask(host, {
      op: 'labels',
      udid,
      labels: [...labels],
    })) as unknown as Device | null;
    if (labelled) this.heard({ host, udid: labelled.udid, device: labelled });
  }

  // ---- ReservationDesk ----

  async reserve(udid: string, options: { ttlSeconds?: number; label?: string }): Promise<Reservation> {
    const host = this.hostOf(udid);
    if (host === this.o.host) return this.o.local.reservations.reserve(udid, options);
    return this.o.rpc.ask(host, { op: 'reserve', udid, ...options });
  }

  /** The reservation lives on the host it was made through; every host that sees the device is asked. */
  async release(udid: string, id: string): Promise<boolean> {
    if (await this.o.local.reservations.release(udid, id)) return true;
    const hosts = [...(this.remote.get(udidKey(udid))?.keys() ?? [])].filter(
      (h) => h !== this.o.host && !this.o.roster.isLost(h),
    );
    for (const host of hosts) if (await this.o.rpc.ask(host, { op: 'release', udid, id })) return true;
    return false;
  }

  // ---- publishing and merging ----

  private hostOf(udid: string): string {
    const device = this.device(udid);
    if (!device?.host) throw notFound(`Device ${udid}`);
    return device.host;
  }

  /** Publishes what changed in this host's own view since the last time. */
  private sync(): void {
    if (!this.o.link.isUp) return;
    const seen = new Set<string>();
    for (const device of this.o.local.directory.devices()) {
      const key = udidKey(device.udid);
      seen.add(key);
      const json = JSON.stringify(device);
      if (this.published.get(key) === json) continue;
      this.send(key, { host: this.o.host, udid: device.udid, device }, json);
      this.refresh(key);
    }
    for (const key of [...this.published.keys()]) {
      if (seen.has(key)) continue;
      this.send(key, { host: this.o.host, udid: key, device: null }, null);
      this.refresh(key);
    }
  }

  private send(key: string, message: DeviceMessage, json: string | null): void {
    if (json === null) this.published.delete(key);
    else this.published.set(key, json);
    this.o.link.js.publish(SUBJECTS.device(this.o.host, key), JSON.stringify(message)).catch((error: Error) => {
      // Published again on the next sync.
      if (this.published.get(key) === json) this.published.delete(key);
      this.o.log.warn(`could not publish device ${message.udid}: ${error.message}`);
    });
  }

  private heard({ host, udid, device }: DeviceMessage): void {
    if (host === this.o.host) return;
    const key = udidKey(udid);
    let views = this.remote.get(key);
    if (device) {
      if (!views) this.remote.set(key, (views = new Map<string, Device>()));
      views.set(host, device);
    } else if (views) {
      // That host forgot the device.
      views.delete(host);
      if (views.size === 0) this.remote.delete(key);
    }
    this.refresh(key);
  }

  private merged(key: string): Device | null {
    let best: Device | null = null;
    const local = this.o.local.directory.device(key);
    if (local) best = { ...local, host: this.o.host };
    for (const [host, view] of this.remote.get(key) ?? []) {
      const candidate = this.o.roster.isLost(host) ? this.lostView(host, view) : { ...view, host };
      if (!best || better(candidate, best)) best = candidate;
    }
    return best;
  }

  private lostView(host: string, device: Device): Device {
    if (device.status === 'unplugged') return { ...device, host };
    return {
      ...device,
      host,
      status: 'offline',
      since: this.o.roster.lastSeen(host) ?? device.since,
      sessions: [],
      statusReason: HOST_LOST,
    };
  }

  /** Tells the window about a merged device that changed. */
  private refresh(key: string): void {
    const device = this.merged(key);
    if (!device) return;
    const previous = this.shown.get(key);
    if (previous && JSON.stringify(previous.device) === JSON.stringify(device)) return;
    const from: DeviceStatus = previous?.device.status ?? 'unplugged';
    // The view's own counter: it never goes back, like the callbacks' sequence.
    const sequence = Math.max((previous?.sequence ?? 0) + 1, Date.now() * 1000);
    this.shown.set(key, { device, sequence });
    this.o.publish({
      type: 'device',
      data: { device, from, event: from === device.status ? null : eventFor(from, device.status), sequence },
    });
  }
}

function better(a: Device, b: Device): boolean {
  if (RANK[a.status] !== RANK[b.status]) return RANK[a.status] > RANK[b.status];
  return a.since > b.since;
}
