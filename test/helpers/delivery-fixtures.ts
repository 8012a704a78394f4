/** Webhooks, a webhook directory and status changes for the delivery tests. */
import { randomUUID } from 'node:crypto';
import type { WebhookEvent } from '../../electron/core/api/schemas.js';
import type { StatusChange } from '../../electron/core/devices/model.js';
import type { StoredWebhook, WebhookDirectory } from '../../electron/core/webhooks/model.js';
import { newSecret } from '../../electron/core/webhooks/secret.js';

export { newSecret };

/** Kobiton's callback body keys, in Kobiton's order: a callback carries these and nothing else. */
export const KOBITON_BODY_KEYS = [
  'creationTime',
  'eventType',
  'eventActivity',
  'eventDescription',
  'deviceUdid',
  'deviceName',
  'orgId',
  'webhookId',
  'webhookName',
];

export function makeWebhook(fields: Partial<StoredWebhook> & { id: number; url: string }): StoredWebhook {
  const now = new Date().toISOString();
  return {
    name: `Webhook ${fields.id}`,
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
    ...fields,
  };
}

/** The store's contract: the list is replaced, never mutated, on every change. */
export class MemoryDirectory implements WebhookDirectory {
  private items: readonly StoredWebhook[];
  private readonly listeners = new Set<() => void>();
  readonly disabled: Array<{ id: number; reason: string }> = [];

  constructor(webhooks: StoredWebhook[] = []) {
    this.items = [...webhooks];
  }

  list(): readonly StoredWebhook[] {
    return this.items;
  }

  get(id: number): StoredWebhook | undefined {
    return this.items.find((w) => w.id === id);
  }

  async disable(id: number, reason: string): Promise<void> {
    this.disabled.push({ id, reason });
    this.update(id, { enabled: false });
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  add(webhook: StoredWebhook): void {
    this.replace([...this.items, webhook]);
  }

  update(id: number, patch: Partial<StoredWebhook>): void {
    this.replace(this.items.map((w) => (w.id === id ? { ...w, ...patch, updatedAt: new Date().toISOString() } : w)));
  }

  remove(id: number): void {
    this.replace(this.items.filter((w) => w.id !== id));
  }

  /** Like the store: the list is replaced, then listeners hear of it. */
  private replace(items: readonly StoredWebhook[]): void {
    this.items = items;
    for (const listener of this.listeners) listener();
  }
}

const TO: Record<WebhookEvent, StatusChange['to']> = {
  online: 'online',
  offline: 'offline',
  utilizing: 'utilizing',
  unplugged: 'unplugged',
};

export function makeChange(
  udid: string,
  event: WebhookEvent | null,
  sequence: number,
  fields: Partial<StatusChange> = {},
): StatusChange {
  return {
    id: randomUUID(),
    udid,
    name: `Phone ${udid}`,
    platform: 'android',
    from: 'unplugged',
    to: event ? TO[event] : 'online',
    event,
    sequence,
    observedAt: new Date().toISOString(),
    simulated: true,
    ...fields,
  };
}
