/**
 * Cross-site requests with the session cookie. The browser sends a SameSite=Strict cookie to
 * every port of the same host, so a page on another local port must not be able to act as the
 * signed-in admin; Labhook's own page (and any bearer-token client) keeps working.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipReason } from '../../scripts/requirements.mjs';
import { startApiServer, type ApiServer } from '../helpers/api-server.js';
import { launchChromium } from '../helpers/browser.js';
import { waitFor } from '../helpers/wait.js';
import { UsbmuxdPeer } from '../peers/usbmuxd.js';

const UDID = '00008101-000C5F0A1B2C3D4E';
let usbmuxd: UsbmuxdPeer;
let server: ApiServer;
let cookie: string;
let webhook: { id: number; secret: string };
let udid: string;

beforeAll(async () => {
  usbmuxd = new UsbmuxdPeer();
  await usbmuxd.start();
  server = await startApiServer(['--usbmux', usbmuxd.socketPath]);
  await usbmuxd.attach({ udid: UDID });
  await waitFor('the iPhone', async () => (await server.call('GET', `/api/v1/devices/${UDID}`)).status === 200);
  const signIn = await server.call('GET', `/?token=${encodeURIComponent(server.adminToken)}`, { token: null });
  cookie = String(signIn.headers['set-cookie']).split(';')[0];
  webhook = (
    await server.call('POST', '/api/v1/webhooks', {
      body: { name: 'csrf target', url: 'http://127.0.0.1:9/', events: ['online'] },
    })
  ).body;
  udid = UDID;
});
afterAll(async () => {
  await server?.close();
  await usbmuxd?.dispose();
});

const secretNow = async () => (await server.call('GET', `/api/v1/webhooks/${webhook.id}`)).body.secret as string;
const sessionsNow = async () =>
  (await server.call('GET', `/api/v1/devices/${encodeURIComponent(udid)}`)).body.sessions as unknown[];

describe('cookie-authenticated requests that change something', () => {
  const rotate = () => `/api/v1/webhooks/${webhook.id}/rotate-secret`;

  it('are refused from another origin, or when they say nothing of where they come from', async () => {
    const port = new URL(server.base).port;
    const refused: Record<string, string>[] = [
      { origin: 'http://127.0.0.1:1' },
      { origin: `http://localhost:${Number(port) + 1}` },
      { origin: `https://127.0.0.1:${port}` },
      { origin: 'null' },
      { 'sec-fetch-site': 'same-site' },
      {},
    ];
    for (const headers of refused) {
      const reply = await server.call('POST', rotate(), { token: null, headers: { cookie, ...headers } });
      expect(reply.status, JSON.stringify(headers)).toBe(403);
      expect(reply.body.error.code).toBe('forbidden');
    }
    expect(await secretNow()).toBe(webhook.secret);
  });

  it('pass from the same origin, by Origin or by Sec-Fetch-Site', async () => {
    const own = { origin: server.base };
    const byOrigin = await server.call('POST', rotate(), { token: null, headers: { cookie, ...own } });
    expect(byOrigin.status).toBe(200);
    const bySite = await server.call('POST', rotate(), {
      token: null,
      headers: { cookie, 'sec-fetch-site': 'same-origin' },
    });
    expect(bySite.status).toBe(200);
    webhook.secret = bySite.body.secret;
    // Reading needs no Origin.
    expect((await server.call('GET', '/api/v1/webhooks', { token: null, headers: { cookie } })).status).toBe(200);
  });

  it('with a bearer token are not affected, whatever the Origin', async () => {
    const reply = await server.call('POST', rotate(), { headers: { origin: 'http://127.0.0.1:1' } });
    expect(reply.status).toBe(200);
    webhook.secret = reply.body.secret;
  });
});

describe('a request without a body', () => {
  it('is refused where the operation takes one, instead of being read as {}', async () => {
    const path = `/api/v1/devices/${encodeURIComponent(udid)}/sessions`;
    const bodyless = await server.call('POST', path);
    expect(bodyless.status).toBe(400);
    expect(bodyless.body.error.code).toBe('bad_json');
    const test = await server.call('POST', `/api/v1/webhooks/${webhook.id}/test`);
    expect(test.status).toBe(400);
    expect(await sessionsNow()).toEqual([]);
    // {} takes the defaults, as documented.
    const reserved = await server.call('POST', path, { body: {} });
    expect(reserved.status).toBe(201);
    expect((await server.call('DELETE', `${path}/${reserved.body.id}`)).status).toBe(204);
  });
});

describe.skipIf(skipReason('chromium'))('in Chromium', () => {
  let browser: Browser;
  let attacker: http.Server;
  let attackerBase: string;

  beforeAll(async () => {
    browser = await launchChromium();
    // Another local port: same site as Labhook to the browser, another origin.
    attacker = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>elsewhere</title><script>
        const target = ${JSON.stringify(server.base)};
        const results = {};
        const attempt = (name, path, init) =>
          fetch(target + path, { mode: 'no-cors', credentials: 'include', ...init }).then(
            () => (results[name] = 'sent'),
            (error) => (results[name] = 'failed: ' + error),
          );
        Promise.all([
          attempt('rotate', '/api/v1/webhooks/${webhook.id}/rotate-secret', { method: 'POST' }),
          attempt('reserve', '/api/v1/devices/${encodeURIComponent(udid)}/sessions', { method: 'POST' }),
          attempt('reserve as text', '/api/v1/devices/${encodeURIComponent(udid)}/sessions', {
            method: 'POST', body: '{"ttlSeconds":600}', headers: { 'content-type': 'text/plain' } }),
          attempt('test', '/api/v1/webhooks/${webhook.id}/test', { method: 'POST' }),
        ]).then(() => { window.results = results; });
      </script>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerBase = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await browser?.close();
    attacker?.closeAllConnections();
    await new Promise((resolve) => attacker?.close(resolve));
  });

  it('a page on another port cannot act as the signed-in admin; Labhook’s own page can', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.base}/?token=${encodeURIComponent(server.adminToken)}`);
    expect(new URL(page.url()).search).toBe('');
    const secret = await secretNow();

    await page.goto(`${attackerBase}/`);
    const results = await page.waitForFunction('window.results');
    // The browser did send every request (with the cookie: same site); Labhook refused them.
    expect(Object.values((await results.jsonValue()) as Record<string, string>)).toEqual(Array(4).fill('sent'));
    expect(await secretNow()).toBe(secret);
    expect(await sessionsNow()).toEqual([]);
    expect((await server.call('GET', `/api/v1/webhooks/${webhook.id}`)).status).toBe(200);
    const log = await server.call('GET', `/api/v1/deliveries?webhookId=${webhook.id}`);
    expect(log.body.items).toEqual([]);

    // Positive control: the same browser, same cookie, from Labhook's own origin.
    await page.goto(`${server.base}/`);
    // In the page, as the window's own code would do it.
    const own = await page.evaluate(`(async () => {
      const events = new EventSource('/api/v1/events');
      const heard = new Promise((resolve) => events.addEventListener('device', (event) => resolve(event.data)));
      const rotate = await fetch('/api/v1/webhooks/${webhook.id}/rotate-secret', { method: 'POST' });
      const reserve = await fetch('/api/v1/devices/${encodeURIComponent(udid)}/sessions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"ttlSeconds":60}',
      });
      const data = JSON.parse(await heard);
      events.close();
      return { rotate: rotate.status, reserve: reserve.status, status: data.device.status };
    })()`);
    expect(own).toEqual({ rotate: 200, reserve: 201, status: 'utilizing' });
    expect(await secretNow()).not.toBe(secret);
    await context.close();
  });
});
