/**
 * The callback as a receiver sees it: Kobiton's nine body keys, nothing more, and our extras in
 * headers so a receiver written for Kobiton keeps working unchanged.
 */
import { WARNING_CODES, type WarningCode, type WebhookEvent } from '../api/schemas.js';
import { WARNING_SUMMARY } from '../devices/health/warnings.js';
import type { StoredWebhook } from '../webhooks/model.js';
import { signingSecrets } from '../webhooks/model.js';
import { sign } from './signing.js';
import { MASK, maskUrl } from '../api/masking.js';

const ACTIVITY: Record<WebhookEvent, string> = {
  online: 'device.status.online',
  offline: 'device.status.offline',
  utilizing: 'device.state.utilizing',
  unplugged: 'device.state.unplugged',
};
const DESCRIPTION: Record<WebhookEvent, string> = {
  online: 'Online',
  offline: 'Offline',
  utilizing: 'Utilizing',
  unplugged: 'Unplugged',
};

/**
 * A health callback (opt-in per webhook): a warning raised or cleared on a device, with the
 * warning's code, e.g. `health.warning:flapping`. Kept as one string so the outbox stores it as it
 * stores a status event.
 */
export type HealthEvent = `health.${'warning' | 'cleared'}:${WarningCode}`;
/** What a callback announces: a Kobiton status event or a health event. */
export type CallbackEvent = WebhookEvent | HealthEvent;

export function healthEvent(kind: 'warning' | 'cleared', code: WarningCode): HealthEvent {
  return `health.${kind}:${code}`;
}

/** The kind and warning code of a health event; null for a status event. */
export function parseHealthEvent(event: CallbackEvent): { kind: 'warning' | 'cleared'; code: WarningCode } | null {
  const match = /^health\.(warning|cleared):(.+)$/.exec(event);
  if (!match || !(WARNING_CODES as readonly string[]).includes(match[2])) return null;
  return { kind: match[1] as 'warning' | 'cleared', code: match[2] as WarningCode };
}

export function eventActivity(event: CallbackEvent): string {
  const health = parseHealthEvent(event);
  if (health) return `device.health.${health.kind}`;
  return ACTIVITY[event as WebhookEvent];
}

function eventDescription(event: CallbackEvent): string {
  const health = parseHealthEvent(event);
  if (health) return health.kind === 'warning' ? 'Health warning' : 'Health warning cleared';
  return DESCRIPTION[event as WebhookEvent];
}

/** The event behind an `eventActivity` string, or null for one we never produce. */
export function eventFromActivity(activity: string): WebhookEvent | null {
  for (const [event, value] of Object.entries(ACTIVITY)) if (value === activity) return event as WebhookEvent;
  return null;
}

/** What a callback says about the device, captured when the status change was enqueued. */
export interface CallbackFacts {
  eventId: string;
  event: CallbackEvent;
  udid: string;
  deviceName: string;
  sequence: number;
  observedAt: string;
}

export interface Callback {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** The headers Labhook sets on every callback; the rest come from the webhook's configuration. */
const OWN_HEADERS = new Set([
  'content-type',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'labhook-event-time',
  'labhook-sequence',
]);

/** Builds one attempt's request: `now` is the send time (creationTime and webhook-timestamp). */
export function buildCallback(
  facts: CallbackFacts,
  webhook: StoredWebhook,
  org: { id: number },
  version: string,
  now: number,
): Callback {
  // Key order matches Kobiton's example; JSON.stringify keeps insertion order.
  const body = JSON.stringify({
    creationTime: new Date(now).toISOString(),
    eventType: 'DEVICE',
    eventActivity: eventActivity(facts.event),
    eventDescription: eventDescription(facts.event),
    deviceUdid: facts.udid,
    deviceName: facts.deviceName,
    orgId: org.id,
    webhookId: webhook.id,
    webhookName: webhook.name,
  });
  const timestamp = Math.floor(now / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': `Labhook/${version}`,
    'webhook-id': facts.eventId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signingSecrets(webhook, now)
      .map((secret) => sign(secret, facts.eventId, timestamp, body))
      .join(' '),
    'labhook-event-time': facts.observedAt,
    'labhook-sequence': String(facts.sequence),
  };
  const health = parseHealthEvent(facts.event);
  if (health) headers['labhook-health-warning'] = `${health.code}; ${WARNING_SUMMARY[health.code]}`;
  for (const [name, value] of Object.entries(webhook.headers)) {
    const lower = name.toLowerCase();
    // Validation already refuses these; a hand-edited db.json must still not override ours.
    if (OWN_HEADERS.has(lower) || lower.startsWith('labhook-')) continue;
    headers[lower] = value;
  }
  return { url: webhook.url, headers, body };
}

/**
 * The request as the delivery log keeps it: everyone who may read the log (viewers too) sees it, so
 * no receiver credential is written in plain text: the values of the webhook's own headers and the
 * URL's secret-looking parts are masked (api/masking.ts has the rule). Labhook's headers stay, so a
 * signature can still be checked against the log.
 */
export function loggedRequest(callback: Callback): Callback {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(callback.headers)) headers[name] = OWN_HEADERS.has(name) ? value : MASK;
  return { url: maskUrl(callback.url), headers, body: callback.body };
}
