/**
 * Every change to the org's configuration (the org, webhooks, tokens) as data: an operation that
 * one pure function applies. A single host applies it to db.json at once; a fleet appends it to a
 * replicated log and every node applies the log in the same order, so all of them compute the same
 * state — including who wins when two nodes create the same webhook name at once (the first in the
 * log; the other gets name_taken), without compare-and-set.
 *
 * An operation carries everything that is not decided by the state (secrets, times), so applying
 * it is deterministic.
 */
import { EventEmitter } from 'node:events';
import type { z } from 'zod';
import { ApiError, notFound } from '../api/errors.js';
import type { WebhookPatch } from '../api/schemas.js';
import type { StoredWebhook } from '../webhooks/model.js';
import type { DbData, TokenRecord } from './db-schema.js';

type PatchInput = z.output<typeof WebhookPatch>;

/** The part of db.json a fleet shares. Devices, reservations and settings belong to a host. */
export type SharedConfig = Pick<DbData, 'org' | 'nextWebhookId' | 'webhooks' | 'tokens'>;

export type ConfigOp =
  | { type: 'webhook.create'; webhook: Omit<StoredWebhook, 'id'> }
  | { type: 'webhook.update'; id: number; patch: PatchInput; at: string }
  | { type: 'webhook.rotate'; id: number; secret: string; graceUntil: string; at: string }
  | { type: 'webhook.disable'; id: number; reason: string; at: string }
  | { type: 'webhook.remove'; id: number }
  | { type: 'token.create'; record: TokenRecord }
  | { type: 'token.remove'; id: string }
  | { type: 'token.touch'; id: string; at: string }
  | { type: 'org.update'; patch: { id?: number; name?: string } }
  /** Brings a single host's configuration into a fleet that has none yet. */
  | { type: 'import'; config: SharedConfig };

/** What an applied operation changed, for listeners (the webhook store re-emits these). */
export type ConfigEffect =
  | { kind: 'webhook'; webhook: StoredWebhook; disabledReason?: string }
  | { kind: 'webhook-removed'; id: number }
  | { kind: 'token'; removed?: boolean }
  | { kind: 'org' }
  | { kind: 'import' }
  | { kind: 'none' };

/** Applies `op` to `data` in place (arrays replaced, never mutated: readers may hold the old one). Throws ApiError. */
export function applyConfigOp(data: SharedConfig, op: ConfigOp): ConfigEffect {
  switch (op.type) {
    case 'webhook.create': {
      assertNameFree(data, op.webhook.name);
      const webhook: StoredWebhook = { id: data.nextWebhookId, ...op.webhook };
      data.nextWebhookId += 1;
      data.webhooks = [...data.webhooks, webhook];
      return { kind: 'webhook', webhook };
    }
    case 'webhook.update': {
      const current = requireWebhook(data, op.id);
      if (op.patch.name !== undefined && op.patch.name !== current.name) assertNameFree(data, op.patch.name);
      const defined = Object.fromEntries(Object.entries(op.patch).filter(([, v]) => v !== undefined));
      return replaceWebhook(data, { ...current, ...defined, updatedAt: op.at });
    }
    case 'webhook.rotate': {
      const current = requireWebhook(data, op.id);
      return replaceWebhook(data, {
        ...current,
        secret: op.secret,
        previousSecret: { secret: current.secret, expiresAt: op.graceUntil },
        updatedAt: op.at,
      });
    }
    case 'webhook.disable': {
      const current = data.webhooks.find((w) => w.id === op.id);
      if (!current || !current.enabled) return { kind: 'none' };
      return { ...replaceWebhook(data, { ...current, enabled: false, updatedAt: op.at }), disabledReason: op.reason };
    }
    case 'webhook.remove':
      requireWebhook(data, op.id);
      data.webhooks = data.webhooks.filter((w) => w.id !== op.id);
      return { kind: 'webhook-removed', id: op.id };
    case 'token.create':
      data.tokens = [...data.tokens, op.record];
      return { kind: 'token' };
    case 'token.remove':
      if (!data.tokens.some((t) => t.id === op.id)) throw notFound(`Token ${op.id}`);
      data.tokens = data.tokens.filter((t) => t.id !== op.id);
      return { kind: 'token', removed: true };
    case 'token.touch': {
      const token = data.tokens.find((t) => t.id === op.id);
      if (!token || (token.lastUsedAt !== null && token.lastUsedAt >= op.at)) return { kind: 'none' };
      data.tokens = data.tokens.map((t) => (t === token ? { ...t, lastUsedAt: op.at } : t));
      return { kind: 'token' };
    }
    case 'org.update':
      data.org = {
        id: op.patch.id ?? data.org.id,
        name: op.patch.name ?? data.org.name,
      };
      return { kind: 'org' };
    case 'import':
      if (data.webhooks.length > 0 || data.tokens.length > 0 || data.nextWebhookId > 1)
        throw new ApiError(
          'name_taken',
          'This fleet already has a configuration (webhooks or tokens); import only into a new fleet',
        );
      Object.assign(data, structuredClone(op.config));
      return { kind: 'import' };
  }
}

function requireWebhook(data: SharedConfig, id: number): StoredWebhook {
  const webhook = data.webhooks.find((w) => w.id === id);
  if (!webhook) throw notFound(`Webhook ${id}`);
  return webhook;
}

function replaceWebhook(data: SharedConfig, webhook: StoredWebhook): ConfigEffect & { kind: 'webhook' } {
  data.webhooks = data.webhooks.map((w) => (w.id === webhook.id ? webhook : w));
  return { kind: 'webhook', webhook };
}

function assertNameFree(data: SharedConfig, name: string): void {
  if (data.webhooks.some((w) => w.name === name)) {
    throw new ApiError('name_taken', `A webhook named "${name}" already exists`, {
      name: 'Webhook Name must be unique in the org',
    });
  }
}

export interface ConfigEvents {
  /** After every applied operation, wherever it was committed (this node or, in a fleet, another). */
  applied: [effect: ConfigEffect];
}

/** Where configuration changes are committed: db.json on one host, the fleet's log in a fleet. */
export interface ConfigLog extends EventEmitter<ConfigEvents> {
  /** The shared configuration as last applied. */
  readonly data: SharedConfig;
  /** Applies `op` everywhere it must go; resolves with its effect once it holds here. Throws ApiError. */
  commit(op: ConfigOp): Promise<ConfigEffect>;
}

/** One host: operations apply to db.json's data at once and are persisted with its coalesced write. */
export class LocalConfigLog extends EventEmitter<ConfigEvents> implements ConfigLog {
  constructor(private readonly db: { data: DbData; save(): Promise<void> }) {
    super();
  }

  get data(): SharedConfig {
    return this.db.data;
  }

  async commit(op: ConfigOp): Promise<ConfigEffect> {
    const effect = applyConfigOp(this.db.data, op);
    if (effect.kind === 'none') return effect;
    await this.db.save();
    this.emit('applied', effect);
    return effect;
  }
}
