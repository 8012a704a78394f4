/**
 * The burst: 200 devices × 4 transitions (online, utilizing, offline, unplugged) × 20 webhooks =
 * 16,000 callbacks, caused through the real tracker in four back-to-back reports (a hub full of
 * phones coming up, sessions starting, the hub losing power, the phones gone), delivered durably
 * and logged. Timed from the first report to the last outcome made durable.
 *
 * The baselines post the same 16,000 requests (headers and signed bodies built beforehand, off the
 * clock) with no outbox, no log and no ordering, `connections` at a time per receiver, and are
 * timed from the first request to the last response read:
 *  - undici: one `Pool` per origin, `pool.request` per callback (the ceiling on this machine);
 *  - node-fetch with a keep-alive `http.Agent` (maxSockets = connections);
 *  - Node's global `fetch`.
 */
import http from 'node:http';
import nodeFetch from 'node-fetch';
import { Pool } from 'undici';
import { buildCallback, type Callback } from '../../electron/core/delivery/payload.js';
import type { WebhookEvent } from '../../electron/core/api/schemas.js';
import type { Presence, SessionClaim } from '../../electron/core/devices/model.js';
import type { DeliveryServiceOptions } from '../../electron/core/delivery/service.js';
import { makeWebhooks, ORG, startRig, VERSION } from '../harness.js';
import type { ReceiverHost } from '../receivers.js';
import { nowMs, percentile } from '../stats.js';

export const DEVICES = 200;
export const TRANSITIONS: readonly WebhookEvent[] = ['online', 'utilizing', 'offline', 'unplugged'];

export interface BurstRun {
  ms: number;
  /** CPU time (user + system) this process spent meanwhile: steadier than wall time on a shared machine. */
  cpuMs: number;
  callbacks: number;
  /** p99 of emit → arrival over the receivers in `measured` (indices). */
  p99: number;
  p50: number;
  /** Every (receiver, device) saw its callbacks in sequence order. */
  ordered: boolean;
  problems: string[];
}

function udidOf(i: number): string {
  return `BURST${String(i).padStart(4, '0')}`;
}

/** How big a burst is: devices, and how many of TRANSITIONS each goes through. */
export interface BurstShape {
  devices: number;
  transitions: number;
}

export const FULL_BURST: BurstShape = { devices: DEVICES, transitions: TRANSITIONS.length };

/**
 * Runs the burst through the engine, one webhook per URL (webhook id = index + 1); waits until
 * the webhooks at the `healthy` indices have all their callbacks delivered.
 */
export async function engineBurst(
  host: ReceiverHost,
  urls: readonly string[],
  healthy: readonly number[],
  options: Partial<DeliveryServiceOptions> = {},
  shape: BurstShape = FULL_BURST,
): Promise<BurstRun> {
  await host.reset();
  const rig = await startRig(urls, options);
  try {
    const udids = Array.from({ length: shape.devices }, (_, i) => udidOf(i));
    const presences = (state: Presence['state']): Presence[] =>
      udids.map((udid) => ({ key: udid, udid, state, platform: 'android', name: `Bench ${udid}` }));
    const claims: SessionClaim[] = udids.map((udid) => ({
      id: `s-${udid}`,
      udid,
      label: 'bench session',
      expiresAt: null,
    }));
    const healthyIds = new Set(healthy.map((i) => i + 1));
    const expect = shape.devices * shape.transitions * healthy.length;
    // One report per transition, back to back: online, utilizing, offline, unplugged.
    const steps = [
      () => rig.tracker.reportPresences('adb', presences('ready')),
      () => rig.tracker.reportSessions('appium', claims),
      () => rig.tracker.reportPresences('adb', presences('unusable')),
      () => rig.tracker.reportPresences('adb', []),
    ].slice(0, shape.transitions);
    const cpu0 = process.cpuUsage();
    const started = nowMs();
    for (const step of steps) step();
    await rig.waitDelivered(expect, 180_000, (id) => healthyIds.has(id));
    const ms = nowMs() - started;
    const cpuMs = cpuSince(cpu0);
    const arrivals = (await host.collect()).flat();
    const latencies: number[] = [];
    let ordered = true;
    // Per webhook (receivers may share an origin): each device's callbacks in sequence order.
    const last = new Map<string, number>();
    for (const [t, id, seq, udid, webhookId] of arrivals) {
      if (!healthyIds.has(webhookId)) continue;
      const at = rig.emittedAt.get(id);
      if (at !== undefined) latencies.push(t - at);
      const key = `${webhookId} ${udid}`;
      if ((last.get(key) ?? -1) >= seq) ordered = false;
      last.set(key, seq);
    }
    return {
      ms,
      cpuMs,
      callbacks: expect,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      ordered,
      problems: [...rig.log.problems],
    };
  } finally {
    await rig.close();
  }
}

