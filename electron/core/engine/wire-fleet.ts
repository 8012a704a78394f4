/** Builds the fleet side of the engine (`--fleet`): the link to the broker and the shared configuration. */
import { FleetConfigLog } from '../fleet/config-log.js';
import { FleetLink } from '../fleet/link.js';
import { claimDataDir } from '../fleet/membership.js';
import type { Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/database.js';
import type { FleetConfig } from './config.js';

export interface FleetWiring {
  link: FleetLink;
  config: FleetConfigLog;
  /** In boot order: the link, then the configuration (which replays the log once the link is up). */
  services: Service[];
}

export async function joinFleet(fleet: FleetConfig, dataDir: string, db: Database, log: Logger): Promise<FleetWiring> {
  await claimDataDir(dataDir, db.data, fleet);
  const link = new FleetLink(fleet, log);
  const config = new FleetConfigLog(link, db, log);
  return { link, config, services: [link, config] };
}
