/**
 * The one set of validation schemas and shapes. The core validates with them, the HTTP server
 * publishes them as OpenAPI, and the window's forms show their messages under each field.
 * This module is pure (zod only): the renderer imports it too.
 */
import { z } from 'zod';
import { isBlockedHost } from './addresses.js';

export const WEBHOOK_EVENTS = ['online', 'offline', 'utilizing', 'unplugged'] as const;
export const WebhookEvent = z.enum(WEBHOOK_EVENTS);
export type WebhookEvent = z.infer<typeof WebhookEvent>;

export const DEVICE_STATUSES = ['online', 'offline', 'utilizing', 'unplugged'] as const;
export const DeviceStatus = z.enum(DEVICE_STATUSES);
export type DeviceStatus = z.infer<typeof DeviceStatus>;

export const ROLES = ['admin', 'manager', 'viewer'] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

/** Kobiton's form limits. */
export const LIMITS = { name: 50, url: 512, description: 512, headers: 20, headerValue: 1024 } as const;

/** Headers a webhook may not set: the transport and signature headers are ours. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'proxy-authorization',
  'proxy-connection',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);
// RFC 9110 token characters.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Visible ASCII, spaces and tabs: no CR, LF or NUL, and nothing an HTTP client would have to guess an encoding for.
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

const name = z
  .string({ error: 'Webhook Name is required' })
  .trim()
  .min(1, 'Webhook Name is required')
  .max(LIMITS.name, `Webhook Name must be at most ${LIMITS.name} characters`);

const url = z
  .string({ error: 'URL is required' })
  .trim()
  .min(1, 'URL is required')
  .max(LIMITS.url, `URL must be at most ${LIMITS.url} characters`)
  .superRefine((value, ctx) => {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'URL must be a valid http or https URL' });
      return;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', message: 'URL must start with http:// or https://' });
    } else if (!parsed.hostname) {
      ctx.addIssue({ code: 'custom', message: 'URL must name a host' });
    } else if (parsed.username || parsed.password) {
      ctx.addIssue({ code: 'custom', message: 'URL must not carry credentials; use a custom Authorization header' });
    } else if (isBlockedHost(parsed.hostname)) {
      ctx.addIssue({
        code: 'custom',
        message: 'URL points at a link-local or cloud metadata address, which is refused',
      });
    }
  });

const description = z
  .string({ error: 'Description must be text' })
  .trim()
  .max(LIMITS.description, `Description must be at most ${LIMITS.description} characters`);

const events = z
  .array(
    z.enum(WEBHOOK_EVENTS, {
      error: (issue) =>
        `${typeof issue.input === 'string' ? `"${issue.input.slice(0, 50)}"` : 'That'} is not an event; choose online, offline, utilizing or unplugged`,
    }),
    { error: 'Events must be a list of online, offline, utilizing, unplugged' },
  )
  .min(1, 'Enable at least one event')
  .transform((list) => WEBHOOK_EVENTS.filter((e) => list.includes(e)));

const headers = z
  .record(z.string(), z.string({ error: 'Header values must be text' }), {
    error: 'Headers must be an object of name: value',
  })
  .superRefine((record, ctx) => {
    const entries = Object.entries(record);
    if (entries.length > LIMITS.headers) {
      ctx.addIssue({ code: 'custom', message: `At most ${LIMITS.headers} custom headers` });
    }
    const seen = new Set<string>();
    for (const [key, value] of entries) {
      const lower = key.toLowerCase();
      if (!HEADER_NAME.test(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `Header name "${key}" is not a valid HTTP header name` });
      } else if (RESERVED_HEADERS.has(lower) || lower.startsWith('labhook-')) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `Header "${key}" is set by Labhook and cannot be overridden`,
        });
      } else if (seen.has(lower)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `Header "${key}" is given twice` });
      } else if (!HEADER_VALUE.test(value) || value.length > LIMITS.headerValue) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `Header "${key}" has an invalid value (printable ASCII without line breaks, at most ${LIMITS.headerValue} characters)`,
        });
      }
      seen.add(lower);
    }
  });

const udid = z
  .string({ error: 'A device UDID must be text' })
  .trim()
  .min(1, 'A device UDID cannot be empty')
  .max(128, 'A device UDID is at most 128 characters');
const devices = z
  .array(udid, { error: 'Devices must be null (all devices) or a list of UDIDs' })
  .min(1, 'Choose at least one device, or null for all devices')
  .max(1000, 'At most 1000 devices')
  .transform((list) => [...new Set(list)])
  .nullable();

/** A device label (a group such as a team, a rack or a device bundle): what webhooks can be scoped to. */
export const LABEL_LIMITS = { length: 50, perDevice: 20, perWebhook: 100 } as const;
const label = z
  .string({ error: 'A label must be text' })
  .trim()
  .min(1, 'A label cannot be empty')
  .max(LABEL_LIMITS.length, `A label is at most ${LABEL_LIMITS.length} characters`)
  .regex(/^[^,\p{Cc}]+$/u, 'A label cannot contain commas or control characters');
