/**
 * Webhooks, as the configuration log holds them (db.json on one host, the fleet's log in a fleet).
 * Input has already passed the shared schema; the log's operations add what needs the whole org:
 * unique names and ids that are never reused. Events fire for every change, wherever it was made.
 */
import { EventEmitter } from 'node:events';
import type { z } from 'zod';
import type { Webhook, WebhookCreate, WebhookPatch } from '../api/schemas.js';
import { notFound } from '../api/errors.js';
import type { ConfigEffect, ConfigLog } from '../store/config-ops.js';
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
  constructor(private readonly config: ConfigLog) {
    super();
    config.on('applied', (effect) => this.applied(effect));
  }

  list(): readonly StoredWebhook[] {
    return this.config.data.webhooks;
  }

  subscribe(listener: () => void): () => void {
    this.on('changed', listener);
    return () => this.off('changed', listener);
  }

  get(id: number): StoredWebhook | undefined {
    return this.config.data.webhooks.find((w) => w.id === id);
  }

  require(id: number): StoredWebhook {
    const webhook = this.get(id);
    if (!webhook) throw notFound(`Webhook ${id}`);
    return webhook;
  }

  async create(input: CreateInput): Promise<StoredWebhook> {
    const now = new Date().toISOString();
    const webhook = { ...input, secret: newSecret(), previousSecret: null, createdAt: now, updatedAt: now };
    return this.changedWebhook(await this.config.commit({ type: 'webhook.create', webhook }));
  }

  async update(id: number, patch: PatchInput): Promise<StoredWebhook> {
    this.require(id);
    return this.changedWebhook(
      await this.config.commit({ type: 'webhook.update', id, patch, at: new Date().toISOString() }),
    );
  }

  async remove(id: number): Promise<void> {
    this.require(id);
    await this.config.commit({ type: 'webhook.remove', id });
  }

  /** New secret now; the old one keeps signing for 24 hours. */
  async rotateSecret(id: number): Promise<StoredWebhook> {
    this.require(id);
    const now = Date.now();
    return this.changedWebhook(
      await this.config.commit({
        type: 'webhook.rotate',
        id,
        secret: newSecret(),
        graceUntil: new Date(now + ROTATION_GRACE_MS).toISOString(),
        at: new Date(now).toISOString(),
      }),
    );
  }

  async disable(id: number, reason: string): Promise<void> {
    const current = this.get(id);
    if (!current || !current.enabled) return;
    await this.config.commit({ type: 'webhook.disable', id, reason, at: new Date().toISOString() });
  }

  private changedWebhook(effect: ConfigEffect): StoredWebhook {
    if (effect.kind !== 'webhook') throw new Error(`a webhook operation had the effect ${effect.kind}`);
    return effect.webhook;
  }

  private applied(effect: ConfigEffect): void {
    switch (effect.kind) {
      case 'webhook':
        if (effect.disabledReason !== undefined) this.emit('disabled', effect.webhook, effect.disabledReason);
        break;
      case 'webhook-removed':
        this.emit('removed', effect.id);
        break;
      case 'import':
        break;
      case 'token':
      case 'org':
      case 'none':
        return;
    }
    this.emit('changed');
  }
}

/** The public shape: everything but the rotated-out secret. */
export function publicWebhook(webhook: StoredWebhook): Webhook {
  const { previousSecret: _previous, ...rest } = webhook;
  return rest;
}
