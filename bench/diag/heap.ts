/**
 * Diagnosis for memory: what the delivery index holds for a full log. Fills a log (103,000
 * attempts), opens it in this process, and prints the retained heap by kind of object.
 *   node --expose-gc out/bench/diag/heap.js
 */
import { rmSync } from 'node:fs';
import v8 from 'node:v8';
import { DeliveryService } from '../../electron/core/delivery/service.js';
import { FixedDirectory, makeWebhooks, ORG, quietLogger, tempDir, VERSION } from '../harness.js';
import { ReceiverHost } from '../receivers.js';
import { fillLog } from '../scenarios/memory-storage.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const host = ReceiverHost.spawn();
const urls = await host.start(Array.from({ length: 20 }, () => ({ kind: 'ok' as const })));
const log = tempDir('log');
await fillLog(log.dir, urls, 103_000, 1000);
await host.stop();
gc();
const before = process.memoryUsage().heapUsed;
const service = new DeliveryService({
  dataDir: log.dir,
  directory: new FixedDirectory(makeWebhooks([])),
  org: () => ORG,
  version: VERSION,
  log: quietLogger(),
});
await service.boot();
gc();
console.log(`heap held by the opened log: ${((process.memoryUsage().heapUsed - before) / 2 ** 20).toFixed(1)} MB`);
const file = v8.writeHeapSnapshot(`${log.dir}/index.heapsnapshot`);
await service.shutdown();

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}
const { readFileSync } = await import('node:fs');
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const fields = snap.snapshot.meta.node_fields;
const types = snap.snapshot.meta.node_types[0];
const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
const byKind = new Map<string, [count: number, bytes: number]>();
for (let i = 0; i < snap.nodes.length; i += fields.length) {
  const type = types[snap.nodes[i + iType]];
  const name = type === 'object' ? snap.strings[snap.nodes[i + iName]] : `(${type})`;
  const agg = byKind.get(name) ?? [0, 0];
  agg[0] += 1;
  agg[1] += snap.nodes[i + iSize];
  byKind.set(name, agg);
}
for (const [name, [count, bytes]] of [...byKind].sort((a, b) => b[1][1] - a[1][1]).slice(0, 12)) {
  console.log(`${(bytes / 2 ** 20).toFixed(1).padStart(7)} MB ${String(count).padStart(8)}  ${name.slice(0, 60)}`);
}
rmSync(log.dir, { recursive: true, force: true });
