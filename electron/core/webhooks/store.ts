/**
 * Webhooks in `db.json`. Input has already passed the shared schema; this layer adds what needs
 * the whole org: unique names and ids that are never reused.
 */
import { EventEmitter } from 'node:events';
import type { z } from 'zod';
import type { Webhook, WebhookCreate, WebhookPatch } from '../api/schemas.js';
import { ApiError, notFound } from '../api/errors.js';
import type { Database } from '../store/database.js';
import type { StoredWebhook, WebhookDirectory } from './model.js';
import { newSecret, ROTATION_GRACE_MS } from './secret.js';

type CreateInput = z.output<typeof WebhookCreate>;
type PatchInput = z.output<typeof WebhookPatch>;

export interface WebhookStoreEvents {
  changed: [];
  removed: [id: number];
  disabled: [webhook: StoredWebhook, reason: string];
}

export class WebhookStore extends EventEmitter<WebhookStoreEvents> implements WebhookDirectory {
  constructor(private readonly db: Database) {
    super();
  }

  list(): readonly StoredWebhook[] {
    return this.db.data.webhooks;
  }

  subscribe(listener: () => void): () => void {
    this.on('changed', listener);
    return () => this.off('changed', listener);
  }

  get(id: number): StoredWebhook | undefined {
    return this.db.data.webhooks.find((w) => w.id === id);
  }

  require(id: number): StoredWebhook {
    const webhook = this.get(id);
    if (!webhook) throw notFound(`Webhook ${id}`);
    return webhook;
  }

  async create(input: CreateInput): Promise<StoredWebhook> {
    this.assertNameFree(input.name);
    const now = new Date().toISOString();
    const webhook: StoredWebhook = {
      id: this.db.data.nextWebhookId,
      ...input,
      secret: newSecret(),
      previousSecret: null,
      createdAt: now,
      updatedAt: now,
    };
    // Replaced, never mutated in place: the dispatcher may hold the previous array.
    await this.db.update((data) => {
      data.nextWebhookId += 1;
      data.webhooks = [...data.webhooks, webhook];
    });
    this.emit('changed');
    return webhook;
  }

  async update(id: number, patch: PatchInput): Promise<StoredWebhook> {
    const current = this.require(id);
    if (patch.name !== undefined && patch.name !== current.name) this.assertNameFree(patch.name);
    const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    return this.replace({ ...current, ...defined, updatedAt: new Date().toISOString() });
  }

  async remove(id: number): Promise<void> {
    this.require(id);
    await this.db.update((data) => {
      data.webhooks = data.webhooks.filter((w) => w.id !== id);
    });
    this.emit('removed', id);
    this.emit('changed');
  }

  /** New secret now; the old one keeps signing for 24 hours. */
  async rotateSecret(id: number): Promise<StoredWebhook> {
    const current = this.require(id);
    const now = Date.now();
    return this.replace({
      ...current,
      secret: newSecret(),
      previousSecret: { secret: current.secret, expiresAt: new Date(now + ROTATION_GRACE_MS).toISOString() },
      updatedAt: new Date(now).toISOString(),
    });
  }

  async disable(id: number, reason: string): Promise<void> {
    const current = this.get(id);
    if (!current || !current.enabled) return;
    const webhook = await this.replace({ ...current, enabled: false, updatedAt: new Date().toISOString() });
    this.emit('disabled', webhook, reason);
  }

  private async replace(webhook: StoredWebhook): Promise<StoredWebhook> {
    await this.db.update((data) => {
      data.webhooks = data.webhooks.map((w) => (w.id === webhook.id ? webhook : w));
    });
    this.emit('changed');
    return webhook;
  }

  private assertNameFree(name: string): void {
    if (this.db.data.webhooks.some((w) => w.name === name)) {
      throw new ApiError('name_taken', `A webhook named "${name}" already exists`, {
        name: 'Webhook Name must be unique in the org',
      });
    }
  }
}

/** The public shape: everything but the rotated-out secret. */
export function publicWebhook(webhook: StoredWebhook): Webhook {
  const { previousSecret: _previous, ...rest } = webhook;
  return rest;
}
