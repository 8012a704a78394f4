import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import type { Delivery, WebhookEvent } from '../../electron/core/api/schemas.js';
import type { StatusChange } from '../../electron/core/devices/model.js';
import type { StoredWebhook } from '../../electron/core/webhooks/model.js';
import { startReceiver, replies, type Receiver } from '../peers/receivers.js';
import { makeChange, makeWebhook } from '../helpers/delivery-fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const script = path.join(root, 'test/peers/delivery-child.mjs');
const SCHEDULE = [0, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000];

interface Child {
  process: ChildProcess;
  acked: Set<string>;
  logs: string[];
  call(message: Record<string, unknown>): Promise<unknown>;
  exited: Promise<void>;
}

function startChild(dataDir: string): Child {
  const child = fork(script, [dataDir, JSON.stringify(SCHEDULE)], {
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const acked = new Set<string>();
  const logs: string[] = [];
  const waiting = new Map<number, (value: unknown) => void>();
  let seq = 0;
  child.on(
    'message',
    (m: { type: string; id?: string; seq?: number; result?: unknown; message?: string; level?: string }) => {
      if (m.type === 'enqueued') acked.add(m.id!);
      else if (m.type === 'log') logs.push(`${m.level}: ${m.message}`);
      else if (m.type === 'error') logs.push(`error: ${m.message}`);
      if (m.seq !== undefined) waiting.get(m.seq)?.(m.result ?? m);
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    acked,
    logs,
    exited,
    call(message) {
      const id = ++seq;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        child.send({ ...message, seq: id });
      });
    },
  };
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.skipIf(!existsSync(path.join(root, 'out/electron/core/delivery/service.js')))(
  'delivery across kill -9',
  () => {
    it('delivers everything that was pending after SIGKILL mid-burst, in order, repeating only the same webhook-id', async () => {
      const tmp = await tempDir();
      cleanups.push(tmp.remove);
      // Slow receivers keep the burst in flight; one also fails every fourth request, so retries are pending too.
      const receivers: Receiver[] = [
        await startReceiver(replies.slow(15)),
        await startReceiver((_q, i) => (i % 4 === 3 ? replies.status(500) : replies.slow(10))),
        await startReceiver(replies.slow(5)),
      ];
      for (const r of receivers) cleanups.push(() => r.close());
      const webhooks: StoredWebhook[] = [
        makeWebhook({ id: 1, url: receivers[0].url }),
        makeWebhook({ id: 2, url: receivers[1].url }),
        makeWebhook({ id: 3, url: receivers[2].url, events: ['online', 'offline'] }),
      ];

      const first = startChild(tmp.path);
      cleanups.push(() => {
        first.process.kill('SIGKILL');
      });
      await first.call({ type: 'webhooks', webhooks });
      await first.call({ type: 'boot' });

      const devices = Array.from({ length: 25 }, (_, i) => `phone-${i}`);
      const cycle: WebhookEvent[] = ['online', 'utilizing', 'offline', 'unplugged'];
      const changes: StatusChange[] = [];
      for (let round = 0; round < 4; round++) {
        for (const udid of devices) changes.push(makeChange(udid, cycle[round], round + 1));
      }
      const matches = (w: StoredWebhook, c: StatusChange) => w.events.includes(c.event!);
      const expectedTotal = changes.reduce((n, c) => n + webhooks.filter((w) => matches(w, c)).length, 0);
      for (const change of changes) first.process.send({ type: 'enqueue', change });

      const received = () => receivers.reduce((n, r) => n + r.received.length, 0);
      await waitFor('the burst to be under way', () => received() >= 60, 20_000);
      first.process.kill('SIGKILL');
      await first.exited;
      const ackedAtKill = new Set(first.acked);
      const seen = (r: Receiver) => new Set(r.received.map((q) => q.headers['webhook-id']));
      const missingAtKill = changes
        .filter((c) => ackedAtKill.has(c.id))
        .reduce((n, c) => n + webhooks.filter((w, i) => matches(w, c) && !seen(receivers[i]).has(c.id)).length, 0);
      // The kill must really land mid-burst, or this test would prove nothing.
      expect(ackedAtKill.size).toBeGreaterThan(0);
      expect(missingAtKill).toBeGreaterThan(0);
      expect(received()).toBeLessThan(expectedTotal);

      const second = startChild(tmp.path);
      cleanups.push(() => {
        second.process.kill('SIGKILL');
      });
      await second.call({ type: 'webhooks', webhooks });
      await second.call({ type: 'boot' });

      const everyAckedArrived = () =>
        changes
          .filter((c) => ackedAtKill.has(c.id))
          .every((c) => webhooks.every((w, i) => !matches(w, c) || seen(receivers[i]).has(c.id)));
      await waitFor('every acknowledged change to reach its receivers', everyAckedArrived, 30_000);
      await waitFor(
        'nothing left pending',
        async () => {
          const { items } = (await second.call({ type: 'list', query: { status: 'pending', limit: 500 } })) as {
            items: Delivery[];
          };
          return items.length === 0;
        },
        30_000,
      );

      for (const [i, r] of receivers.entries()) {
        for (const udid of devices) {
          const requests = r.received.filter((q) => JSON.parse(q.body).deviceUdid === udid);
          const ids = requests.map((q) => q.headers['webhook-id']);
          const collapsed = ids.filter((id, k) => id !== ids[k - 1]);
          // Each event once in the collapsed order; a repeat only right after itself (same webhook-id).
          expect(new Set(collapsed).size).toBe(collapsed.length);
          const sequences = collapsed.map((id) => changes.find((c) => c.id === id)!.sequence);
          expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
          for (const q of requests)
            expect(new StandardWebhook(webhooks[i].secret).verify(q.body, q.headers)).toBeTruthy();
        }
      }
      const { items } = (await second.call({ type: 'list', query: { limit: 500 } })) as { items: Delivery[] };
      const acked = changes.filter((c) => ackedAtKill.has(c.id));
      for (const c of acked) {
        for (const w of webhooks.filter((hook) => matches(hook, c))) {
          expect(items.find((d) => d.eventId === c.id && d.webhookId === w.id)?.status).toBe('delivered');
        }
      }
      second.process.disconnect();
      await second.exited;
      expect(second.logs.filter((l) => l.startsWith('error'))).toEqual([]);
    });
  },
);
