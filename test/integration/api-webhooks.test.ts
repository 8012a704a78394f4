import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../helpers/api-server.js';

let server: ApiServer;
beforeAll(async () => {
  server = await startApiServer();
});
afterAll(async () => server.close());

const hook = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  url: 'http://127.0.0.1:9/hook',
  events: ['online'],
  ...extra,
});

describe('webhooks over HTTP', () => {
  it('creates, lists, gets, patches and deletes', async () => {
    const created = await server.call('POST', '/api/v1/webhooks', {
      body: hook('Webhook for All events', {
        events: ['online', 'offline', 'utilizing', 'unplugged'],
        description: 'all',
      }),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'Webhook for All events',
      description: 'all',
      enabled: true,
      devices: null,
      headers: {},
    });
    expect(typeof created.body.id).toBe('number');
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(created.body.secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    expect(Object.keys(created.body).sort()).toEqual([
      'createdAt',
      'description',
      'devices',
      'enabled',
      'events',
      'headers',
      'healthCallbacks',
      'id',
      'labels',
      'name',
      'secret',
      'updatedAt',
      'url',
    ]);
    const id = created.body.id;

    const list = await server.call('GET', '/api/v1/webhooks');
    expect(list.status).toBe(200);
    expect(list.body.items.map((w: { id: number }) => w.id)).toContain(id);

    expect((await server.call('GET', `/api/v1/webhooks/${id}`)).body).toEqual(created.body);

    const patched = await server.call('PATCH', `/api/v1/webhooks/${id}`, {
      body: { description: 'changed', enabled: false },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      id,
      name: 'Webhook for All events',
      description: 'changed',
      enabled: false,
      secret: created.body.secret,
    });

    const removed = await server.call('DELETE', `/api/v1/webhooks/${id}`);
    expect(removed.status).toBe(204);
    expect(removed.text).toBe('');
    expect((await server.call('GET', `/api/v1/webhooks/${id}`)).status).toBe(404);
  });

  it('never reuses an id', async () => {
    const a = await server.call('POST', '/api/v1/webhooks', { body: hook('reuse-a') });
    await server.call('DELETE', `/api/v1/webhooks/${a.body.id}`);
    const b = await server.call('POST', '/api/v1/webhooks', { body: hook('reuse-b') });
    expect(b.body.id).toBeGreaterThan(a.body.id);
  });

  it('keeps names unique, case-sensitively', async () => {
    expect((await server.call('POST', '/api/v1/webhooks', { body: hook('Device offline') })).status).toBe(201);
    const duplicate = await server.call('POST', '/api/v1/webhooks', { body: hook('Device offline') });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body).toEqual({
      error: {
        code: 'name_taken',
        message: 'A webhook named "Device offline" already exists',
        fields: { name: 'Webhook Name must be unique in the org' },
      },
    });
    expect((await server.call('POST', '/api/v1/webhooks', { body: hook(' Device offline ') })).status).toBe(409);
    expect((await server.call('POST', '/api/v1/webhooks', { body: hook('device offline') })).status).toBe(201);
    const other = await server.call('POST', '/api/v1/webhooks', { body: hook('rename-me') });
    expect(
      (await server.call('PATCH', `/api/v1/webhooks/${other.body.id}`, { body: { name: 'Device offline' } })).status,
    ).toBe(409);
    expect(
      (await server.call('PATCH', `/api/v1/webhooks/${other.body.id}`, { body: { name: 'rename-me' } })).status,
    ).toBe(200);
  });

  it('answers 422 with every field message', async () => {
    const reply = await server.call('POST', '/api/v1/webhooks', {
      body: { name: 'n'.repeat(51), url: 'x'.repeat(513), description: 'd'.repeat(513), events: [] },
    });
    expect(reply.status).toBe(422);
    expect(reply.body.error.code).toBe('validation_failed');
    expect(reply.body.error.fields).toEqual({
      name: 'Webhook Name must be at most 50 characters',
      url: 'URL must be at most 512 characters',
      description: 'Description must be at most 512 characters',
      events: 'Enable at least one event',
    });
    expect((await server.call('POST', '/api/v1/webhooks', { body: [] })).status).toBe(422);
    expect((await server.call('PATCH', '/api/v1/webhooks/1', { body: { events: ['sometimes'] } })).status).toBe(422);
  });

  it('keys each field error by the form field: the list for events and devices, the row for headers', async () => {
    const reply = await server.call('POST', '/api/v1/webhooks', {
      body: {
        ...hook('keyed errors'),
        events: ['online', 'charging'],
        devices: ['ok', ''],
        headers: { 'X-Fine': 'v', 'X-Bad': 'line\nbreak' },
      },
    });
    expect(reply.status).toBe(422);
    expect(Object.keys(reply.body.error.fields).sort()).toEqual(['devices', 'events', 'headers.X-Bad']);
  });

  it('rotates the secret', async () => {
    const created = await server.call('POST', '/api/v1/webhooks', { body: hook('rotate') });
    const rotated = await server.call('POST', `/api/v1/webhooks/${created.body.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(created.body.secret);
  });
});

describe('error format and request limits', () => {
  it('400 bad_json for a body that does not parse', async () => {
    const reply = await server.call('POST', '/api/v1/webhooks', {
      raw: '{"name":',
      headers: { 'content-type': 'application/json' },
    });
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ error: { code: 'bad_json', message: 'The body is not valid JSON' } });
  });
  it('400 bad_json for prototype poisoning', async () => {
    const reply = await server.call('POST', '/api/v1/webhooks', {
      raw: '{"__proto__":{"admin":true}}',
      headers: { 'content-type': 'application/json' },
    });
    expect(reply.status).toBe(400);
    expect(reply.body.error.code).toBe('bad_json');
  });
  it('401 unauthorized without or with a wrong token', async () => {
    for (const token of [null, 'nope', '']) {
      const reply = await server.call('GET', '/api/v1/webhooks', { token });
      expect(reply.status).toBe(401);
      expect(reply.body.error.code).toBe('unauthorized');
    }
    const malformed = await server.call('GET', '/api/v1/webhooks', {
      token: null,
      headers: { authorization: 'Basic YTpi' },
    });
    expect(malformed.status).toBe(401);
  });
  it('404 not_found for unknown routes and ids', async () => {
    expect((await server.call('GET', '/api/v1/nothing')).body.error.code).toBe('not_found');
    expect((await server.call('GET', '/api/v1/webhooks/999999')).status).toBe(404);
    expect((await server.call('GET', '/api/v1/webhooks/abc')).status).toBe(404);
    expect((await server.call('DELETE', '/api/v1/webhooks/-1')).status).toBe(404);
    const badEscape = await server.call('GET', '/api/v1/devices/%00%ff');
    expect(badEscape.status).toBe(404);
    expect(badEscape.body.error.code).toBe('not_found');
  });
  it('413 payload_too_large over 64 KiB', async () => {
    const reply = await server.call('POST', '/api/v1/webhooks', {
      body: hook('big', { description: 'x'.repeat(64 * 1024) }),
    });
    expect(reply.status).toBe(413);
    expect(reply.body.error.code).toBe('payload_too_large');
    const under = await server.call('POST', '/api/v1/webhooks', {
      body: hook('just under', { description: 'x'.repeat(60 * 1024) }),
    });
    expect(under.status).toBe(422);
  });
  it('415 unsupported_media_type for non-JSON bodies', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const reply = await server.call('POST', '/api/v1/webhooks', { raw: 'name=x', headers: { 'content-type': type } });
      expect(reply.status, type).toBe(415);
      expect(reply.body.error.code).toBe('unsupported_media_type');
    }
  });
  it('health needs no token and names the version', async () => {
    const reply = await server.call('GET', '/api/v1/health', { token: null });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ status: 'ok', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  });
  it('publishes an OpenAPI document covering every route, to those with a token', async () => {
    expect((await server.call('GET', '/api/v1/openapi.json', { token: null })).status).toBe(401);
    const reply = await server.call('GET', '/api/v1/openapi.json');
    expect(reply.status).toBe(200);
    expect(reply.body.openapi).toBe('3.1.0');
    expect(Object.keys(reply.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/webhooks',
        '/api/v1/webhooks/{id}',
        '/api/v1/tokens',
        '/api/v1/org',
        '/api/v1/health',
      ]),
    );
    const create = reply.body.paths['/api/v1/webhooks'].post;
    expect(create.requestBody.content['application/json'].schema.properties.name.maxLength).toBe(50);
    expect(create.responses['409']).toBeDefined();
  });
});

describe('org', () => {
  it('reads and changes the org id used in callbacks', async () => {
    expect((await server.call('GET', '/api/v1/org')).body).toEqual({ id: 1, name: 'My lab' });
    const patched = await server.call('PATCH', '/api/v1/org', { body: { id: 2, name: 'Device lab' } });
    expect(patched.body).toEqual({ id: 2, name: 'Device lab' });
    expect((await server.call('PATCH', '/api/v1/org', { body: { id: 'two' } })).status).toBe(422);
    expect((await server.call('PATCH', '/api/v1/org', { body: { id: -1 } })).body.error.fields.id).toBe(
      'Org id must be 0 or more',
    );
  });
});
