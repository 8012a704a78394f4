/**
 * Receivers' credentials: a webhook's custom headers and the secret parts of its URL are shown in
 * full only to those who may change webhooks; viewers, the delivery log (in the API and on disk)
 * and log lines see them masked.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../helpers/api-server.js';
import { waitFor } from '../helpers/wait.js';
import { startReceiver, type Receiver } from '../peers/receivers.js';

const HEADER_SECRET = 'Bearer receiver-header-secret-1';
const PATH_SECRET = 'T0ken1n7hePathAbCdEfGh';
const QUERY_SECRET = 'query-secret-value';
const MASK = '****';

let server: ApiServer;
let receiver: Receiver;
const tokens: Record<'admin' | 'manager' | 'viewer', string> = { admin: '', manager: '', viewer: '' };
let webhook: { id: number; url: string; secret: string };

beforeAll(async () => {
  receiver = await startReceiver({ status: 200 });
  server = await startApiServer();
  for (const role of ['admin', 'manager', 'viewer'] as const) {
    tokens[role] = (await server.call('POST', '/api/v1/tokens', { body: { name: role, role } })).body.token;
  }
  const created = await server.call('POST', '/api/v1/webhooks', {
    body: {
      name: 'with credentials',
      url: `${receiver.url}/${PATH_SECRET}?key=${QUERY_SECRET}`,
      events: ['online'],
      headers: { Authorization: HEADER_SECRET, 'X-Team': 'qa' },
    },
  });
  expect(created.status).toBe(201);
  webhook = created.body;
});
afterAll(async () => {
  await server?.close();
  await receiver?.close();
});

const secrets = () => [HEADER_SECRET, PATH_SECRET, QUERY_SECRET, webhook.secret];

describe('webhooks as each role sees them', () => {
  it('managers and admins see every header value, the whole URL and the secret', async () => {
    for (const role of ['admin', 'manager'] as const) {
      const got = await server.call('GET', `/api/v1/webhooks/${webhook.id}`, { token: tokens[role] });
      expect(got.body).toMatchObject({
        url: webhook.url,
        headers: { Authorization: HEADER_SECRET, 'X-Team': 'qa' },
        secret: webhook.secret,
      });
    }
  });

  it('viewers see header names with masked values and the URL with its secrets masked', async () => {
    const port = new URL(receiver.url).port;
    const one = await server.call('GET', `/api/v1/webhooks/${webhook.id}`, { token: tokens.viewer });
    expect(one.body).toMatchObject({
      url: `http://127.0.0.1:${port}/hook/${MASK}?key=${MASK}`,
      headers: { Authorization: MASK, 'X-Team': MASK },
      secret: 'whsec_hidden',
    });
    const all = await server.call('GET', '/api/v1/webhooks', { token: tokens.viewer });
    for (const secret of secrets()) {
      expect(one.text).not.toContain(secret);
      expect(all.text).not.toContain(secret);
    }
  });
});

describe('the delivery log', () => {
  it('sends the credentials to the receiver but logs them masked, for every role and on disk', async () => {
    const sent = await server.call('POST', `/api/v1/webhooks/${webhook.id}/test`, { body: {} });
    expect(sent.status).toBe(200);
    const [request] = await receiver.waitFor(1);
    expect(request.headers.authorization).toBe(HEADER_SECRET);
    expect(request.path).toBe(`/hook/${PATH_SECRET}?key=${QUERY_SECRET}`);

    expect(sent.body.request.headers).toMatchObject({ authorization: MASK, 'x-team': MASK });
    expect(sent.body.request.headers['webhook-id']).toBe(request.headers['webhook-id']);
    expect(sent.body.request.url).toContain(`/hook/${MASK}?key=${MASK}`);
    for (const role of ['admin', 'viewer'] as const) {
      const log = await server.call('GET', `/api/v1/deliveries?webhookId=${webhook.id}`, { token: tokens[role] });
      expect(log.body.items).toHaveLength(1);
      for (const secret of secrets()) expect(log.text).not.toContain(secret);
    }

    const dir = join(server.dataDir, 'deliveries');
    const files = await readdir(dir);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const text = await readFile(join(dir, file), 'utf8');
      for (const secret of secrets()) expect(text, file).not.toContain(secret);
    }
  });

  it('a receiver that answers 410 disables the webhook; the log line names its URL masked', async () => {
    receiver.respond({ status: 410 });
    const [delivery] = (await server.call('GET', `/api/v1/deliveries?webhookId=${webhook.id}`)).body.items;
    expect((await server.call('POST', `/api/v1/deliveries/${delivery.id}/redeliver`)).status).toBe(202);
    const line = await waitFor('the log line of the 410', () => server.log.find((l) => l.includes('410 Gone')));
    expect(line).toContain(`/hook/${MASK}?key=${MASK}`);
    for (const logged of server.log) for (const secret of secrets()) expect(logged).not.toContain(secret);
  });
});
