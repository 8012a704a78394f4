/** Builds the delivery engine for the Engine. */
import type { ServerEvent } from '../api/contract.js';
import { ApiError } from '../api/errors.js';
import type { StatusChange } from '../devices/model.js';
import type { Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/database.js';
import type { WebhookStore } from '../webhooks/store.js';
import type { EngineConfig } from './config.js';
import type { DeliveryDesk } from './parts.js';

export interface DeliveryWiring {
  desk: DeliveryDesk;
  enqueue(change: StatusChange): void;
  services: Service[];
}

export function wireDelivery(_: { config: EngineConfig; db: Database; webhooks: WebhookStore; log: Logger; version: string; publish: (event: ServerEvent) => void }): DeliveryWiring {
  // PLACEHOLDER until the delivery engine is wired in.
  return {
    desk: {
      list: async () => ({ items: [], next: null }),
      get: async () => undefined,
      redeliver: async () => undefined,
      test: async () => {
        throw new ApiError('internal', 'not wired');
      },
      cancelWebhook: () => undefined,
    },
    enqueue: () => undefined,
    services: [],
  };
}
