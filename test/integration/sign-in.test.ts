/**
 * The sign-in token behind the `/?token=` link: made at start, kept in memory only, rotatable by
 * an admin. The link exchanges a token for a browser session (a secret in the cookie, its hash in
 * db.json) that lasts as long as what made it: rotating the sign-in token, deleting an API token or
 * changing LABHOOK_ADMIN_TOKEN ends the sessions made with it; 30 days unused end any.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../helpers/api-server.js';
import { openEventStream } from '../helpers/event-stream.js';
import { tempDir } from '../helpers/temp-dir.js';

let server: ApiServer;
beforeAll(async () => {
  server = await startApiServer();
});
afterAll(async () => server?.close());

async function signIn(token: string): Promise<string> {
  const reply = await server.call('GET', `/?token=${encodeURIComponent(token)}`, { token: null });
  expect(reply.status).toBe(303);
  return String(reply.headers['set-cookie']).split(';')[0];
}
const withCookie = (cookie: string) => ({ token: null, headers: { cookie, origin: server.base } });

describe('the sign-in token', () => {
  it('is not written to db.json', async () => {
    await server.call('POST', '/api/v1/tokens', { body: { name: 'make db.json write', role: 'viewer' } });
    const db = await readFile(join(server.dataDir, 'db.json'), 'utf8');
    expect(db).not.toContain(server.served.engine.signInToken);
    expect(JSON.parse(db).settings).not.toHaveProperty('signInToken');
  });

  it('rotates: the old token and browsers signed in with it stop working, the rotating browser stays in', async () => {
    const old = server.served.engine.signInToken;
    const bystander = await signIn(old);
    const rotator = await signIn(old);
    const rotated = await server.call('POST', '/api/v1/tokens/sign-in/rotate', withCookie(rotator));
    expect(rotated.status).toBe(200);
    expect(rotated.body).toEqual({ token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(rotated.body.token).not.toBe(old);
    expect(server.served.url).toContain(`?token=${rotated.body.token}`);

    const refreshed = String(rotated.headers['set-cookie']).split(';')[0];
    expect(refreshed).toMatch(/^labhook_session=lhs_[A-Za-z0-9_-]{43}$/);
    expect(refreshed).not.toBe(rotator);
    expect((await server.call('GET', '/api/v1/org', withCookie(refreshed))).status).toBe(200);
    expect((await server.call('GET', '/api/v1/org', withCookie(bystander))).status).toBe(401);
    expect((await server.call('GET', '/api/v1/org', { token: old })).status).toBe(401);
    expect((await server.call('GET', `/?token=${old}`, { token: null })).status).toBe(401);
    expect((await server.call('GET', '/api/v1/org', { token: rotated.body.token })).status).toBe(200);
  });

  it('rotating with a bearer token sets no cookie', async () => {
    const rotated = await server.call('POST', '/api/v1/tokens/sign-in/rotate', {
      token: server.served.engine.signInToken,
    });
    expect(rotated.status).toBe(200);
    expect(rotated.headers['set-cookie']).toBeUndefined();
  });

  it('kept in plain text by an older version is dropped from db.json on start', async () => {
    const dir = await tempDir();
    try {
      const first = await startApiServer(['--data-dir', dir.path]);
      await first.close();
      const path = join(dir.path, 'db.json');
      const data = JSON.parse(await readFile(path, 'utf8'));
      const legacy = 'legacy-sign-in-token-kept-in-plain-text-by-0.1';
      data.settings = { signInToken: legacy };
      await writeFile(path, JSON.stringify(data));
      const second = await startApiServer(['--data-dir', dir.path]);
      try {
        expect(await readFile(path, 'utf8')).not.toContain(legacy);
        expect((await second.call('GET', '/api/v1/org', { token: legacy })).status).toBe(401);
      } finally {
        await second.close();
      }
    } finally {
      await dir.remove();
    }
  });
});

describe('sessions', () => {
  it('the cookie holds a session secret, not the token; db.json holds neither', async () => {
    const cookie = await signIn(server.adminToken);
    const secret = cookie.split('=')[1];
    expect(secret).toMatch(/^lhs_/);
    expect(secret).not.toBe(server.adminToken);
    expect((await server.call('GET', '/api/v1/org', { token: secret })).status).toBe(401);
    const db = await readFile(join(server.dataDir, 'db.json'), 'utf8');
    expect(db).not.toContain(secret);
    expect(db).not.toContain(server.adminToken);
    expect(JSON.parse(db).sessions.length).toBeGreaterThan(0);
  });

  it('made with an API token end when it is deleted, with their event streams; the role is the token’s', async () => {
    const created = (await server.call('POST', '/api/v1/tokens', { body: { name: 'browser', role: 'viewer' } })).body;
    const cookie = await signIn(created.token);
    expect((await server.call('GET', '/api/v1/webhooks', withCookie(cookie))).status).toBe(200);
    expect((await server.call('GET', '/api/v1/tokens', withCookie(cookie))).status).toBe(403);
    const stream = await openCookieStream(cookie);
    expect((await server.call('DELETE', `/api/v1/tokens/${created.id}`)).status).toBe(204);
    await stream.ended;
    expect(stream.events.at(-1)!.type).toBe('signed-out');
    expect((await server.call('GET', '/api/v1/webhooks', withCookie(cookie))).status).toBe(401);
  });

  it(`are at most 50 per token: signing in once more ends the least recently used`, async () => {
    const created = (await server.call('POST', '/api/v1/tokens', { body: { name: 'script', role: 'viewer' } })).body;
    const cookies: string[] = [];
    for (let i = 0; i < 51; i++) cookies.push(await signIn(created.token));
    expect((await server.call('GET', '/api/v1/org', withCookie(cookies[0]))).status).toBe(401);
    expect((await server.call('GET', '/api/v1/org', withCookie(cookies[1]))).status).toBe(200);
    expect((await server.call('GET', '/api/v1/org', withCookie(cookies[50]))).status).toBe(200);
  });

  it('survive a restart; end when LABHOOK_ADMIN_TOKEN changes, or after 30 days unused', async () => {
    const dir = await tempDir();
    const start = (admin: string) => startApiServer(['--data-dir', dir.path], { LABHOOK_ADMIN_TOKEN: admin });
    try {
      let run = await start('first-admin-token');
      const call = (cookie: string) =>
        run.call('GET', '/api/v1/org', { token: null, headers: { cookie, origin: run.base } });
      const signInTo = async (token: string) =>
        String(
          (await run.call('GET', `/?token=${encodeURIComponent(token)}`, { token: null })).headers['set-cookie'],
        ).split(';')[0];
      const viaLink = await signInTo(run.adminToken);
      const viaEnv = await signInTo('first-admin-token');
      const idle = await signInTo(run.adminToken);
      await run.close();

      // 31 days pass for one of them while Labhook is stopped.
      const path = join(dir.path, 'db.json');
      const data = JSON.parse(await readFile(path, 'utf8'));
      const idleHash = createHash('sha256').update(idle.split('=')[1]).digest('hex');
      for (const session of data.sessions)
        if (session.hash === idleHash) session.lastUsedAt = new Date(Date.now() - 31 * 24 * 3600 * 1000).toISOString();
      await writeFile(path, JSON.stringify(data));

      run = await start('first-admin-token');
      expect((await call(viaLink)).status).toBe(200);
      expect((await call(viaEnv)).status).toBe(200);
      expect((await call(idle)).status).toBe(401);
      await run.close();

      run = await start('second-admin-token');
      expect((await call(viaLink)).status).toBe(200);
      expect((await call(viaEnv)).status).toBe(401);
      await run.close();
    } finally {
      await dir.remove();
    }
  });
});

function openCookieStream(cookie: string) {
  return openEventStream(server.base, '', { headers: { cookie }, bearer: false });
}
