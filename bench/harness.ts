/**
 * The engine under test, assembled the way the Engine assembles it: a real DeviceTracker whose
 * `change` events go to a real DeliveryService writing its journal in a temp directory on disk.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeliveryService, type DeliveryEvent, type DeliveryServiceOptions } from '../electron/core/delivery/service.js';
import type { StatusChange } from '../electron/core/devices/model.js';
import { DeviceTracker } from '../electron/core/devices/tracker.js';
import type { Logger } from '../electron/core/log.js';
import type { StoredWebhook, WebhookDirectory } from '../electron/core/webhooks/model.js';
import { newSecret } from '../electron/core/webhooks/secret.js';
import { nowMs, waitUntil } from './stats.js';

export const VERSION = '0.1.0';
export const ORG = { id: 2, name: 'Bench Lab' };

export function makeWebhooks(urls: readonly string[]): StoredWebhook[] {
  const now = new Date().toISOString();
  return urls.map((url, i) => ({
    id: i + 1,
    name: `Bench receiver ${i + 1}`,
    url,
    description: '',
    events: ['online', 'offline', 'utilizing', 'unplugged'],
    enabled: true,
    devices: null,
    labels: null,
    healthCallbacks: false,
    headers: {},
    secret: newSecret(),
    createdAt: now,
    updatedAt: now,
    previousSecret: null,
  }));
}

export class FixedDirectory implements WebhookDirectory {
  constructor(private items: readonly StoredWebhook[]) {}
  list(): readonly StoredWebhook[] {
    return this.items;
  }
  get(id: number): StoredWebhook | undefined {
    return this.items.find((w) => w.id === id);
  }
  async disable(id: number): Promise<void> {
    this.items = this.items.map((w) => (w.id === id ? { ...w, enabled: false } : w));
  }
  subscribe(): () => void {
    return () => {};
  }
}

/** Keeps what the engine says; a benchmark that ran into errors must say so, not look fast. */
export function quietLogger(): Logger & { problems: string[] } {
  const problems: string[] = [];
  return {
    problems,
    info: () => {},
    warn: (m) => problems.push(`warn: ${m}`),
    error: (m) => problems.push(`error: ${m}`),
  };
}

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), `labhook-bench-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Rig {
  tracker: DeviceTracker;
  service: DeliveryService;
  webhooks: StoredWebhook[];
  dir: string;
  /** Monotonic ms at which the tracker emitted each change, by change id (= webhook-id). */
  emittedAt: Map<string, number>;
  /** Monotonic ms at which each change's outbox entries were durable (enqueue resolved). */
  committedAt: Map<string, number>;
  /** Deliveries finished (outcome durable), by webhook id. */
  delivered: Map<number, number>;
  deliveredTotal(): number;
  failed: number;
  log: ReturnType<typeof quietLogger>;
  waitDelivered(total: number, timeoutMs: number, filter?: (webhookId: number) => boolean): Promise<void>;
  close(): Promise<void>;
}

export async function startRig(urls: readonly string[], options: Partial<DeliveryServiceOptions> = {}): Promise<Rig> {
  const { dir, remove } = tempDir('rig');
  const log = quietLogger();
  const webhooks = makeWebhooks(urls);
  const service = new DeliveryService({
    dataDir: dir,
    directory: new FixedDirectory(webhooks),
    org: () => ORG,
    version: VERSION,
    log,
    ...options,
  });
  const tracker = new DeviceTracker({ initial: [], persist: () => {}, log });
  const emittedAt = new Map<string, number>();
  const committedAt = new Map<string, number>();
  const delivered = new Map<number, number>();
  let total = 0;
  const rig: Rig = {
    tracker,
    service,
    webhooks,
    dir,
    emittedAt,
    committedAt,
    delivered,
    deliveredTotal: () => total,
    failed: 0,
    log,
    async waitDelivered(count, timeoutMs, filter) {
      const done = filter
        ? () => {
            let n = 0;
            for (const [id, c] of delivered) if (filter(id)) n += c;
            return n >= count;
          }
        : () => total >= count;
      await waitUntil(
        done,
        timeoutMs,
        `${count} deliveries (${total} so far; ${log.problems.slice(0, 3).join(' | ')})`,
      );
    },
    async close() {
      await tracker.shutdown();
      await service.shutdown();
      remove();
    },
  };
  service.on('delivery', ({ delivery }: DeliveryEvent) => {
    if (delivery.status === 'delivered') {
      total += 1;
      delivered.set(delivery.webhookId, (delivered.get(delivery.webhookId) ?? 0) + 1);
    } else if (delivery.status === 'failed') rig.failed += 1;
  });
  // Stamped first thing in the listener: the moment the tracker hands the change to the engine.
  tracker.on('change', (change: StatusChange) => {
    emittedAt.set(change.id, nowMs());
    service.enqueue(change).then(
      () => committedAt.set(change.id, nowMs()),
      (error: Error) => log.error(`enqueue: ${error.message}`),
    );
  });
  await service.boot();
  await tracker.boot();
  tracker.reconcile();
  return rig;
}
