/** Builds the delivery side of the engine: status changes in, signed callbacks out, every attempt logged. */
import type { ServerEvent } from '../api/contract.js';
import { DeliveryService, type DeliveryEvent, type OutboxEvent } from '../delivery/service.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/database.js';
import type { WebhookStore } from '../webhooks/store.js';
import type { EngineConfig } from './config.js';

export function wireDelivery(options: {
  config: EngineConfig;
  db: Database;
  webhooks: WebhookStore;
  log: Logger;
  version: string;
  publish: (event: ServerEvent) => void;
}): {
  service: DeliveryService;
  /** Settles once the change's callbacks are journaled (or could not be); never rejects. */
  enqueue(change: OutboxEvent): Promise<void>;
} {
  const { config, db, webhooks, log, version, publish } = options;
  const service = new DeliveryService({
    dataDir: config.dataDir,
    directory: webhooks,
    org: () => db.data.org,
    retrySchedule: config.retrySchedule,
    version,
    log,
  });
  service.on('delivery', (event: DeliveryEvent) => publish({ type: 'delivery', data: event }));
  // 410 Gone reaches the operator through the webhook store's `disabled` event.
  return {
    service,
    enqueue(change) {
      // Kobiton's rules fire nothing for utilizing → online; the window still hears of the change.
      if (change.event === null) return Promise.resolve();
      return service
        .enqueue(change)
        .catch((error: Error) =>
          log.error(`could not record the ${change.event} callbacks for ${change.udid}: ${error.message}`),
        );
    },
  };
}
