/**
 * The API contract, typed once. Each operation names its HTTP route, the permission it needs,
 * and the schemas of its input and output. The core implements every operation once
 * (core/api/handlers.ts); the HTTP server and the Electron IPC bridge both dispatch through it,
 * and the window's client is typed from it. Pure (zod only): the renderer imports it.
 */
import { z } from 'zod';
import * as S from './schemas.js';

/**
 * - `read`: devices, webhooks, the log, sources, org;
 * - `reserve`: reserve and release devices;
 * - `org_setting.modify`: create, edit, delete, test webhooks; redeliver (Kobiton's permission name);
 * - `admin`: tokens and the org.
 */
export type Permission = 'read' | 'reserve' | 'org_setting.modify' | 'admin';

export interface Operation {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Under /api/v1, with `{param}` placeholders. */
  path: string;
  summary: string;
  /** null: no token needed (health). */
  permission: Permission | null;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** The success status; 204 answers no body. */
  status: 200 | 201 | 202 | 204;
  response?: z.ZodType;
}

const webhookId = z.strictObject({
  id: z.coerce.number({ error: 'Webhook id must be a number' }).int().positive('Webhook id must be a positive number'),
});
const udidParam = z.strictObject({ udid: z.string().min(1).max(128) });
const list = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item) });

export const operations = {
  health: {
    method: 'GET',
    path: '/health',
    summary: 'Liveness and version',
    permission: null,
    status: 200,
    response: S.Health,
  },

  listSources: {
    method: 'GET',
    path: '/sources',
    summary: 'What each device source is doing',
    permission: 'read',
    status: 200,
    response: list(S.SourceInfo),
  },

  listDevices: {
    method: 'GET',
    path: '/devices',
    summary: 'Every known device (`warning=true`: only those with a health warning)',
    permission: 'read',
    query: S.DeviceQuery,
    status: 200,
    response: list(S.Device),
  },
  getDevice: {
    method: 'GET',
    path: '/devices/{udid}',
    summary: 'One device',
    permission: 'read',
    params: udidParam,
    status: 200,
    response: S.Device,
  },
  renameDevice: {
    method: 'PATCH',
    path: '/devices/{udid}',
    summary: "Override a device's name (null restores the detected one) or set its labels",
    permission: 'org_setting.modify',
    params: udidParam,
    body: S.DevicePatch,
    status: 200,
    response: S.Device,
  },
  reserveDevice: {
    method: 'POST',
    path: '/devices/{udid}/sessions',
    summary: 'Mark a device as in use (utilizing) until released or expired',
    permission: 'reserve',
    params: udidParam,
    body: S.ReservationCreate,
    status: 201,
    response: S.Reservation,
  },
  releaseDevice: {
    method: 'DELETE',
    path: '/devices/{udid}/sessions/{id}',
    summary: 'Release a reservation',
    permission: 'reserve',
    params: z.strictObject({ udid: z.string().min(1).max(128), id: z.string().min(1).max(100) }),
    status: 204,
  },

  listWebhooks: {
    method: 'GET',
    path: '/webhooks',
    summary: 'Every webhook',
    permission: 'read',
    status: 200,
    response: list(S.Webhook),
  },
  createWebhook: {
    method: 'POST',
    path: '/webhooks',
    summary: 'Create a webhook',
    permission: 'org_setting.modify',
    body: S.WebhookCreate,
    status: 201,
    response: S.Webhook,
  },
  getWebhook: {
    method: 'GET',
    path: '/webhooks/{id}',
    summary: 'One webhook',
    permission: 'read',
    params: webhookId,
    status: 200,
    response: S.Webhook,
  },
  updateWebhook: {
    method: 'PATCH',
    path: '/webhooks/{id}',
    summary: 'Change a webhook',
    permission: 'org_setting.modify',
    params: webhookId,
    body: S.WebhookPatch,
    status: 200,
    response: S.Webhook,
  },
  deleteWebhook: {
    method: 'DELETE',
    path: '/webhooks/{id}',
    summary: 'Delete a webhook and cancel what is pending for it',
    permission: 'org_setting.modify',
    params: webhookId,
    status: 204,
  },
  testWebhook: {
    method: 'POST',
    path: '/webhooks/{id}/test',
    summary: 'Send a sample callback now, outside the queue',
    permission: 'org_setting.modify',
    params: webhookId,
    body: S.TestSend,
    status: 200,
    response: S.Attempt,
  },
  rotateSecret: {
    method: 'POST',
    path: '/webhooks/{id}/rotate-secret',
    summary: 'New signing secret; the old one stays valid for 24 hours',
    permission: 'org_setting.modify',
    params: webhookId,
    status: 200,
    response: S.Webhook,
  },

  listDeliveries: {
    method: 'GET',
    path: '/deliveries',
    summary: 'The delivery log, newest first',
    permission: 'read',
    query: S.DeliveryQuery,
    status: 200,
    response: z.object({ items: z.array(S.Delivery), next: z.string().nullable() }),
  },
  getDelivery: {
    method: 'GET',
    path: '/deliveries/{id}',
    summary: 'One delivery with every attempt',
    permission: 'read',
    params: z.strictObject({ id: z.string().min(1).max(100) }),
    status: 200,
    response: S.Delivery,
  },
  redeliver: {
    method: 'POST',
    path: '/deliveries/{id}/redeliver',
    summary: 'Send a delivery again (same webhook-id, current secret)',
    permission: 'org_setting.modify',
    params: z.strictObject({ id: z.string().min(1).max(100) }),
    status: 202,
    response: S.Delivery,
  },

  getOrg: {
    method: 'GET',
    path: '/org',
    summary: 'The organization (orgId in callbacks)',
    permission: 'read',
    status: 200,
    response: S.Org,
  },
  updateOrg: {
    method: 'PATCH',
    path: '/org',
    summary: 'Change the organization id or name',
    permission: 'admin',
    body: S.OrgPatch,
    status: 200,
    response: S.Org,
  },

  getHealthSettings: {
    method: 'GET',
    path: '/settings/health',
    summary: 'Health warning thresholds and the battery reading interval',
    permission: 'read',
    status: 200,
    response: S.HealthSettings,
  },
  updateHealthSettings: {
    method: 'PATCH',
    path: '/settings/health',
    summary: 'Change health warning thresholds or the battery reading interval',
    permission: 'org_setting.modify',
    body: S.HealthSettingsPatch,
    status: 200,
    response: S.HealthSettings,
  },

  listTokens: {
    method: 'GET',
    path: '/tokens',
    summary: 'API tokens (never the token itself)',
    permission: 'admin',
    status: 200,
    response: list(S.TokenInfo),
  },
  createToken: {
    method: 'POST',
    path: '/tokens',
    summary: 'Create an API token; it is shown once',
    permission: 'admin',
    body: S.TokenCreate,
    status: 201,
    response: S.TokenCreated,
  },
  deleteToken: {
    method: 'DELETE',
    path: '/tokens/{id}',
    summary: 'Revoke an API token',
    permission: 'admin',
    params: z.strictObject({ id: z.string().min(1).max(100) }),
    status: 204,
  },
  rotateSignInToken: {
    method: 'POST',
    path: '/tokens/sign-in/rotate',
    summary: 'A new token for the /?token= sign-in link; the old one, and browsers signed in with it, stop working',
    permission: 'admin',
    status: 200,
    response: S.SignInToken,
  },
} as const satisfies Record<string, Operation>;

