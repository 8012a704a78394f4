/**
 * Child process: opens a DeliveryService on an existing data directory (replaying its journal)
 * and reports how long that took and the memory it then holds. Launch-to-ready is timed by the parent.
 */
import { nowMs } from './stats.js';

const dataDir = process.argv[2];
const { DeliveryService } = await import('../electron/core/delivery/service.js');
const { FixedDirectory, makeWebhooks, ORG, VERSION, quietLogger } = await import('./harness.js');
const service = new DeliveryService({
  dataDir,
  directory: new FixedDirectory(makeWebhooks([])),
  org: () => ORG,
  version: VERSION,
  log: quietLogger(),
});
const t0 = nowMs();
await service.boot();
const bootMs = nowMs() - t0;
const { items } = await service.list({ limit: 1 });
const rssMb = process.memoryUsage().rss / 2 ** 20;
(globalThis as { gc?: () => void }).gc?.();
const rssAfterGcMb = process.memoryUsage().rss / 2 ** 20;
await service.shutdown();
process.send!({ bootMs, rssMb, rssAfterGcMb, newest: items[0]?.id ?? null }, () => process.disconnect());
