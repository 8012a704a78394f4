import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const running: ServeProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function dataDir(): Promise<string> {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  return dir.path;
}
async function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const served = await startServeProcess(args, env);
  running.push(served);
  return served;
}
async function api(served: ServeProcess, method: string, path: string, body?: unknown) {
  const response = await request(`${served.base}/api/v1${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${served.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: text ? JSON.parse(text) : undefined };
}

/** Follows the sign-in link as a browser does; returns the cookie it sets. */
async function signIn(served: ServeProcess, token: string): Promise<string> {
  const response = await request(`${served.base}/?token=${encodeURIComponent(token)}`);
  await response.body.dump();
  expect(response.statusCode).toBe(303);
  return String(response.headers['set-cookie']).split(';')[0];
}
/** The status of a GET signed in by `cookie` alone (the body is not read: an event stream never ends). */
async function statusWithCookie(served: ServeProcess, path: string, cookie: string): Promise<number> {
  const response = await request(`${served.base}${path}`, { headers: { cookie } });
  response.body.once('error', () => undefined);
  response.body.destroy();
  return response.statusCode;
}

describe('serve as a process', () => {
  it('prints one listening line on stdout with the bound port and a sign-in token', async () => {
    const served = await start(['--data-dir', await dataDir()]);
    expect(served.stdout()).toMatch(/^Labhook listening on http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}\n$/);
    expect(new URL(served.url).port).not.toBe('0');
  });

  it('keeps webhooks, tokens and the org across a restart, and stops cleanly on SIGTERM and SIGINT', async () => {
    const dir = await dataDir();
    const first = await start(['--data-dir', dir]);
    const created = await api(first, 'POST', '/webhooks', {
      name: 'persisted',
      url: 'http://127.0.0.1:9/',
      events: ['offline', 'online'],
    });
    const token = await api(first, 'POST', '/tokens', { name: 'ci', role: 'viewer' });
    await api(first, 'PATCH', '/org', { id: 7 });
    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    await expect(readFile(join(dir, 'labhook.lock'))).rejects.toThrow();

    const second = await start(['--data-dir', dir]);
    // The sign-in token is made at every start and stored nowhere: the old link signs nobody in.
    expect(second.token).not.toBe(first.token);
    const oldLink = await request(`${second.base}/api/v1/org`, { headers: { authorization: `Bearer ${first.token}` } });
    await oldLink.body.dump();
    expect(oldLink.statusCode).toBe(401);
    expect((await api(second, 'GET', `/webhooks/${created.body.id}`)).body).toEqual(created.body);
    expect((await api(second, 'GET', '/org')).body.id).toBe(7);
    const viewer = await request(`${second.base}/api/v1/webhooks`, {
      headers: { authorization: `Bearer ${token.body.token}` },
    });
    await viewer.body.dump();
    expect(viewer.statusCode).toBe(200);
    expect(await second.stop('SIGINT')).toEqual({ code: 0, signal: null });
  });

  it('a browser session survives a restart; rotating the link or deleting the token that made it ends it', async () => {
    const dir = await dataDir();
    const first = await start(['--data-dir', dir]);
    const apiToken = (await api(first, 'POST', '/tokens', { name: 'wall display', role: 'viewer' })).body;
    const viaLink = await signIn(first, first.token);
    const viaToken = await signIn(first, apiToken.token);
    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    const second = await start(['--data-dir', dir]);
    for (const cookie of [viaLink, viaToken]) {
      expect(await statusWithCookie(second, '/api/v1/devices', cookie)).toBe(200);
      expect(await statusWithCookie(second, '/api/v1/events', cookie)).toBe(200);
    }
    const rotated = await api(second, 'POST', '/tokens/sign-in/rotate');
    expect(rotated.status).toBe(200);
    expect(await statusWithCookie(second, '/api/v1/devices', viaLink)).toBe(401);
    expect(await statusWithCookie(second, '/api/v1/devices', viaToken)).toBe(200);
    expect((await api({ ...second, token: rotated.body.token }, 'DELETE', `/tokens/${apiToken.id}`)).status).toBe(204);
    expect(await statusWithCookie(second, '/api/v1/devices', viaToken)).toBe(401);
  });

  it('holds a lock with its PID; a second instance on the same directory exits non-zero and says why', async () => {
    const dir = await dataDir();
    const first = await start(['--data-dir', dir]);
    expect((await readFile(join(dir, 'labhook.lock'), 'utf8')).trim()).toBe(String(first.child.pid));
    const second = await runCli([
      '--data-dir',
      dir,
      '--port',
      '0',
      '--adb',
      'off',
      '--appium',
      'off',
      '--usb',
      'off',
      '--usbmux',
      'off',
    ]);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain(`Another Labhook (PID ${first.child.pid}) is already using ${dir}`);
    // The refused instance must not have taken or removed the lock.
    expect((await readFile(join(dir, 'labhook.lock'), 'utf8')).trim()).toBe(String(first.child.pid));
  });

  it('takes over the lock of a process that died', async () => {
    const dir = await dataDir();
    const first = await start(['--data-dir', dir]);
    await first.stop('SIGKILL');
    expect((await readFile(join(dir, 'labhook.lock'), 'utf8')).trim()).toBe(String(first.child.pid));
    const second = await start(['--data-dir', dir]);
    expect((await readFile(join(dir, 'labhook.lock'), 'utf8')).trim()).toBe(String(second.child.pid));
  });

  it('refuses a db.json that does not parse, naming the file, and leaves it byte for byte', async () => {
    const dir = await dataDir();
    const broken = '{"schemaVersion":1,"org":{"id":1,"name":"x"},"webhooks":[{"id":1,';
    await writeFile(join(dir, 'db.json'), broken);
    const result = await runCli(['--data-dir', dir, '--port', '0']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${join(dir, 'db.json')} is not valid JSON`);
    expect(await readFile(join(dir, 'db.json'), 'utf8')).toBe(broken);
  });

  it('refuses a db.json that does not match the schema, naming the field, and leaves it untouched', async () => {
    const dir = await dataDir();
    const first = await start(['--data-dir', dir]);
    await api(first, 'POST', '/webhooks', { name: 'x', url: 'http://127.0.0.1:9/', events: ['offline'] });
    await first.stop();
    const data = JSON.parse(await readFile(join(dir, 'db.json'), 'utf8'));
    data.webhooks[0].events = ['sometimes'];
    const text = JSON.stringify(data);
    await writeFile(join(dir, 'db.json'), text);
    const result = await runCli(['--data-dir', dir, '--port', '0']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/db\.json does not match Labhook's format at webhooks\.0\.events\.0/);
    expect(await readFile(join(dir, 'db.json'), 'utf8')).toBe(text);
  });

  it('reports bad options with the option name and exit code 2', async () => {
    for (const [args, message] of [
      [['--port', '70000'], '--port must be 0–65535'],
      [['--adb', 'nowhere'], '--adb must be HOST:PORT or off'],
      [['--retry-schedule', '5s,soon'], '--retry-schedule: Retry schedule entry "soon" is not a delay'],
      [['--usb', 'maybe'], '--usb must be on or off'],
      [['--print-token', 'hint'], '--print-token must be on or off'],
      [['--bogus'], 'Unknown option --bogus'],
    ] as const) {
      const result = await runCli([...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(message);
    }
  });

  it('says which port is taken, exits non-zero and leaves no lock behind', async () => {
    const first = await start(['--data-dir', await dataDir()]);
    const dir = await dataDir();
    const port = new URL(first.base).port;
    const second = await runCli([
      '--data-dir',
      dir,
      '--port',
      port,
      '--adb',
      'off',
      '--appium',
      'off',
      '--usb',
      'off',
      '--usbmux',
      'off',
    ]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`Port ${port} on 127.0.0.1 is already in use`);
    await expect(readFile(join(dir, 'labhook.lock'))).rejects.toThrow();
  });

  it('takes its options from the environment too', async () => {
    const dir = await dataDir();
    const served = await start([], { LABHOOK_DATA_DIR: dir, LABHOOK_ADMIN_TOKEN: 'from-the-environment' });
    // LABHOOK_ADMIN_TOKEN is accepted, never printed: the link carries the sign-in token.
    expect(served.output()).not.toContain('from-the-environment');
    expect(served.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await api({ ...served, token: 'from-the-environment' }, 'GET', '/tokens')).status).toBe(200);
    expect((await readFile(join(dir, 'labhook.lock'), 'utf8')).trim()).toBe(String(served.child.pid));
  });

  it('--print-token off prints the address without a token; no credential reaches its output or db.json', async () => {
    const dir = await dataDir();
    const admin = 'admin-token-from-the-service-manager';
    const served = await start(['--data-dir', dir, '--print-token', 'off'], { LABHOOK_ADMIN_TOKEN: admin });
    expect(served.stdout()).toMatch(
      /^Labhook listening on http:\/\/127\.0\.0\.1:\d+\/ \(sign-in link not printed: --print-token off; .*\)\n$/,
    );
    expect(served.token).toBeNull();
    const as = { ...served, token: admin };
    const created = await api(as, 'POST', '/tokens', { name: 'ci', role: 'manager' });
    const rotated = await api(as, 'POST', '/tokens/sign-in/rotate');
    expect(rotated.status).toBe(200);
    expect((await api({ ...served, token: rotated.body.token }, 'GET', '/org')).status).toBe(200);
    await api({ ...served, token: created.body.token }, 'GET', '/webhooks');
    expect(await served.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const db = await readFile(join(dir, 'db.json'), 'utf8');
    for (const secret of [admin, created.body.token, rotated.body.token]) {
      expect(served.output()).not.toContain(secret);
      expect(db).not.toContain(secret);
    }
  });
});

describe('npm start without a window', () => {
  it('says in one line why there is no window and serves instead', async () => {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const launch = fileURLToPath(new URL('../../out/electron/launch.js', import.meta.url));
    const dir = await dataDir();
    const env = { ...process.env, DISPLAY: '', WAYLAND_DISPLAY: '' };
    const child = spawn(
      process.execPath,
      [launch, '--data-dir', dir, '--port', '0', '--adb', 'off', '--appium', 'off', '--usb', 'off', '--usbmux', 'off'],
      { env },
    );
    let output = '';
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          output += d;
          if (output.includes('Labhook listening on')) resolve();
        });
        child.on('exit', () => reject(new Error(`exited: ${output}`)));
      });
      const lines = output.trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(
        /^Labhook: no window because (no Electron runtime is installed|no display is available).*; serving the web UI instead\.$/,
      );
      expect(lines[1]).toMatch(/^Labhook listening on http:\/\/127\.0\.0\.1:\d+\/\?token=/);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
