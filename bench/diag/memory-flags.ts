/**
 * Diagnosis for memory: the memory scenario's child (103,000 logged attempts) with extra V8 flags,
 * printing its memory breakdown.
 *   node out/bench/diag/memory-flags.js [--v8-flag …]   e.g. --optimize-for-size, --max-old-space-size=128
 */
import { tempDir } from '../harness.js';
import { ReceiverHost } from '../receivers.js';
import { fillLog } from '../scenarios/memory-storage.js';

const host = ReceiverHost.spawn();
const urls = await host.start(Array.from({ length: 20 }, () => ({ kind: 'ok' as const })));
const log = tempDir('log');
try {
  const started = Date.now();
  const r = await fillLog(log.dir, urls, 103_000, 1000, process.argv.slice(2));
  const mb = (v: number) => v.toFixed(0);
  console.log(
    `${process.argv.slice(2).join(' ') || '(no flags)'}: ${r.attempts} attempts in ${((Date.now() - started) / 1000).toFixed(1)} s; RSS ${mb(r.rssMb)} MB (max ${mb(r.maxRssMb)}); ` +
      `heap total ${mb(r.heapTotalMb)}, used ${mb(r.heapUsedMb)}, after full GC ${mb(r.heapAfterGcMb)}; old space committed ${mb(r.oldSpaceMb[0])} used ${mb(r.oldSpaceMb[1])}; external ${mb(r.externalMb)} MB`,
  );
} finally {
  log.remove();
  await host.stop();
}
