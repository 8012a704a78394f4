/**
 * A data directory remembers that it belongs to a fleet (`fleet.json`). A directory that holds a
 * single host's configuration and has never joined is refused: joining would hide its webhooks
 * and tokens behind the fleet's. `labhook fleet import` brings them into the fleet instead.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FleetConfig } from '../engine/config.js';
import type { DbData } from '../store/db-schema.js';
import { PRIVATE_FILE_MODE } from '../store/private-dir.js';

export const MEMBERSHIP_FILE = 'fleet.json';

export class MembershipError extends Error {
  override name = 'MembershipError';
}

export async function claimDataDir(dataDir: string, data: DbData, fleet: FleetConfig): Promise<void> {
  const file = join(dataDir, MEMBERSHIP_FILE);
  if (existsSync(file)) return;
  if (data.webhooks.length > 0 || data.tokens.length > 0)
    throw new MembershipError(
      `${dataDir} holds this host's own configuration (${data.webhooks.length} webhooks, ${data.tokens.length} tokens), which joining a fleet would hide. ` +
        `Bring it into a new fleet with: npm run fleet -- import --data-dir ${dataDir} --fleet ${fleet.servers.join(',')}` +
        ' — or join with another --data-dir.',
    );
  await markMember(dataDir, fleet);
}

export async function markMember(dataDir: string, fleet: FleetConfig): Promise<void> {
  const record = { servers: fleet.servers, host: fleet.host, joinedAt: new Date().toISOString() };
  await writeFile(join(dataDir, MEMBERSHIP_FILE), `${JSON.stringify(record, null, 2)}\n`, { mode: PRIVATE_FILE_MODE });
}
