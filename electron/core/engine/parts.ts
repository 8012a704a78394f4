/**
 * What the API handlers need from the engine's parts, as narrow interfaces so the handlers read
 * as the contract and the parts stay replaceable.
 */
import type {
  Attempt,
  Delivery,
  DeliveryStatus,
  Device,
  HealthSettings,
  Reservation,
  SourceInfo,
  WebhookEvent,
} from '../api/schemas.js';
import type { StoredWebhook } from '../webhooks/model.js';

export interface DeviceDirectory {
  devices(): Device[];
  device(udid: string): Device | undefined;
  /** In a fleet the device's host renames it, so this may have to wait for an answer. */
  rename(udid: string, name: string | null): unknown;
  /** Sets its labels; in a fleet, on the host that sees it. */
  setLabels(udid: string, labels: readonly string[]): unknown;
}

export interface ReservationDesk {
  reserve(udid: string, options: { ttlSeconds?: number; label?: string }): Reservation | Promise<Reservation>;
  /** False when there is no such reservation on that device. */
  release(udid: string, id: string): boolean | Promise<boolean>;
}

export interface DeliveryDesk {
  list(query: {
    webhookId?: number;
    udid?: string;
    status?: DeliveryStatus;
    limit: number;
    cursor?: string;
  }): Promise<{ items: Delivery[]; next: string | null }>;
  /** Throws not_found for an unknown id. */
  get(id: string): Promise<Delivery>;
  redeliver(id: string): Promise<Delivery>;
  test(webhook: StoredWebhook, event: WebhookEvent): Promise<Attempt>;
}

/** The health thresholds and reading interval: a host's own settings (db.json), not the fleet's. */
export interface HealthSettingsDesk {
  get(): HealthSettings;
  update(patch: Partial<HealthSettings>): Promise<HealthSettings>;
}

export interface SourceBoard {
  sources(): SourceInfo[];
}
