/** The shape of `db.json`. Checked on every start: a file that does not match is refused, untouched. */
import { z } from 'zod';
import { DEFAULT_HEALTH_SETTINGS, DeviceStatus, HealthSettings, Role, Webhook, WarningCode } from '../api/schemas.js';

const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not a date');

export const StoredWebhookRecord = Webhook.extend({
  // Files written before device groups and health callbacks read as "no label scope", "off".
  labels: z.array(z.string()).nullable().default(null),
  healthCallbacks: z.boolean().default(false),
  secret: z.string().startsWith('whsec_'),
  previousSecret: z.object({ secret: z.string().startsWith('whsec_'), expiresAt: isoTime }).nullable(),
  createdAt: isoTime,
  updatedAt: isoTime,
});

export const TokenRecord = z.object({
  id: z.string(),
  name: z.string(),
  role: Role,
  /** sha256 of the token, hex. The token itself is shown once and never stored. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: isoTime,
  lastUsedAt: isoTime.nullable(),
});
export type TokenRecord = z.infer<typeof TokenRecord>;

/** What signed a browser session in; the session ends with it (core/access/sessions.ts). */
export const SessionOrigin = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('token'), tokenId: z.string() }),
  z.object({ kind: z.literal('sign-in') }),
  /** LABHOOK_ADMIN_TOKEN, by the sha256 of its value: a new value ends these sessions. */
  z.object({ kind: z.literal('env'), hash: z.string().regex(/^[0-9a-f]{64}$/) }),
]);
export type SessionOrigin = z.infer<typeof SessionOrigin>;

export const SessionRecord = z.object({
  id: z.string(),
  /** sha256 of the cookie's secret, hex. The secret itself lives only in the browser. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  origin: SessionOrigin,
  createdAt: isoTime,
  lastUsedAt: isoTime,
});
export type SessionRecord = z.infer<typeof SessionRecord>;

export const DeviceRecord = z.object({
  udid: z.string(),
  name: z.string(),
  nameOverride: z.string().nullable(),
  platform: z.enum(['android', 'ios']),
  status: DeviceStatus,
  since: isoTime,
  sequence: z.number().int().nonnegative(),
  simulated: z.boolean(),
  // Files written before labels and health read as none.
  labels: z.array(z.string()).default([]),
  flaps: z.array(z.number()).default([]),
  warnings: z
    .array(z.object({ code: WarningCode, message: z.string(), since: isoTime, clearedAt: z.number().nullable() }))
    .default([]),
});

export const ReservationRecord = z.object({
  id: z.string(),
  udid: z.string(),
  label: z.string(),
  expiresAt: isoTime,
});

export const DbSchema = z.object({
  schemaVersion: z.literal(1),
  org: z.object({ id: z.number().int().nonnegative(), name: z.string() }),
  /** Webhook ids are never reused, even after a delete. */
  nextWebhookId: z.number().int().positive(),
  webhooks: z.array(StoredWebhookRecord),
  tokens: z.array(TokenRecord),
  sessions: z.array(SessionRecord).default([]),
  devices: z.array(DeviceRecord),
  reservations: z.array(ReservationRecord),
  /** Keys no longer used (the plain-text sign-in token of older versions) are dropped on read. */
  settings: z.object({
    // Files written before health settings existed read as the defaults.
    health: HealthSettings.default(DEFAULT_HEALTH_SETTINGS),
  }),
});
export type DbData = z.infer<typeof DbSchema>;
