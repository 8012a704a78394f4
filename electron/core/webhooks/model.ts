/** Webhooks as the engine keeps them. The public `Webhook` shape is in api/schemas.ts. */
import type { Webhook } from '../api/schemas.js';
import { udidKey } from '../devices/udid.js';

/** A webhook as stored: the public shape plus the secret that stays valid during a rotation. */
export interface StoredWebhook extends Webhook {
  /** The previous secret, still signed with until `expiresAt` (24 h after a rotation). */
  previousSecret: { secret: string; expiresAt: string } | null;
}

/** What the delivery engine needs from the webhook store. */
export interface WebhookDirectory {
  /** Current webhooks; the array is replaced (never mutated) on every change. */
  list(): readonly StoredWebhook[];
  get(id: number): StoredWebhook | undefined;
  /** Turns a webhook off after its receiver answered 410 Gone, recording why. */
  disable(id: number, reason: string): Promise<void>;
  /** Calls `listener` after every change to the list; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/** The secrets to sign with now: the current one first, then a rotated-out one still in its grace period. */
export function signingSecrets(webhook: StoredWebhook, now = Date.now()): string[] {
  const secrets = [webhook.secret];
  if (webhook.previousSecret && Date.parse(webhook.previousSecret.expiresAt) > now)
    secrets.push(webhook.previousSecret.secret);
  return secrets;
}

/**
 * Whether a device is in a webhook's scope: every device when neither `devices` nor `labels` is
 * set, else a listed UDID (either spelling of an iPhone's) or a device carrying a listed label.
 * Labels are those the device has when the event happens, so a device labelled later is in scope
 * from then on.
 */
export function inScope(
  webhook: Pick<Webhook, 'devices' | 'labels'>,
  udid: string,
  labels: readonly string[],
): boolean {
  if (webhook.devices === null && webhook.labels === null) return true;
  if (webhook.devices !== null) {
    const key = udidKey(udid);
    if (webhook.devices.some((listed) => udidKey(listed) === key)) return true;
  }
  return webhook.labels !== null && webhook.labels.some((label) => labels.includes(label));
}
