import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations, type OperationName } from '../../electron/core/api/contract.js';
import {
  allowed,
  CALLS,
  ENV_ADMIN_TOKEN,
  routePattern,
  startApiFixture,
  type ApiFixture,
  type Who,
} from '../helpers/api-calls.js';
import type { ApiServer } from '../helpers/api-server.js';

let fixture: ApiFixture;
let server: ApiServer;
let tokens: ApiFixture['tokens'];

beforeAll(async () => {
  fixture = await startApiFixture();
  server = fixture.server;
  tokens = fixture.tokens;
});
afterAll(async () => fixture?.close());

const ROLES = [null, 'viewer', 'manager', 'admin'] as const;

describe('every role against every operation', () => {
  it('the matrix covers every operation of the contract', () => {
    expect(Object.keys(CALLS).sort()).toEqual(Object.keys(operations).sort());
  });

  for (const name of Object.keys(CALLS) as OperationName[]) {
    const op = operations[name];
    const { who, call } = CALLS[name];
    for (const role of ROLES) {
      const may = allowed(who, role);
      it(`${role ?? 'no token'} ${op.method} ${op.path}: ${may ? op.status : role ? 403 : 401}`, async () => {
        const { path, body } = await call(fixture);
        expect(path).toMatch(routePattern(name));
        const reply = await server.call(op.method, `/api/v1${path}`, { token: role ? tokens[role] : null, body });
        if (may) {
          expect(reply.status, reply.text).toBe(op.status);
        } else {
          expect(reply.status).toBe(role ? 403 : 401);
          expect(reply.body.error.code).toBe(role ? 'forbidden' : 'unauthorized');
        }
      });
    }
  }
});

/** Routes outside the contract: the event stream, the OpenAPI document and the metrics. */
const OTHER_ROUTES: [path: string, who: Who][] = [
  ['/api/v1/events', 'any'],
  ['/api/v1/openapi.json', 'any'],
  ['/metrics', 'any'],
];

describe('every role against the routes outside the contract', () => {
  for (const [path, who] of OTHER_ROUTES) {
    for (const role of ROLES) {
      const may = allowed(who, role);
      it(`${role ?? 'no token'} GET ${path}: ${may ? 200 : 401}`, async () => {
        expect(await statusOf(path, role ? tokens[role] : null)).toBe(may ? 200 : 401);
      });
    }
  }
});

/** The status alone: the event stream never ends, so the body is not read. */
function statusOf(path: string, token: string | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, server.base);
    const req = httpRequest(url, { headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      resolve(res.statusCode ?? 0);
      res.destroy();
    });
    req.on('error', reject);
    req.end();
  });
}

describe('tokens', () => {
  it('are shown once and stored hashed', async () => {
    const created = await server.call('POST', '/api/v1/tokens', { body: { name: 'ci', role: 'viewer' } });
    expect(created.body).toEqual({
      id: expect.any(String),
      name: 'ci',
      role: 'viewer',
      token: expect.stringMatching(/^lh_/),
    });
    const list = await server.call('GET', '/api/v1/tokens');
    const listed = list.body.items.find((t: { id: string }) => t.id === created.body.id);
    expect(listed).toEqual({
      id: created.body.id,
      name: 'ci',
      role: 'viewer',
      createdAt: expect.any(String),
      lastUsedAt: null,
    });
    const { readFile } = await import('node:fs/promises');
    const file = await readFile(`${server.dataDir}/db.json`, 'utf8');
    expect(file).not.toContain(created.body.token);
  });
  it('work until deleted', async () => {
    const created = await server.call('POST', '/api/v1/tokens', { body: { name: 'short-lived', role: 'manager' } });
    expect((await server.call('GET', '/api/v1/webhooks', { token: created.body.token })).status).toBe(200);
    expect((await server.call('DELETE', `/api/v1/tokens/${created.body.id}`)).status).toBe(204);
    expect((await server.call('GET', '/api/v1/webhooks', { token: created.body.token })).status).toBe(401);
    expect((await server.call('DELETE', `/api/v1/tokens/${created.body.id}`)).status).toBe(404);
  });
  it('validate name and role', async () => {
    const reply = await server.call('POST', '/api/v1/tokens', { body: { name: '', role: 'owner' } });
    expect(reply.status).toBe(422);
    expect(reply.body.error.fields).toEqual({
      name: 'Token name is required',
      role: 'Role must be admin, manager or viewer',
    });
  });
  it('LABHOOK_ADMIN_TOKEN is an admin token', async () => {
    expect((await server.call('GET', '/api/v1/tokens', { token: ENV_ADMIN_TOKEN })).status).toBe(200);
    expect((await server.call('GET', '/api/v1/tokens', { token: `${ENV_ADMIN_TOKEN}-` })).status).toBe(401);
  });
});

describe('sign-in link and Host check', () => {
  it('the printed link sets an HttpOnly SameSite=Strict cookie and leaves the address bar', async () => {
    expect(server.served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=/);
    const link = new URL(server.served.url);
    const reply = await server.call('GET', `/${link.search}`, { token: null });
    expect(reply.status).toBe(303);
    expect(reply.headers.location).toBe('/');
    const cookie = String(reply.headers['set-cookie']);
    expect(cookie).toMatch(/^labhook_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/);
    const session = cookie.split(';')[0];
    const withCookie = await server.call('GET', '/api/v1/webhooks', { token: null, headers: { cookie: session } });
    expect(withCookie.status).toBe(200);
    expect((await server.call('GET', '/?token=wrong', { token: null })).status).toBe(401);
    expect(
      (await server.call('GET', '/api/v1/webhooks', { token: null, headers: { cookie: 'labhook_session=wrong' } }))
        .status,
    ).toBe(401);
  });

  it('refuses requests for other host names', async () => {
    const port = new URL(server.base).port;
    for (const [host, ok] of [
      [`127.0.0.1:${port}`, true],
      [`localhost:${port}`, true],
      ['localhost', true],
      [`evil.example:${port}`, false],
      [`127.0.0.1.nip.io:${port}`, false],
      [`192.168.1.9:${port}`, false],
    ] as const) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/api/v1/health', headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status, host).toBe(ok ? 200 : 403);
    }
  });

  it('sends no CORS headers', async () => {
    const reply = await server.call('GET', '/api/v1/webhooks', { headers: { origin: 'http://evil.example' } });
    expect(reply.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('signing secrets', () => {
  it('are shown to those who may change webhooks, and hidden from viewers', async () => {
    const created = await server.call('POST', '/api/v1/webhooks', {
      body: { name: 'secret-holder', url: 'http://127.0.0.1:9/', events: ['online'] },
    });
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{40,}/);
    for (const role of ['admin', 'manager'] as const) {
      expect(
        (await server.call('GET', `/api/v1/webhooks/${created.body.id}`, { token: tokens[role] })).body.secret,
      ).toBe(created.body.secret);
    }
    const viewed = await server.call('GET', `/api/v1/webhooks/${created.body.id}`, { token: tokens.viewer });
    expect(viewed.body.secret).toBe('whsec_hidden');
    const listed = await server.call('GET', '/api/v1/webhooks', { token: tokens.viewer });
    expect(listed.text).not.toContain(created.body.secret);
  });
});