export type Operations = typeof operations;
export type OperationName = keyof Operations;

type Out<T> = T extends z.ZodType ? z.output<T> : undefined;
type In<T> = T extends z.ZodType ? z.input<T> : undefined;
type Part<O, K extends 'params' | 'query' | 'body'> =
  O extends Record<K, z.ZodType> ? { [P in K]: In<O[K]> } : { [P in K]?: undefined };

/** What a caller passes: the route's path parameters, query and body, each where the route has one. */
export type InputOf<N extends OperationName> = Part<Operations[N], 'params'> &
  Part<Operations[N], 'query'> &
  Part<Operations[N], 'body'>;
/** The same after validation. */
export type ParsedInputOf<N extends OperationName> = {
  params: Out<Operations[N] extends { params: infer P } ? P : undefined>;
  query: Out<Operations[N] extends { query: infer Q } ? Q : undefined>;
  body: Out<Operations[N] extends { body: infer B } ? B : undefined>;
};
export type OutputOf<N extends OperationName> = Operations[N] extends { response: infer R } ? Out<R> : void;

/** The typed client both doors offer the window: `api.invoke('listWebhooks', {})`. */
export interface LabhookClient {
  invoke<N extends OperationName>(name: N, input: InputOf<N>): Promise<OutputOf<N>>;
}

/**
 * What `GET /events` adds of its own, outside the engine's events: `resync` opens a stream whose
 * `Last-Event-ID` is no longer kept (reload what you show); `dropped` ends the stream of a client
 * that fell too far behind (reconnect, and it resumes); `signed-out` ends the stream of a revoked
 * token (reconnecting answers 401).
 */
export type StreamEvent =
  | { type: 'resync'; data: { reason: string } }
  | { type: 'dropped'; data: { reason: string } }
  | { type: 'signed-out'; data: { reason: string } };

/** Events pushed to the window and to `GET /events`. */
export type ServerEvent =
  | { type: 'device'; data: { device: S.Device; from: S.DeviceStatus; event: S.WebhookEvent | null; sequence: number } }
  | {
      type: 'delivery';
      data: { delivery: Omit<S.Delivery, 'attempts'> & { attemptCount: number }; attempt: S.Attempt };
    }
  | { type: 'notice'; data: { level: 'info' | 'warning'; message: string } }
  /** A device's health changed: a battery reading, a flap, a warning raised or cleared. */
  | { type: 'health'; data: { device: S.Device } };
