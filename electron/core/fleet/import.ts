/**
 * `labhook fleet import`: brings a single host's configuration (org, webhooks with their ids and
 * secrets, tokens) into a fleet that has none yet, then marks the data directory as a member so
 * that host can join. Receivers keep seeing the same webhookId and signatures.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FleetConfig } from '../engine/config.js';
import type { Logger } from '../log.js';
import { Database, emptyDb } from '../store/database.js';
import { DirectoryLock } from '../store/lock.js';
import { FleetConfigLog } from './config-log.js';
import { FleetLink } from './link.js';
import { markMember } from './membership.js';

const CONNECT_WAIT_MS = 20_000;

export async function importIntoFleet(
  dataDir: string,
  fleet: FleetConfig,
  log: Logger,
): Promise<{ webhooks: number; tokens: number; fleet: string }> {
  if (!existsSync(join(dataDir, 'db.json'))) throw new Error(`${dataDir} holds no db.json to import`);
  const lock = new DirectoryLock(dataDir);
  await lock.acquire();
  const link = new FleetLink(fleet, log);
  try {
    const db = new Database(dataDir);
    await db.boot();
    const { org, nextWebhookId, webhooks, tokens } = db.data;
    await link.boot();
    const joined = await Promise.race([
      link.ready.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), CONNECT_WAIT_MS).unref()),
    ]);
    if (!joined) throw new Error(`the fleet's NATS servers (${fleet.servers.join(', ')}) do not answer`);
    // The fleet's log is read into a scratch copy: this directory's own data is only read.
    const config = new FleetConfigLog(link, { data: emptyDb(), save: async () => {} }, log);
    await config.boot();
    try {
      await config.commit({ type: 'import', config: { org, nextWebhookId, webhooks, tokens } });
    } finally {
      await config.shutdown();
    }
    await markMember(dataDir, fleet);
    return { webhooks: webhooks.length, tokens: tokens.length, fleet: link.versioned().cluster ?? 'unnamed cluster' };
  } finally {
    await link.shutdown();
    await lock.release();
  }
}
