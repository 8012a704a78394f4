/** The data directory holds secrets: 0700, its files 0600, whatever the umask and however it was made. */
import { chmod, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../helpers/api-server.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startReceiver, type Receiver } from '../peers/receivers.js';

let parent: Awaited<ReturnType<typeof tempDir>>;
let receiver: Receiver;
let previousUmask: number;

beforeAll(async () => {
  previousUmask = process.umask(0o022);
  parent = await tempDir();
  receiver = await startReceiver({ status: 200 });
});
afterAll(async () => {
  process.umask(previousUmask);
  await receiver?.close();
  await parent?.remove();
});

/** Every folder and file under `dir` with its permission bits, `dir` itself as `.`. */
async function modes(dir: string, prefix = '.'): Promise<Record<string, string>> {
  const out: Record<string, string> = { [prefix]: ((await stat(dir)).mode & 0o777).toString(8) };
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) Object.assign(out, await modes(path, `${prefix}/${entry.name}`));
    else {
      // A write in flight may rename its temporary file away between the listing and the stat.
      const info = await stat(path).catch(() => null);
      if (info) out[`${prefix}/${entry.name}`] = (info.mode & 0o777).toString(8);
    }
  }
  return out;
}

async function startOn(dataDir: string): Promise<ApiServer> {
  return startApiServer(['--data-dir', dataDir]);
}

async function fillLog(server: ApiServer): Promise<void> {
  const created = await server.call('POST', '/api/v1/webhooks', {
    body: { name: `modes ${Date.now()}`, url: receiver.url, events: ['online'] },
  });
  expect((await server.call('POST', `/api/v1/webhooks/${created.body.id}/test`, { body: {} })).status).toBe(200);
}

function expectPrivate(found: Record<string, string>): void {
  expect(Object.keys(found)).toEqual(expect.arrayContaining(['.', './db.json', './labhook.lock', './deliveries']));
  expect(Object.keys(found).some((p) => p.startsWith('./deliveries/'))).toBe(true);
  for (const [path, mode] of Object.entries(found)) {
    const isDir = path === '.' || path === './deliveries';
    expect(mode, path).toBe(isDir ? '700' : '600');
  }
}

describe('the data directory', () => {
  it('is made 0700 with 0600 files under a umask of 022', async () => {
    const dataDir = join(parent.path, 'fresh', 'Labhook');
    const server = await startOn(dataDir);
    try {
      await fillLog(server);
      expectPrivate(await modes(dataDir));
    } finally {
      await server.close();
    }
  });

  it('made by an older version (0755, files 0644) is tightened on start', async () => {
    const dataDir = join(parent.path, 'older');
    const first = await startOn(dataDir);
    await fillLog(first);
    await first.close();
    await chmod(dataDir, 0o755);
    await chmod(join(dataDir, 'deliveries'), 0o755);
    await chmod(join(dataDir, 'db.json'), 0o644);
    for (const file of await readdir(join(dataDir, 'deliveries')))
      await chmod(join(dataDir, 'deliveries', file), 0o644);

    const again = await startOn(dataDir);
    try {
      expectPrivate(await modes(dataDir));
    } finally {
      await again.close();
    }
  });
});
