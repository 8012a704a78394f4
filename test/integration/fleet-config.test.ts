/**
 * One configuration in a fleet: real `serve --fleet` processes on a real 3-server NATS cluster.
 * What is created or changed on one node holds on the others; names stay unique when two nodes
 * create the same one at once; a single host's data directory is imported, never silently hidden.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { skipReason } from '../../scripts/requirements.mjs';
import { fleetNodes, type FleetNode } from '../helpers/fleet.js';
import { runCli, startServeProcess } from '../helpers/serve-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';
import { NatsCluster } from '../peers/nats-cluster.js';

const hook = (name: string, port = 9) => ({ name, url: `http://127.0.0.1:${port}/hook`, events: ['online'] });

describe.skipIf(skipReason('nats'))('fleet configuration', () => {
  let cluster: NatsCluster;
  const nodes = fleetNodes(() => cluster);
  let a: FleetNode;
  let b: FleetNode;

  beforeAll(async () => {
    cluster = await NatsCluster.start();
    [a, b] = await Promise.all([nodes.start('host-a'), nodes.start('host-b')]);
  });
  afterAll(async () => {
    await nodes.cleanup();
    await cluster?.stop();
  });

  it('says which fleet it joined, as which host, the broker version, and what 2.9 weakens', () => {
    const line = a.process
      .output()
      .split('\n')
      .find((l) => l.includes('joined the fleet'));
    expect(line).toMatch(/joined the fleet "labhook-test" as host "host-a" \(NATS 2\.\d+\.\d+ at 127\.0\.0\.1:\d+\)/);
    expect(a.process.output()).toMatch(/not once it is on disk/);
  });

  it('a webhook created on A is on B; edited on B, it changes on A; deleted on A, it is gone on B', async () => {
    const created = await a.call('POST', '/webhooks', hook('Shared'));
    expect(created.status).toBe(201);
    const id = created.body.id as number;
    const onB = await waitFor('the webhook on B', async () => {
      const { body } = await b.call('GET', `/webhooks/${id}`);
      return body?.name === 'Shared' ? body : null;
    });
    expect(onB.secret).toBe(created.body.secret);

    expect((await b.call('PATCH', `/webhooks/${id}`, { description: 'edited on B' })).status).toBe(200);
    await waitFor(
      'the edit on A',
      async () => (await a.call('GET', `/webhooks/${id}`)).body?.description === 'edited on B',
    );

    expect((await a.call('DELETE', `/webhooks/${id}`)).status).toBe(204);
    await waitFor('the delete on B', async () => (await b.call('GET', `/webhooks/${id}`)).status === 404);
  });

  it('two nodes creating the same name at once: exactly one wins, everywhere, and ids are never shared', async () => {
    for (let round = 0; round < 8; round++) {
      const name = `Race ${round}`;
      const [onA, onB] = await Promise.all([
        a.call('POST', '/webhooks', hook(name)),
        b.call('POST', '/webhooks', hook(name)),
      ]);
      expect([onA.status, onB.status].sort()).toEqual([201, 409]);
      const loser = onA.status === 409 ? onA : onB;
      expect(loser.body.error.fields.name).toMatch(/unique/);
    }
    // Different names at once get different ids on both nodes.
    const [x, y] = await Promise.all([a.call('POST', '/webhooks', hook('X')), b.call('POST', '/webhooks', hook('Y'))]);
    expect(x.body.id).not.toBe(y.body.id);
    const names = async (node: FleetNode) =>
      ((await node.call('GET', '/webhooks')).body.items as Array<{ id: number; name: string }>)
        .map((w) => `${w.id}:${w.name}`)
        .sort();
    await waitFor('both nodes to agree', async () => JSON.stringify(await names(a)) === JSON.stringify(await names(b)));
    const listed = await names(a);
    expect(listed.filter((n) => n.includes(':Race ')).length).toBe(8);
  });

  it('tokens and the org are fleet-wide: a token made on A signs in on B', async () => {
    const made = await a.call('POST', '/tokens', { name: 'ci', role: 'viewer' });
    expect(made.status).toBe(201);
    await waitFor('the token on B', async () => {
      const response = await fetch(`${b.process.base}/api/v1/webhooks`, {
        headers: { authorization: `Bearer ${made.body.token}` },
      });
      return response.status === 200;
    });
    expect((await b.call('PATCH', '/org', { name: 'Fleet lab' })).status).toBe(200);
    await waitFor('the org on A', async () => (await a.call('GET', '/org')).body.name === 'Fleet lab');
  });

  it('a node that starts later replays the whole configuration before it answers', async () => {
    const c = await nodes.start('host-c');
    const [onA, onC] = await Promise.all([a.call('GET', '/webhooks'), c.call('GET', '/webhooks')]);
    expect(onC.body.items.map((w: { id: number }) => w.id)).toEqual(onA.body.items.map((w: { id: number }) => w.id));
    await c.process.stop('SIGTERM');
  });
});

describe.skipIf(skipReason('nats'))('bringing a single host into a fleet', () => {
  let cluster: NatsCluster;
  const nodes = fleetNodes(() => cluster);
  const cleanups: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    cluster = await NatsCluster.start();
  });
  afterEach(async () => {
    await nodes.cleanup();
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('refuses to join with a directory holding its own webhooks, and imports it with `fleet import`', async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    // A single host with two webhooks (one deleted, so the next id is 3, not 2).
    const single = await startServeProcess(['--data-dir', dir.path]);
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${single.base}/api/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${single.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: (response.status === 204 ? null : await response.json()) as any };
    };
    const kept = (await call('POST', '/webhooks', hook('Kept'))).body;
    const dropped = (await call('POST', '/webhooks', hook('Dropped'))).body;
    await call('DELETE', `/webhooks/${dropped.id}`);
    await single.stop('SIGTERM');

    const refused = await runCli([
      '--data-dir',
      dir.path,
      '--port',
      '0',
      '--fleet',
      cluster.urls,
      '--fleet-host',
      'old',
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/holds this host's own configuration \(1 webhooks, 0 tokens\)/);
    expect(refused.stderr).toMatch(/npm run fleet -- import/);

    const imported = await runCli(['fleet', 'import', '--data-dir', dir.path, '--fleet', cluster.urls]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/imported 1 webhooks and 0 tokens/);

    // The imported host joins; a new node sees the webhook under its old id, and new ids go on from there.
    const old = await nodes.start('old', { dataDir: dir.path });
    const other = await nodes.start('other');
    const listed = (await other.call('GET', '/webhooks')).body.items;
    expect(listed.map((w: { id: number; name: string; secret: string }) => [w.id, w.name, w.secret])).toEqual([
      [kept.id, 'Kept', kept.secret],
    ]);
    expect((await old.call('POST', '/webhooks', hook('New'))).body.id).toBe(dropped.id + 1);

    // A second import into a fleet that has a configuration is refused.
    await old.process.stop('SIGTERM');
    const again = await runCli(['fleet', 'import', '--data-dir', dir.path, '--fleet', cluster.urls]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already has a configuration/);
  });
});
