/**
 * Diagnosis for the burst: one engine burst with wall time, CPU time, GC time and journal syncs;
 * optionally followed by the bare undici baseline.
 *   node out/bench/diag/burst-cpu.js [connections]     (default: the service's own default)
 *   BASE=16 …   also run bare undici with 16 connections per receiver
 *   NOSYNC=1 …  what-if: syncs return at once
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof out/bench/diag/burst-cpu.js 16   (a profile)
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { installIoProbe, io, syncDurations } from '../io-probe.js';
import { percentile } from '../stats.js';

installIoProbe(process.env.NOSYNC === '1');
const { ReceiverHost } = await import('../receivers.js');
const { engineBurst, burstRequests, undiciBurst } = await import('../scenarios/burst.js');

const host = ReceiverHost.spawn();
const urls = await host.start(Array.from({ length: 20 }, () => ({ kind: 'ok' as const })));
const connections = process.argv[2] ? Number(process.argv[2]) : undefined;
let gc = 0;
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gc += e.duration;
});
observer.observe({ entryTypes: ['gc'] });
const r = await engineBurst(
  host,
  urls,
  urls.map((_, i) => i),
  connections ? { connections } : {},
);
console.log(
  `engine (connections ${connections ?? 'default'}): wall ${r.ms.toFixed(0)} ms, CPU ${r.cpuMs.toFixed(0)} ms, GC ${gc.toFixed(0)} ms; ` +
    `journal ${io.writes} writes, ${(io.bytes / 2 ** 20).toFixed(1)} MB, ${io.syncs} syncs, sync ms p50/p99 ${percentile(syncDurations, 50).toFixed(1)} / ${percentile(syncDurations, 99).toFixed(1)}`,
);
if (process.env.BASE) {
  const requests = burstRequests(urls);
  await host.reset();
  gc = 0;
  const b = await undiciBurst(requests, Number(process.env.BASE));
  console.log(
    `bare undici (${process.env.BASE} connections): wall ${b.ms.toFixed(0)} ms, CPU ${b.cpuMs.toFixed(0)} ms, GC ${gc.toFixed(0)} ms`,
  );
}
observer.disconnect();
await host.stop();
