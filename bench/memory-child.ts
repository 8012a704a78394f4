/**
 * Child process for the memory and storage scenarios: a DeliveryService of its own (so its
 * resident memory is its own) logs 100,000+ attempts to fast receivers, in batches of
 * `batch` deliveries, and reports the cost of each batch (wall time, journal writes, bytes,
 * syncs) and its memory at the end. Started by bench/scenarios/memory-storage.ts with --expose-gc.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import { diff, installIoProbe, snapshot, type IoCounts } from './io-probe.js';
import { nowMs } from './stats.js';

installIoProbe();
const { DeliveryService } = await import('../electron/core/delivery/service.js');
const { FixedDirectory, makeWebhooks, ORG, VERSION, quietLogger } = await import('./harness.js');
type StatusChange = import('../electron/core/devices/model.js').StatusChange;

export interface BatchCost {
  /** Attempts logged before this batch. */
  logged: number;
  ms: number;
  /** Until every change of the batch was durable in the outbox (and its first attempts dispatched). */
  enqueueMs: number;
  /** CPU time (user + system) of this process during the batch, ms. */
  cpuMs: number;
  /** GC pauses during the batch, ms. */
  gcMs: number;
  io: IoCounts;
}

export interface MemoryReport {
  batches: BatchCost[];
  attempts: number;
  rssMb: number;
  heapUsedMb: number;
  rssAfterGcMb: number;
  heapAfterGcMb: number;
  maxRssMb: number;
  /** process.memoryUsage() before the forced GC, MB. */
  heapTotalMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  /** The old generation's committed and used size before the forced GC, MB. */
  oldSpaceMb: [committed: number, used: number];
  problems: string[];
}

const { dataDir, urls, total, batch, warmup } = JSON.parse(process.argv[2]) as {
  dataDir: string;
  urls: string[];
  total: number;
  batch: number;
  warmup: number;
};
const log = quietLogger();
let gcTotal = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcTotal += e.duration;
}).observe({ entryTypes: ['gc'] });
const webhooks = makeWebhooks(urls);
const devices = 50;
const perChange = urls.length;
const sequence = new Array<number>(devices).fill(0);

/** Logs `count` attempts through `service` in batches; returns each batch's cost. */
async function fill(service: InstanceType<typeof DeliveryService>, count: number): Promise<BatchCost[]> {
  let done = 0;
  let wake: (() => void) | null = null;
  let target = 0;
  service.on('delivery', () => {
    done += 1;
    if (done >= target && wake) {
      const w = wake;
      wake = null;
      w();
    }
  });
  const batches: BatchCost[] = [];
  for (let made = 0; made < count;) {
    const changes: StatusChange[] = [];
    for (let i = 0; i < batch / perChange; i++) {
      const d = (made / perChange + i) % devices;
      const seq = ++sequence[d];
      const event = seq % 2 ? 'online' : 'offline';
      const udid = `MEM${String(d).padStart(4, '0')}`;
      changes.push({
        id: randomUUID(),
        udid,
        name: `Bench ${udid}`,
        platform: 'android',
        from: event === 'online' ? 'offline' : 'online',
        to: event,
        event,
        sequence: seq,
        observedAt: new Date().toISOString(),
        simulated: false,
      });
    }
    const before = snapshot();
    const cpu0 = process.cpuUsage();
    const gc0 = gcTotal;
    target = done + changes.length * perChange;
    const finished = new Promise<void>((resolve) => (wake = resolve));
    const t0 = nowMs();
    await Promise.all(changes.map((c) => service.enqueue(c)));
    const enqueueMs = nowMs() - t0;
    await finished;
    const cpu = process.cpuUsage(cpu0);
    batches.push({
      logged: made,
      ms: nowMs() - t0,
      enqueueMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      gcMs: gcTotal - gc0,
      io: diff(before, snapshot()),
    });
    made += changes.length * perChange;
  }
  return batches;
}

// Warm-up in a throwaway directory, so the first measured batches do not carry the JIT's warm-up
// (the storage figures); none when this process's memory is the figure.
if (warmup > 0) {
  const scratch = `${dataDir}.warmup`;
  const warm = new DeliveryService({
    dataDir: scratch,
    directory: new FixedDirectory(webhooks),
    org: () => ORG,
    version: VERSION,
    log,
  });
  await warm.boot();
  await fill(warm, warmup);
  await warm.shutdown();
  rmSync(scratch, { recursive: true, force: true });
}

const service = new DeliveryService({
  dataDir,
  directory: new FixedDirectory(webhooks),
  org: () => ORG,
  version: VERSION,
  log,
});
let attempts = 0;
service.on('delivery', () => (attempts += 1));
await service.boot();
const batches = await fill(service, total);

const mem = process.memoryUsage();
const old = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
(globalThis as { gc?: () => void }).gc?.();
const after = process.memoryUsage();
const report: MemoryReport = {
  batches,
  attempts,
  rssMb: mem.rss / 2 ** 20,
  heapUsedMb: mem.heapUsed / 2 ** 20,
  rssAfterGcMb: after.rss / 2 ** 20,
  heapAfterGcMb: after.heapUsed / 2 ** 20,
  maxRssMb: process.resourceUsage().maxRSS / 1024,
  heapTotalMb: mem.heapTotal / 2 ** 20,
  externalMb: mem.external / 2 ** 20,
  arrayBuffersMb: mem.arrayBuffers / 2 ** 20,
  oldSpaceMb: [(old?.space_size ?? 0) / 2 ** 20, (old?.space_used_size ?? 0) / 2 ** 20],
  problems: log.problems,
};
await service.shutdown();
process.send!(report, () => process.disconnect());
