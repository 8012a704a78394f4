/**
 * The sign-in token behind the `/?token=` link: made at start, kept in memory only, rotatable by
 * an admin; rotating it signs out every browser that used it (the one that rotated gets the new one).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../helpers/api-server.js';
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
    expect(refreshed).toBe(`labhook_session=${rotated.body.token}`);
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
