/**
 * `npm run bench`: every scenario of issue 5 on 127.0.0.1, each repeated, medians reported, ratios
 * taken against baselines measured in this same process run. Prints one table at the end.
 *
 * Options: --runs=N (repetitions, default 3), --rate=N (latency scenario, status changes/s,
 * default 100), --only=latency,adb,burst,isolation,memory (a subset).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { tempDir } from './harness.js';
import { ReceiverHost } from './receivers.js';
import { adbEndToEnd } from './scenarios/adb-e2e.js';
import {
  burstRequests,
  engineBurst,
  globalFetchBurst,
  nodeFetchBurst,
  undiciBurst,
  type BaselineRun,
  type BurstRun,
} from './scenarios/burst.js';
import { HEALTHY, isolationRun, SHARED_HEALTHY, SHARED_SHAPE, sharedOriginRun } from './scenarios/isolation.js';
import { latencyRun, summarise } from './scenarios/latency.js';
import { bootService, costAt, fillLog, fullDataDir, launchServe } from './scenarios/memory-storage.js';
import { fmt, median, nowMs } from './stats.js';
import { render, type Row } from './table.js';
import { DEFAULT_CONNECTIONS } from '../electron/core/delivery/sender.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const RUNS = Number(args.get('runs') ?? 3);
const RATE = Number(args.get('rate') ?? 100);
const ONLY = new Set((args.get('only') ?? 'latency,adb,burst,isolation,memory').split(','));
/** Per receiver, for the bare clients and node-fetch: enough to keep loopback busy, few enough not to drown 2 cores in sockets. */
const BASELINE_CONNECTIONS = Number(args.get('baseline-connections') ?? 16);
const WEBHOOKS = 20;
const LOG_ATTEMPTS = 103_000;
const BATCH = 1000;

const rows: Row[] = [];
const results: Record<string, unknown> = {};
const begun = nowMs();
const say = (m: string) => process.stderr.write(`[bench ${fmt((nowMs() - begun) / 1000, 0).padStart(3)} s] ${m}\n`);
const ms = (v: number) => fmt(v);
const yes = (ok: boolean) => ok;

