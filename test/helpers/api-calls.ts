/**
 * One call of every operation in the contract that succeeds when the caller may make it: the role
 * × route matrix asserts each one's exact status, and the hostile-input suite mutates their paths
 * and bodies. A new operation in contract.ts needs an entry in CALLS; the type-check fails until it
 * has one, and so does the matrix's coverage test.
 */
import { operations, type OperationName } from '../../electron/core/api/contract.js';
import { startApiServer, type ApiServer } from './api-server.js';
import { waitFor } from './wait.js';
import { startReceiver, type Receiver } from '../peers/receivers.js';
import { UsbmuxdPeer } from '../peers/usbmuxd.js';

export const ENV_ADMIN_TOKEN = 'env-admin-token-for-the-api-suites';

/** A server with something to call: an iPhone, a webhook to a live receiver, a logged delivery. */
export interface ApiFixture {
  server: ApiServer;
  udid: string;
  webhookId: number;
  deliveryId: string;
  /** A bearer token of each role. */
  tokens: Record<'admin' | 'manager' | 'viewer', string>;
  /** An admin call that is not under test: the environment's admin token, which no test revokes. */
  admin(method: string, path: string, body?: unknown): Promise<any>;
  close(): Promise<void>;
}

export async function startApiFixture(): Promise<ApiFixture> {
  const usbmuxd = new UsbmuxdPeer();
  await usbmuxd.start();
  let receiver: Receiver | undefined;
  let server: ApiServer | undefined;
  try {
    receiver = await startReceiver({ status: 200 });
    server = await startApiServer(['--usbmux', usbmuxd.socketPath], { LABHOOK_ADMIN_TOKEN: ENV_ADMIN_TOKEN });
    const api = server;
    const admin = async (method: string, path: string, body?: unknown) => {
      const reply = await api.call(method, `/api/v1${path}`, { token: ENV_ADMIN_TOKEN, body });
      if (reply.status >= 300) throw new Error(`${method} ${path} answered ${reply.status}: ${reply.text}`);
      return reply.body;
    };
    const udid = '00008101-000A1B2C3D4E5F60';
    await usbmuxd.attach({ udid });
    await waitFor('the iPhone', async () => (await api.call('GET', `/api/v1/devices/${udid}`)).status === 200);
    const webhook = await admin('POST', '/webhooks', {
      name: 'fixture',
      url: receiver.url,
      events: ['online'],
      headers: { Authorization: 'Bearer fixture-receiver-credential' },
    });
    await admin('POST', `/webhooks/${webhook.id}/test`, {});
    const [delivery] = (await admin('GET', `/deliveries?webhookId=${webhook.id}`)).items;
    const tokens = { admin: '', manager: '', viewer: '' };
    for (const role of ['admin', 'manager', 'viewer'] as const)
      tokens[role] = (await admin('POST', '/tokens', { name: `${role} token`, role })).token;
    const r = receiver;
    return {
      server: api,
      udid,
      webhookId: webhook.id,
      deliveryId: delivery.id,
      tokens,
      admin,
      close: async () => {
        await api.close();
        await r.close();
        await usbmuxd.dispose();
      },
    };
  } catch (error) {
    await server?.close();
    await receiver?.close();
    await usbmuxd.dispose();
    throw error;
  }
}

export interface Call {
  /** Under /api/v1, with the path parameters filled in. */
  path: string;
  body?: unknown;
}

let unique = 0;
const next = () => `${Date.now().toString(36)}-${++unique}`;

/**
 * Who may make each call, as API.md's table says: anyone (`public`), any role (`any`), those with
 * `org_setting.modify` (admins and managers), or admins only.
 */
export type Who = 'public' | 'any' | 'modify' | 'admin';

export function allowed(who: Who, role: 'admin' | 'manager' | 'viewer' | null): boolean {
  if (who === 'public') return true;
  if (role === null) return false;
  return who === 'any' || role === 'admin' || (who === 'modify' && role === 'manager');
}

/**
 * For each operation, who may make it, and a call that succeeds with the contract's status when
 * the role may. A call is made afresh for every caller, so one that uses something up (a delete,
 * a release) makes what it uses up first.
 */