const labelList = (max: number, what: string) =>
  z
    .array(label, { error: `${what} must be a list of labels` })
    .max(max, `At most ${max} labels`)
    .transform((list) => [...new Set(list)]);
const webhookLabels = labelList(LABEL_LIMITS.perWebhook, 'Labels')
  .refine((list) => list.length > 0, 'Choose at least one label, or null for no label scope')
  .nullable();
const healthCallbacks = z.boolean({ error: 'Health callbacks must be true or false' });

/** Body of POST /webhooks. */
export const WebhookCreate = z.strictObject(
  {
    name,
    url,
    description: description.default(''),
    events,
    enabled: z.boolean({ error: 'Enabled must be true or false' }).default(true),
    devices: devices.default(null),
    labels: webhookLabels.default(null),
    healthCallbacks: healthCallbacks.default(false),
    headers: headers.default({}),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `Unknown field: ${issue.keys.join(', ')}` : 'Expected an object',
  },
);
export type WebhookCreate = z.input<typeof WebhookCreate>;

/** Body of PATCH /webhooks/{id}: any subset of the create fields. */
export const WebhookPatch = z.strictObject(
  {
    name: name.optional(),
    url: url.optional(),
    description: description.optional(),
    events: events.optional(),
    enabled: z.boolean({ error: 'Enabled must be true or false' }).optional(),
    devices: devices.optional(),
    labels: webhookLabels.optional(),
    healthCallbacks: healthCallbacks.optional(),
    headers: headers.optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `Unknown field: ${issue.keys.join(', ')}` : 'Expected an object',
  },
);
export type WebhookPatch = z.input<typeof WebhookPatch>;

/** What viewers see in place of a signing secret. */
export const HIDDEN_SECRET = 'whsec_hidden';