const host = ReceiverHost.spawn();
try {
  const urls = await host.start(Array.from({ length: WEBHOOKS }, () => ({ kind: 'ok' as const })));
  const [blackHole, slow, shared] = await host.start([
    { kind: 'hang' },
    { kind: 'slow', delayMs: 2000 },
    { kind: 'routes' },
  ]);

  if (ONLY.has('latency')) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      say(`latency run ${i + 1}/${RUNS}: 2,000 changes at ${RATE}/s × ${WEBHOOKS} webhooks`);
      runs.push(await latencyRun(host, urls, { events: 2000, rate: RATE, devices: 50 }));
    }
    const s = summarise(runs);
    results.latency = { runs, summary: s, rate: RATE };
    const scen = `latency (2,000 changes at ${RATE}/s × ${WEBHOOKS} webhooks = ${s.callbacks} callbacks)`;
    rows.push({ scenario: scen, metric: 'tracker emit → received, p50 (ms)', value: ms(s.p50) });
    rows.push({
      scenario: scen,
      metric: 'tracker emit → received, p99 (ms)',
      value: ms(s.p99),
      target: '≤ 10',
      met: yes(s.p99 <= 10),
    });
    rows.push({
      scenario: scen,
      metric: 'of which emit → outbox durable, p50 / p99 (ms)',
      value: `${ms(s.commitP50)} / ${ms(s.commitP99)}`,
    });
    for (const r of runs) if (r.problems.length) say(`latency problems: ${r.problems.slice(0, 3).join(' | ')}`);
  }

  if (ONLY.has('adb')) {
    say('adb end to end: real adb server + emulated adbd, 5 cycles');
    const legs = await adbEndToEnd(host, urls, 5);
    results.adb = legs;
    for (const leg of legs) {
      rows.push({
        scenario: `adb e2e → ${leg.kind} (${leg.events} events × ${WEBHOOKS})`,
        metric: 'change → received, median (ms): adb / source / delivery',
        value: `${ms(leg.total)}: ${ms(leg.adb)} / ${ms(leg.source)} / ${ms(leg.delivery)}`,
        ratio: `adb ${fmt((100 * leg.adb) / leg.total, 0)} %`,
      });
    }
  }

  const healthyRuns: BurstRun[] = [];
  if (ONLY.has('burst') || ONLY.has('isolation')) {
    const requests = burstRequests(urls);
    const tuned: BurstRun[] = [];
    const undici: BaselineRun[] = [];
    const nodeFetch: BaselineRun[] = [];
    const globalFetch: BaselineRun[] = [];
    const withBaselines = ONLY.has('burst');
    for (let i = 0; i < RUNS; i++) {
      say(`burst run ${i + 1}/${RUNS}: engine`);
      const run = await engineBurst(
        host,
        urls,
        urls.map((_, j) => j),
      );
      healthyRuns.push(run);
      if (run.problems.length) say(`burst problems: ${run.problems.slice(0, 3).join(' | ')}`);
      if (!withBaselines) continue;
      say(
        `burst run ${i + 1}/${RUNS}: engine with connections: ${BASELINE_CONNECTIONS}; bare undici, node-fetch, fetch (${BASELINE_CONNECTIONS} connections per receiver)`,
      );
      tuned.push(
        await engineBurst(
          host,
          urls,
          urls.map((_, j) => j),
          { connections: BASELINE_CONNECTIONS },
        ),
      );
      await host.reset();
      undici.push(await undiciBurst(requests, BASELINE_CONNECTIONS));
      await host.reset();
      nodeFetch.push(await nodeFetchBurst(requests, BASELINE_CONNECTIONS));
      await host.reset();
      globalFetch.push(await globalFetchBurst(requests, BASELINE_CONNECTIONS));
    }
    results.burst = { engine: healthyRuns, tuned, undici, nodeFetch, globalFetch, connections: BASELINE_CONNECTIONS };
    if (withBaselines) {
      const wall = (runs: ReadonlyArray<{ ms: number }>) => median(runs.map((r) => r.ms));
      const cpu = (runs: ReadonlyArray<{ cpuMs: number }>) => median(runs.map((r) => r.cpuMs));
      const E = wall(healthyRuns);
      const T = wall(tuned);
      const U = wall(undici);
      const N = wall(nodeFetch);
      const F = wall(globalFetch);
      const scen = `burst (200 devices × 4 × ${WEBHOOKS} = 16,000 callbacks)`;
      rows.push({
        scenario: scen,
        metric: `engine (default ${DEFAULT_CONNECTIONS} connections/receiver), durable + logged, wall (ms)`,
        value: ms(E),
        baseline: `bare undici ${ms(U)}`,
        ratio: fmt(U / E, 2),
        target: '≥ 0.5',
        met: yes(U / E >= 0.5),
      });
      rows.push({
        scenario: scen,
        metric: '  same, CPU time of the client process (ms)',
        value: ms(cpu(healthyRuns)),
        baseline: `bare undici ${ms(cpu(undici))}`,
        ratio: fmt(cpu(undici) / cpu(healthyRuns), 2),
      });
      rows.push({
        scenario: scen,
        metric: `engine with connections: ${BASELINE_CONNECTIONS} (the bare clients' setting), wall (ms)`,
        value: ms(T),
        baseline: `bare undici ${ms(U)}`,
        ratio: fmt(U / T, 2),
        target: '≥ 0.5',
        met: yes(U / T >= 0.5),
      });
      rows.push({
        scenario: scen,
        metric: '  same, CPU time of the client process (ms)',
        value: ms(cpu(tuned)),
        baseline: `bare undici ${ms(cpu(undici))}`,
        ratio: fmt(cpu(undici) / cpu(tuned), 2),
      });
      rows.push({
        scenario: scen,
        metric: 'engine vs a bare node-fetch loop, wall (ms)',
        value: ms(E),
        baseline: `node-fetch ${ms(N)}`,
        ratio: fmt(N / E, 2),
      });
      rows.push({
        scenario: scen,
        metric: 'node-fetch loop, no bookkeeping, wall (ms)',
        value: ms(N),
        baseline: `bare undici ${ms(U)}`,
        ratio: fmt(U / N, 2),
      });
      rows.push({
        scenario: scen,
        metric: 'global fetch loop, no bookkeeping, wall (ms)',
        value: ms(F),
        baseline: `bare undici ${ms(U)}`,
        ratio: fmt(U / F, 2),
      });
      const ordered = [...healthyRuns, ...tuned].every((r) => r.ordered);
      rows.push({
        scenario: scen,
        metric: 'callbacks in order per (webhook, device)',
        value: ordered ? 'yes' : 'no',
        target: 'yes',
        met: ordered,
      });
    }
  }

  if (ONLY.has('isolation')) {
    const runs: BurstRun[] = [];
    for (let i = 0; i < RUNS; i++) {
      say(`isolation run ${i + 1}/${RUNS}: 18 healthy + black hole + 2 s receiver`);
      runs.push(await isolationRun(host, urls, blackHole, slow));
    }
    // The same 18 receivers in the all-healthy bursts above.
    const healthyP99 = median(healthyRuns.map((r) => r.p99));
    const isolatedP99 = median(runs.map((r) => r.p99));
    results.isolation = { runs, healthyP99, isolatedP99, healthy: HEALTHY.length };
    rows.push({
      scenario: 'isolation (burst; 1 black hole + 1 receiver answering after 2 s)',
      metric: '18 healthy receivers: emit → received p99 (ms)',
      value: ms(isolatedP99),
      baseline: `all healthy ${ms(healthyP99)}`,
      ratio: `${fmt(isolatedP99 / healthyP99, 2)}×`,
      target: '≤ 1.5×',
      met: yes(isolatedP99 / healthyP99 <= 1.5),
    });

    const alone: BurstRun[] = [];
    const beside: BurstRun[] = [];
    for (let i = 0; i < RUNS; i++) {
      say(
        `isolation run ${i + 1}/${RUNS}, one origin: ${SHARED_HEALTHY} healthy webhooks, then with a 2 s and a silent one`,
      );
      alone.push(await sharedOriginRun(host, shared, false));
      beside.push(await sharedOriginRun(host, shared, true));
    }
    const aloneP99 = median(alone.map((r) => r.p99));
    const besideP99 = median(beside.map((r) => r.p99));
    results.sharedOrigin = { alone, beside, aloneP99, besideP99 };
    rows.push({
      scenario: `isolation on one origin (${SHARED_SHAPE.devices} devices × ${SHARED_HEALTHY} webhooks; + a 2 s and a silent webhook)`,
      metric: `${SHARED_HEALTHY} healthy webhooks: emit → received p99 (ms)`,
      value: ms(besideP99),
      baseline: `healthy alone ${ms(aloneP99)}`,
      ratio: `${fmt(besideP99 / aloneP99, 2)}×`,
      target: '≤ 1.5×',
      met: yes(besideP99 / aloneP99 <= 1.5),
    });
  }

  if (ONLY.has('memory')) {
    const log = tempDir('log');
    try {
      say(`memory + storage: logging ${LOG_ATTEMPTS.toLocaleString('en')} attempts in a child process`);
      const report = await fillLog(log.dir, urls, LOG_ATTEMPTS, BATCH);
      say(`storage: logging ${LOG_ATTEMPTS.toLocaleString('en')} attempts in batches of ${BATCH}, after a warm-up`);
      const scratch = tempDir('storage');
      const costs = await fillLog(scratch.dir, urls, LOG_ATTEMPTS, BATCH, [], 10 * BATCH).finally(() =>
        scratch.remove(),
      );
      if ([...report.problems, ...costs.problems].length)
        say(`memory/storage problems: ${[...report.problems, ...costs.problems].slice(0, 3).join(' | ')}`);
      rows.push({
        scenario: `memory (a process that logged ${report.attempts.toLocaleString('en')} attempts)`,
        metric: 'RSS (MB)',
        value: fmt(report.rssMb, 0),
        target: '≤ 150',
        met: yes(report.rssMb <= 150),
      });
      rows.push({
        scenario: `memory (a process that logged ${report.attempts.toLocaleString('en')} attempts)`,
        metric: 'V8 heap used, before / after a full GC (MB)',
        value: `${fmt(report.heapUsedMb, 0)} / ${fmt(report.heapAfterGcMb, 0)}`,
      });

      const storage = [1000, 10_000, 50_000, 100_000].map((size) => costAt(costs.batches, size, BATCH));
      const base = storage[0];
      for (const c of storage) {
        const grow = c.msPerDelivery / base.msPerDelivery;
        const growCpu = c.cpuMsPerDelivery / base.cpuMsPerDelivery;
        const first = c === base;
        rows.push({
          scenario: `storage (log at ${fmt(c.logged / 1000, 0)}k attempts)`,
          metric: 'wall ms / delivery; CPU ms (of which GC); bytes, syncs / delivery',
          value: `${fmt(c.msPerDelivery, 3)}; ${fmt(c.cpuMsPerDelivery, 3)} (${fmt(c.gcMsPerDelivery, 3)}); ${fmt(c.bytesPerDelivery, 0)} B, ${fmt(c.syncsPerDelivery, 4)}`,
          baseline: first ? undefined : `at 1k: ${fmt(base.msPerDelivery, 3)}; ${fmt(base.cpuMsPerDelivery, 3)}`,
          ratio: first ? undefined : `wall ${fmt(grow, 2)}×, CPU ${fmt(growCpu, 2)}×`,
          target: first ? undefined : 'flat (≤ 1.5×)',
          met: first ? undefined : yes(Math.min(grow, growCpu) <= 1.5),
        });
      }
      results.storage = { storage, batches: costs.batches };
      results.memory = { ...report, batches: undefined };

      const full = fullDataDir(log.dir);
      try {
        say('start-up: serve with the full log and with an empty data directory');
        await launchServe(full.dir); // first start writes db.json; not timed
        const fullRuns = [];
        const emptyRuns = [];
        for (let i = 0; i < 5; i++) {
          fullRuns.push(await launchServe(full.dir));
          const fresh = tempDir('empty');
          emptyRuns.push(await launchServe(fresh.dir));
          fresh.remove();
        }
        const loaded = /delivery log: (\d+) deliveries/.exec(fullRuns[0].output)?.[1];
        const F = median(fullRuns.map((r) => r.ms));
        const E = median(emptyRuns.map((r) => r.ms));
        rows.push({
          scenario: 'start-up: serve launch → listening line',
          metric: loaded
            ? `full log (${Number(loaded).toLocaleString('en')} deliveries) (ms)`
            : 'full log (ms) — NOT loaded: serve does not open the journal yet',
          value: ms(F),
          baseline: `empty dir ${ms(E)}`,
          ratio: `${fmt(F / E, 2)}×`,
          target: '≤ 1500',
          met: yes(F <= 1500),
        });
        const serveRss = median(fullRuns.map((r) => r.rssMb));
        rows.push({
          scenario: 'start-up: serve launch → listening line',
          metric: 'serve RSS just after start, full log (MB)',
          value: fmt(serveRss, 0),
          baseline: `empty dir ${fmt(median(emptyRuns.map((r) => r.rssMb)), 0)}`,
          target: '≤ 150',
          met: yes(serveRss <= 150),
        });
        say('start-up: DeliveryService alone on the full log, fresh processes');
        const boots = [];
        for (let i = 0; i < 3; i++) boots.push(await bootService(full.dir));
        rows.push({
          scenario: 'start-up: fresh process opening the full log (DeliveryService only)',
          metric: 'launch → booted (ms); of which replay (ms); RSS (MB)',
          value: `${ms(median(boots.map((b) => b.launchMs)))}; ${ms(median(boots.map((b) => b.bootMs)))}; ${fmt(median(boots.map((b) => b.rssMb)), 0)} MB`,
          target: 'RSS ≤ 150',
          met: yes(median(boots.map((b) => b.rssMb)) <= 150),
        });
        results.startup = {
          full: fullRuns.map((r) => ({ ms: r.ms, rssMb: r.rssMb })),
          empty: emptyRuns.map((r) => ({ ms: r.ms, rssMb: r.rssMb })),
          loaded: loaded ?? null,
          boots,
        };
      } finally {
        full.remove();
      }
    } finally {
      log.remove();
    }
  }
} finally {
  await host.stop();
}

const totalS = (nowMs() - begun) / 1000;
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${fmt(os.totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}, load ${os
  .loadavg()
  .map((l) => fmt(l, 1))
  .join(' ')}`;
writeFileSync(
  fileURLToPath(new URL('./results.json', import.meta.url)),
  JSON.stringify({ date: new Date().toISOString(), machine, runs: RUNS, totalS, rows, results }, null, 1),
);
console.log(
  `\nLabhook benchmarks — ${new Date().toISOString()} — ${machine}; ${RUNS} runs each, medians; ${fmt(totalS, 0)} s\n`,
);
console.log(render(rows));
const missed = rows.filter((r) => r.met === false);
console.log(missed.length ? `\n${missed.length} target(s) missed.` : '\nEvery target met.');