export const CALLS: { [N in OperationName]: { who: Who; call: (f: ApiFixture) => Call | Promise<Call> } } = {
  health: { who: 'public', call: () => ({ path: '/health' }) },
  listSources: { who: 'any', call: () => ({ path: '/sources' }) },
  listDevices: { who: 'any', call: () => ({ path: '/devices' }) },
  getDevice: { who: 'any', call: (f) => ({ path: `/devices/${f.udid}` }) },
  renameDevice: {
    who: 'modify',
    call: (f) => ({ path: `/devices/${f.udid}`, body: { name: null, labels: ['matrix'] } }),
  },
  reserveDevice: {
    who: 'any',
    call: (f) => ({ path: `/devices/${f.udid}/sessions`, body: { ttlSeconds: 60, label: 'matrix' } }),
  },
  releaseDevice: {
    who: 'any',
    call: async (f) => {
      const reservation = await f.admin('POST', `/devices/${f.udid}/sessions`, {});
      return { path: `/devices/${f.udid}/sessions/${reservation.id}` };
    },
  },
  listWebhooks: { who: 'any', call: () => ({ path: '/webhooks' }) },
  createWebhook: {
    who: 'modify',
    call: () => ({
      path: '/webhooks',
      body: {
        name: `created ${next()}`,
        url: 'http://127.0.0.1:9/hook',
        description: 'made by a test',
        events: ['online', 'offline'],
        enabled: false,
        devices: null,
        headers: { 'X-Team': 'qa' },
      },
    }),
  },
  getWebhook: { who: 'any', call: (f) => ({ path: `/webhooks/${f.webhookId}` }) },
  updateWebhook: {
    who: 'modify',
    call: (f) => ({ path: `/webhooks/${f.webhookId}`, body: { description: `changed ${next()}` } }),
  },
  deleteWebhook: {
    who: 'modify',
    call: async (f) => {
      const webhook = await f.admin('POST', '/webhooks', {
        name: `to delete ${next()}`,
        url: 'http://127.0.0.1:9/',
        events: ['online'],
      });
      return { path: `/webhooks/${webhook.id}` };
    },
  },
  testWebhook: { who: 'modify', call: (f) => ({ path: `/webhooks/${f.webhookId}/test`, body: { event: 'offline' } }) },
  rotateSecret: { who: 'modify', call: (f) => ({ path: `/webhooks/${f.webhookId}/rotate-secret` }) },
  listDeliveries: {
    who: 'any',
    call: (f) => ({ path: `/deliveries?webhookId=${f.webhookId}&status=delivered&limit=5` }),
  },
  getDelivery: { who: 'any', call: (f) => ({ path: `/deliveries/${f.deliveryId}` }) },
  redeliver: { who: 'modify', call: (f) => ({ path: `/deliveries/${f.deliveryId}/redeliver` }) },
  getHealthSettings: { who: 'any', call: () => ({ path: '/settings/health' }) },
  updateHealthSettings: { who: 'modify', call: () => ({ path: '/settings/health', body: { maxFlapsPerHour: 10 } }) },
  getOrg: { who: 'any', call: () => ({ path: '/org' }) },
  updateOrg: { who: 'admin', call: () => ({ path: '/org', body: { name: 'My lab' } }) },
  listTokens: { who: 'admin', call: () => ({ path: '/tokens' }) },
  createToken: { who: 'admin', call: () => ({ path: '/tokens', body: { name: `made ${next()}`, role: 'viewer' } }) },
  deleteToken: {
    who: 'admin',
    call: async (f) => {
      const token = await f.admin('POST', '/tokens', { name: `to delete ${next()}`, role: 'viewer' });
      return { path: `/tokens/${token.id}` };
    },
  },
  rotateSignInToken: { who: 'admin', call: () => ({ path: '/tokens/sign-in/rotate' }) },
};

/** The operation's path template as a pattern, to check that a call really is a call of it. */
export function routePattern(name: OperationName): RegExp {
  const template = operations[name].path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/?]+');
  return new RegExp(`^${template}(\\?.*)?$`);
}
