/** Every operation of the contract, implemented once. Permission and input checks happened in the dispatcher. */
import { allows, type Caller } from '../access/permissions.js';
import type { TokenService } from '../access/tokens.js';
import { notFound } from '../api/errors.js';
import { maskHeaderValues, maskUrl } from '../api/masking.js';
import { HIDDEN_SECRET, type Webhook } from '../api/schemas.js';
import type { ConfigLog } from '../store/config-ops.js';
import type { StoredWebhook } from '../webhooks/model.js';
import { publicWebhook, type WebhookStore } from '../webhooks/store.js';
import type { Handlers } from './dispatcher.js';
import type { DeliveryDesk, DeviceDirectory, HealthSettingsDesk, ReservationDesk, SourceBoard } from './parts.js';

export interface HandlerDeps {
  version: string;
  config: ConfigLog;
  tokens: TokenService;
  webhooks: WebhookStore;
  devices: DeviceDirectory;
  reservations: ReservationDesk;
  deliveries: DeliveryDesk;
  sources: SourceBoard;
  healthSettings: HealthSettingsDesk;
}

/**
 * A signing secret lets its holder forge callbacks, and custom headers and the URL often are the
 * receiver's credential: only those who may change webhooks see them; viewers see them masked.
 */
function visibleTo(caller: Caller, webhook: StoredWebhook): Webhook {
  const shown = publicWebhook(webhook);
  if (allows(caller.role, 'org_setting.modify')) return shown;
  return { ...shown, url: maskUrl(shown.url), headers: maskHeaderValues(shown.headers), secret: HIDDEN_SECRET };
}

export function createHandlers(d: HandlerDeps): Handlers {
  const device = (udid: string) => {
    const found = d.devices.device(udid);
    if (!found) throw notFound(`Device ${udid}`);
    return found;
  };

  return {
    health: async () => ({ status: 'ok', version: d.version }),
    listSources: async () => ({ items: d.sources.sources() }),

    listDevices: async ({ query }) => ({
      items: d.devices
        .devices()
        .filter((item) => query.warning === undefined || item.health.warnings.length > 0 === query.warning),
    }),
    getDevice: async ({ params }) => device(params.udid),
    renameDevice: async ({ params, body }) => {
      device(params.udid);
      if (body.name !== undefined) await d.devices.rename(params.udid, body.name);
      if (body.labels !== undefined) await d.devices.setLabels(params.udid, body.labels);
      return device(params.udid);
    },
    reserveDevice: async ({ params, body }) => d.reservations.reserve(device(params.udid).udid, body),
    releaseDevice: async ({ params }) => {
      if (!(await d.reservations.release(params.udid, params.id)))
        throw notFound(`Session ${params.id} on device ${params.udid}`);
    },

    listWebhooks: async (_, caller) => ({ items: d.webhooks.list().map((w) => visibleTo(caller, w)) }),
    createWebhook: async ({ body }) => publicWebhook(await d.webhooks.create(body)),
    getWebhook: async ({ params }, caller) => visibleTo(caller, d.webhooks.require(params.id)),
    updateWebhook: async ({ params, body }) => publicWebhook(await d.webhooks.update(params.id, body)),
    deleteWebhook: async ({ params }) => {
      await d.webhooks.remove(params.id);
    },
    testWebhook: async ({ params, body }) => d.deliveries.test(d.webhooks.require(params.id), body.event),
    rotateSecret: async ({ params }) => publicWebhook(await d.webhooks.rotateSecret(params.id)),

    listDeliveries: async ({ query }) => d.deliveries.list(query),
    getDelivery: async ({ params }) => d.deliveries.get(params.id),
    redeliver: async ({ params }) => d.deliveries.redeliver(params.id),

    getOrg: async () => ({ ...d.config.data.org }),
    updateOrg: async ({ body }) => {
      await d.config.commit({ type: 'org.update', patch: body });
      return { ...d.config.data.org };
    },

    getHealthSettings: async () => d.healthSettings.get(),
    updateHealthSettings: async ({ body }) => d.healthSettings.update(body),

    listTokens: async () => ({ items: d.tokens.list() }),
    createToken: async ({ body }) => d.tokens.create(body.name, body.role),
    deleteToken: async ({ params }) => {
      if (!(await d.tokens.remove(params.id))) throw notFound(`Token ${params.id}`);
    },
    rotateSignInToken: async () => ({ token: await d.tokens.rotateSignIn() }),
  };
}