/** The 16,000 requests as the engine would send them, grouped by receiver, in the engine's order. */
export function burstRequests(urls: readonly string[]): Callback[][] {
  const webhooks = makeWebhooks(urls);
  const perReceiver: Callback[][] = urls.map(() => []);
  const observedAt = new Date().toISOString();
  let n = 0;
  for (const [k, event] of TRANSITIONS.entries()) {
    for (let d = 0; d < DEVICES; d++) {
      const eventId = `00000000-0000-4000-8000-${String(n++).padStart(12, '0')}`;
      const facts = { eventId, event, udid: udidOf(d), deviceName: `Bench ${udidOf(d)}`, sequence: k + 1, observedAt };
      for (const [w, webhook] of webhooks.entries())
        perReceiver[w].push(buildCallback(facts, webhook, ORG, VERSION, Date.now()));
    }
  }
  return perReceiver;
}

type Post = (callback: Callback) => Promise<void>;

function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

export interface BaselineRun {
  ms: number;
  cpuMs: number;
}

/** `connections` workers per receiver, each posting the next request once its last response is read. */
async function drive(requests: Callback[][], connections: number, post: Post): Promise<BaselineRun> {
  const cpu0 = process.cpuUsage();
  const started = nowMs();
  await Promise.all(
    requests.map(async (list) => {
      let next = 0;
      const worker = async () => {
        while (next < list.length) await post(list[next++]);
      };
      await Promise.all(Array.from({ length: Math.min(connections, list.length) }, worker));
    }),
  );
  return { ms: nowMs() - started, cpuMs: cpuSince(cpu0) };
}

export async function undiciBurst(requests: Callback[][], connections: number): Promise<BaselineRun> {
  const pools = new Map<string, Pool>();
  const pool = (url: string) => {
    const origin = new URL(url).origin;
    let p = pools.get(origin);
    if (!p) pools.set(origin, (p = new Pool(origin, { connections, pipelining: 1 })));
    return p;
  };
  // URL parsing is the client's own work, so it stays on the clock, as it does in the engine.
  const run = await drive(requests, connections, async (c) => {
    const url = new URL(c.url);
    const res = await pool(c.url).request({ method: 'POST', path: url.pathname, headers: c.headers, body: c.body });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`undici baseline: ${res.statusCode}`);
  });
  await Promise.all([...pools.values()].map((p) => p.destroy()));
  return run;
}

export async function nodeFetchBurst(requests: Callback[][], connections: number): Promise<BaselineRun> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const run = await drive(requests, connections, async (c) => {
    const res = await nodeFetch(c.url, { method: 'POST', headers: c.headers, body: c.body, agent });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`node-fetch baseline: ${res.status}`);
  });
  agent.destroy();
  return run;
}

export async function globalFetchBurst(requests: Callback[][], connections: number): Promise<BaselineRun> {
  return drive(requests, connections, async (c) => {
    const res = await fetch(c.url, { method: 'POST', headers: c.headers, body: c.body });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`fetch baseline: ${res.status}`);
  });
}
