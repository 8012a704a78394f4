/**
 * Diagnosis for the latency scenario: one run, with the journal's writes and syncs timed, the
 * event-loop delay and every GC pause recorded.
 *   node out/bench/diag/latency-io.js [rate=100] [events=1000]
 *   NOSYNC=1 …   what-if: syncs return at once (the sync off the send path)
 *   TMPDIR=/dev/shm …   what-if: the journal on tmpfs (no disk at all)
 */
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { installIoProbe, io, syncDurations, writeDurations } from '../io-probe.js';
import { percentile } from '../stats.js';

installIoProbe(process.env.NOSYNC === '1');
const { ReceiverHost } = await import('../receivers.js');
const { latencyRun } = await import('../scenarios/latency.js');

const host = ReceiverHost.spawn();
const urls = await host.start(Array.from({ length: 20 }, () => ({ kind: 'ok' as const })));
const eld = monitorEventLoopDelay({ resolution: 1 });
const gcByKind = new Map<number, number[]>();
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail: { kind: number } }).detail.kind;
    (gcByKind.get(kind) ?? gcByKind.set(kind, []).get(kind)!).push(e.duration);
  }
});
observer.observe({ entryTypes: ['gc'] });
eld.enable();
const r = await latencyRun(host, urls, {
  events: Number(process.argv[3] ?? 1000),
  rate: Number(process.argv[2] ?? 100),
  devices: 50,
});
eld.disable();
observer.disconnect();
const p = (list: number[]) => [50, 90, 99, 100].map((q) => percentile(list, q).toFixed(2)).join(' / ');
console.log(
  `emit → received p50 ${r.p50.toFixed(2)} p99 ${r.p99.toFixed(2)} ms; emit → outbox durable p50 ${r.commitP50.toFixed(2)} p99 ${r.commitP99.toFixed(2)} ms`,
);
console.log(
  `journal: ${io.writes} writes, ${io.syncs} syncs; write ms p50/p90/p99/max ${p(writeDurations)}; sync ms ${p(syncDurations)}`,
);
console.log(
  `event-loop delay ms p50/p99/max ${(eld.percentile(50) / 1e6).toFixed(2)} / ${(eld.percentile(99) / 1e6).toFixed(2)} / ${(eld.max / 1e6).toFixed(2)}`,
);
for (const [kind, list] of gcByKind)
  console.log(
    `GC kind ${kind} (1 scavenge, 2 mark-compact, 4 incremental, 8 weak): ${list.length} pauses, max ${Math.max(...list).toFixed(1)} ms, total ${list.reduce((a, b) => a + b, 0).toFixed(0)} ms`,
  );
await host.stop();
