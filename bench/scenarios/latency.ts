/**
 * Detection → callback: a real DeviceTracker wired to a real DeliveryService; changes caused with
 * `reportPresences`, one device at a time at a steady rate, each fanned out to 20 webhooks. The
 * latency of a callback is from the tracker's `change` emit to the moment its request has fully
 * arrived at the receiver (both stamped on the system's monotonic clock).
 */
import type { Presence } from '../../electron/core/devices/model.js';
import { startRig } from '../harness.js';
import type { ReceiverHost } from '../receivers.js';
import { median, nowMs, percentile, sleep } from '../stats.js';

export interface LatencyOptions {
  events: number;
  /** Status changes per second. */
  rate: number;
  devices: number;
}

export interface LatencyRun {
  p50: number;
  p99: number;
  max: number;
  callbacks: number;
  /** Emit → outbox durable (enqueue resolved), p50/p99: the share the journal's commit takes. */
  commitP50: number;
  commitP99: number;
  /** Achieved rate, events/s (the pacing loop may fall behind on a busy machine). */
  achievedRate: number;
  problems: string[];
}

export async function latencyRun(host: ReceiverHost, urls: readonly string[], o: LatencyOptions): Promise<LatencyRun> {
  await host.reset();
  const rig = await startRig(urls);
  try {
    const states = new Map<string, Presence['state']>();
    const udids = Array.from({ length: o.devices }, (_, i) => `LAT${String(i).padStart(4, '0')}`);
    const report = () =>
      rig.tracker.reportPresences(
        'adb',
        udids.map((udid) => ({
          key: udid,
          udid,
          state: states.get(udid) ?? 'ready',
          platform: 'android',
          name: `Bench ${udid}`,
        })),
      );
    // Warm-up, not measured: every device comes online once (connections opened, code warmed).
    for (const udid of udids) states.set(udid, 'ready');
    report();
    const warm = o.devices * urls.length;
    await rig.waitDelivered(warm, 60_000);
    const warmIds = new Set(rig.emittedAt.keys());

    const interval = 1000 / o.rate;
    const started = nowMs();
    let emitted = 0;
    while (emitted < o.events) {
      const due = Math.min(o.events, Math.floor((nowMs() - started) / interval) + 1);
      for (; emitted < due; emitted++) {
        const udid = udids[emitted % udids.length];
        states.set(udid, states.get(udid) === 'ready' ? 'unusable' : 'ready');
        report();
      }
      const next = started + emitted * interval;
      await sleep(Math.max(0, next - nowMs()));
    }
    const elapsed = (nowMs() - started) / 1000;
    await rig.waitDelivered(warm + o.events * urls.length, 120_000);
    const arrivals = (await host.collect()).slice(0, urls.length);
    const latencies: number[] = [];
    for (const list of arrivals) {
      for (const [t, id] of list) {
        if (warmIds.has(id)) continue;
        const at = rig.emittedAt.get(id);
        if (at !== undefined) latencies.push(t - at);
      }
    }
    const commits: number[] = [];
    for (const [id, at] of rig.committedAt) if (!warmIds.has(id)) commits.push(at - rig.emittedAt.get(id)!);
    return {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: percentile(latencies, 100),
      callbacks: latencies.length,
      commitP50: percentile(commits, 50),
      commitP99: percentile(commits, 99),
      achievedRate: o.events / elapsed,
      problems: [...rig.log.problems],
    };
  } finally {
    await rig.close();
  }
}

export function summarise(runs: LatencyRun[]) {
  return {
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    max: median(runs.map((r) => r.max)),
    commitP50: median(runs.map((r) => r.commitP50)),
    commitP99: median(runs.map((r) => r.commitP99)),
    achievedRate: median(runs.map((r) => r.achievedRate)),
    callbacks: runs[0]?.callbacks ?? 0,
  };
}
