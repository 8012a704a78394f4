/**
 * A DeliveryService on a temporary data directory with an in-memory webhook directory, for the
 * delivery suites. Everything it starts is registered in the suite's `cleanups`, run after each test.
 */
import type { Delivery } from '../../electron/core/api/schemas.js';
import {
  DeliveryService,
  type DeliveryEvent,
  type DeliveryServiceOptions,
} from '../../electron/core/delivery/service.js';
import { memoryLogger } from '../../electron/core/log.js';
import type { StoredWebhook } from '../../electron/core/webhooks/model.js';
import { startReceiver, type Receiver } from '../peers/receivers.js';
import { MemoryDirectory } from './delivery-fixtures.js';
import { tempDir } from './temp-dir.js';
import { waitFor } from './wait.js';

export type Cleanups = Array<() => Promise<void> | void>;

export interface Harness {
  service: DeliveryService;
  directory: MemoryDirectory;
  dir: string;
  log: ReturnType<typeof memoryLogger>;
  events: DeliveryEvent[];
  restart(): Promise<DeliveryService>;
}

export async function receiver(cleanups: Cleanups, ...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  cleanups.push(() => r.close());
  return r;
}

/** Booted, with a fast retry schedule (0, 50, 100 ms), no jitter and a 5 s timeout unless `options` say otherwise. */
export async function harness(
  cleanups: Cleanups,
  webhooks: StoredWebhook[],
  options: Partial<DeliveryServiceOptions> = {},
  dataDir?: string,
): Promise<Harness> {
  const tmp = dataDir ? null : await tempDir();
  const dir = dataDir ?? tmp!.path;
  if (tmp) cleanups.push(tmp.remove);
  const directory = new MemoryDirectory(webhooks);
  const log = memoryLogger();
  const events: DeliveryEvent[] = [];
  const make = () => {
    const service = new DeliveryService({
      dataDir: dir,
      directory,
      org: () => ({ id: 7, name: 'Lab' }),
      retrySchedule: [0, 50, 100],
      timeoutMs: 5000,
      version: '0.1.0-test',
      log,
      jitter: 0,
      ...options,
    });
    service.on('delivery', (e: DeliveryEvent) => events.push(e));
    cleanups.push(() => service.shutdown());
    return service;
  };
  const h: Harness = {
    service: make(),
    directory,
    dir,
    log,
    events,
    async restart() {
      await h.service.shutdown();
      h.service = make();
      await h.service.boot();
      return h.service;
    },
  };
  await h.service.boot();
  return h;
}

export async function settled(service: DeliveryService, id: string, timeoutMs = 15_000): Promise<Delivery> {
  let delivery: Delivery | undefined;
  await waitFor(
    `delivery ${id} to settle`,
    async () => {
      delivery = await service.get(id);
      return delivery.status !== 'pending';
    },
    timeoutMs,
  );
  return delivery!;
}

/** Every delivery matching `query` (up to 500), newest first. */
export async function only(
  service: DeliveryService,
  query: Parameters<DeliveryService['list']>[0] = {},
): Promise<Delivery[]> {
  return (await service.list({ limit: 500, ...query })).items;
}