export const Webhook = z.object({
  id: z.number().int().positive(),
  name: z.string(),
  url: z.string(),
  description: z.string(),
  events: z.array(WebhookEvent),
  enabled: z.boolean(),
  /** Scope: every device when both `devices` and `labels` are null, else a listed UDID or a device with a listed label. */
  devices: z.array(z.string()).nullable(),
  labels: z.array(z.string()).nullable(),
  /** Opt-in: `device.health.warning` and `device.health.cleared` callbacks (off, so Kobiton receivers see nothing new). */
  healthCallbacks: z.boolean(),
  headers: z.record(z.string(), z.string()),
  secret: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Webhook = z.infer<typeof Webhook>;

export const Org = z.object({ id: z.number().int().nonnegative(), name: z.string() });
export type Org = z.infer<typeof Org>;
export const OrgPatch = z.strictObject({
  id: z
    .number({ error: 'Org id must be a number' })
    .int('Org id must be a whole number')
    .nonnegative('Org id must be 0 or more')
    .max(2 ** 31 - 1, 'Org id is too large')
    .optional(),
  name: z
    .string({ error: 'Org name must be text' })
    .trim()
    .min(1, 'Org name is required')
    .max(100, 'Org name must be at most 100 characters')
    .optional(),
});

export const TokenCreate = z.strictObject({
  name: z
    .string({ error: 'Token name is required' })
    .trim()
    .min(1, 'Token name is required')
    .max(100, 'Token name must be at most 100 characters'),
  role: z.enum(ROLES, { error: 'Role must be admin, manager or viewer' }),
});
export const TokenInfo = z.object({
  id: z.string(),
  name: z.string(),
  role: Role,
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
});
export type TokenInfo = z.infer<typeof TokenInfo>;
export const TokenCreated = z.object({ id: z.string(), name: z.string(), role: Role, token: z.string() });
export type TokenCreated = z.infer<typeof TokenCreated>;
/** The sign-in link is `/?token=` and this token, on the address Labhook serves. */
export const SignInToken = z.object({ token: z.string() });

export const Session = z.object({
  id: z.string(),
  udid: z.string(),
  source: z.string(),
  label: z.string(),
  expiresAt: z.string().nullable(),
});
export type Session = z.infer<typeof Session>;

export const POWER_SOURCES = ['ac', 'usb', 'wireless', 'dock', 'external', 'battery'] as const;
/** What powers the device: a charger kind (Android tells which), `external` (iOS does not), or its own `battery`. */
export const PowerSource = z.enum(POWER_SOURCES);
export type PowerSource = z.infer<typeof PowerSource>;

export const BATTERY_HEALTHS = ['good', 'overheat', 'dead', 'over_voltage', 'failure', 'cold'] as const;
export const BatteryHealth = z.enum(BATTERY_HEALTHS);
export type BatteryHealth = z.infer<typeof BatteryHealth>;

export const WARNING_CODES = [
  'not_charging',
  'battery_hot',
  'battery_overheat',
  'battery_dead',
  'battery_over_voltage',
  'battery_cold',
  'flapping',
] as const;
export const WarningCode = z.enum(WARNING_CODES);
export type WarningCode = z.infer<typeof WarningCode>;

export const DeviceWarning = z.object({ code: WarningCode, message: z.string(), since: z.string() });
export type DeviceWarning = z.infer<typeof DeviceWarning>;

/** A device's health: its latest battery reading, flaps in the last hour and the warnings they raise; null is unknown. */
export const DeviceHealth = z.object({
  /** Percent. */
  batteryLevel: z.number().nullable(),
  /** Degrees Celsius. */
  batteryTemp: z.number().nullable(),
  charging: z.boolean().nullable(),
  power: PowerSource.nullable(),
  batteryHealth: BatteryHealth.nullable(),
  /** Status changes away from online or utilizing in the last hour. */
  flapsLastHour: z.number().int().nonnegative(),
  /** When the battery was last read; null before the first reading. */
  readAt: z.string().nullable(),
  /** Why the last reading failed or is incomplete (iOS not paired, adb shell refused, …); null when it worked. */
  readError: z.string().nullable(),
  warnings: z.array(DeviceWarning),
});
export type DeviceHealth = z.infer<typeof DeviceHealth>;

const whole = (name: string, min: number, max: number, unit: string) =>
  z
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .min(min, `${name} must be at least ${min}${unit}`)
    .max(max, `${name} must be at most ${max}${unit}`);

/** When health warnings are raised, and how often batteries are read. */
export const HealthSettings = z.object({
  /** Below this battery level (%) on external power and not charging: `not_charging`. */
  lowBatteryPercent: whole('Low battery', 1, 100, ' %'),
  /** Above this battery temperature (°C): `battery_hot`. */
  maxTemperatureC: whole('Maximum temperature', 20, 90, ' °C'),
  /** More flaps than this in an hour: `flapping`. */
  maxFlapsPerHour: whole('Maximum flaps', 1, 1000, ''),
  /** Between two battery readings of one device. */
  readIntervalSeconds: whole('Reading interval', 10, 3600, ' s'),
});
export type HealthSettings = z.infer<typeof HealthSettings>;
export const DEFAULT_HEALTH_SETTINGS: HealthSettings = {
  lowBatteryPercent: 15,
  maxTemperatureC: 45,
  maxFlapsPerHour: 10,
  readIntervalSeconds: 60,
};
export const HealthSettingsPatch = HealthSettings.partial().strict();

export const Device = z.object({
  udid: z.string(),
  name: z.string(),
  platform: z.enum(['android', 'ios']),
  status: DeviceStatus,
  since: z.string(),
  transports: z.array(z.string()),
  sessions: z.array(Session),
  simulated: z.boolean(),
  /** In a fleet: the host that sees the device (the best-placed one when several do). */
  host: z.string().optional(),
  /** In a fleet: why the status is what it is when no host reported it ("host lost"). */
  statusReason: z.string().optional(),
  labels: z.array(z.string()),
  health: DeviceHealth,
});
export type Device = z.infer<typeof Device>;

export const DevicePatch = z.strictObject(
  {
    name: z
      .string({ error: 'Name must be text or null' })
      .trim()
      .min(1, 'Name cannot be empty')
      .max(100, 'Name must be at most 100 characters')
      .nullable()
      .optional(),
    labels: labelList(LABEL_LIMITS.perDevice, 'Labels').optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `Unknown field: ${issue.keys.join(', ')}` : 'Expected an object',
  },
);

export const ReservationCreate = z.strictObject({
  ttlSeconds: z
    .number({ error: 'ttlSeconds must be a number' })
    .int('ttlSeconds must be a whole number')
    .min(1, 'ttlSeconds must be at least 1')
    .max(7 * 24 * 3600, 'ttlSeconds must be at most 604800 (7 days)')
    .optional(),
  label: z.string({ error: 'Label must be text' }).trim().max(200, 'Label must be at most 200 characters').optional(),
});
export const Reservation = z.object({ id: z.string(), udid: z.string(), label: z.string(), expiresAt: z.string() });
export type Reservation = z.infer<typeof Reservation>;

export const SOURCE_NAMES = ['adb', 'usb', 'usbmux', 'appium', 'demo'] as const;
export const SourceInfo = z.object({
  name: z.enum(SOURCE_NAMES),
  state: z.enum(['running', 'unavailable', 'off']),
  detail: z.string(),
});
export type SourceInfo = z.infer<typeof SourceInfo>;

export const Attempt = z.object({
  at: z.string(),
  durationMs: z.number(),
  request: z.object({ url: z.string(), headers: z.record(z.string(), z.string()), body: z.string() }),
  response: z.object({ status: z.number(), headers: z.record(z.string(), z.string()), body: z.string() }).nullable(),
  error: z.string().nullable(),
});
export type Attempt = z.infer<typeof Attempt>;

export const DeliveryStatus = z.enum(['pending', 'delivered', 'failed']);
export type DeliveryStatus = z.infer<typeof DeliveryStatus>;
export const Delivery = z.object({
  id: z.string(),
  eventId: z.string(),
  webhookId: z.number(),
  udid: z.string(),
  eventActivity: z.string(),
  status: DeliveryStatus,
  attempts: z.array(Attempt),
  createdAt: z.string(),
});
export type Delivery = z.infer<typeof Delivery>;

/** A filter left blank (`?udid=&status=`, as a form sends it) means no filter. */
const blank = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (value === '' ? undefined : value), schema);
export const DeviceQuery = z.strictObject({
  warning: blank(
    z
      .enum(['true', 'false'], { error: 'warning must be true or false' })
      .transform((value) => value === 'true')
      .optional(),
  ),
});

export const DeliveryQuery = z.strictObject({
  webhookId: blank(
    z.coerce
      .number({ error: 'webhookId must be a number' })
      .int('webhookId must be a whole number')
      .positive('webhookId must be a positive number')
      .optional(),
  ),
  udid: blank(z.string().max(128).optional()),
  status: blank(
    z.enum(['pending', 'delivered', 'failed'], { error: 'status must be pending, delivered or failed' }).optional(),
  ),
  limit: blank(
    z.coerce
      .number({ error: 'limit must be a number' })
      .int('limit must be a whole number')
      .min(1, 'limit must be at least 1')
      .max(500, 'limit must be at most 500')
      .default(50),
  ),
  cursor: blank(z.string().max(200).optional()),
});

export const TestSend = z.strictObject({ event: WebhookEvent.default('online') });

export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), fields: z.record(z.string(), z.string()).optional() }),
});

export const Health = z.object({ status: z.literal('ok'), version: z.string() });
