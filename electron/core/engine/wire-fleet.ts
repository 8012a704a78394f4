/**
 * Builds the fleet side of the engine (`--fleet`): the link to the broker, the shared
 * configuration, the roster of hosts, and the fleet-wide view of devices over this host's own.
 */
import type { ServerEvent } from '../api/contract.js';
import { FleetConfigLog } from '../fleet/config-log.js';
import { FleetDevices } from '../fleet/devices.js';
import { HostRoster } from '../fleet/hosts.js';
import { FleetLink } from '../fleet/link.js';
import { claimDataDir } from '../fleet/membership.js';
import { HostRpc } from '../fleet/rpc.js';
import type { Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/database.js';
import type { FleetConfig } from './config.js';
import type { DeviceDirectory, ReservationDesk } from './parts.js';

export interface FleetWiring {
  link: FleetLink;
  config: FleetConfigLog;
  /** In boot order, before everything else: the link, the configuration (replayed once the link is up), the roster. */
  services: Service[];
  /** The fleet-wide devices over this host's own; its services boot after the local tracker. */
  attachDevices(
    local: { directory: DeviceDirectory; reservations: ReservationDesk },
    publish: (event: ServerEvent) => void,
  ): { devices: FleetDevices; services: Service[] };
}

export async function joinFleet(options: {
  fleet: FleetConfig;
  dataDir: string;
  db: Database;
  log: Logger;
  version: string;
}): Promise<FleetWiring> {
  const { fleet, dataDir, db, log, version } = options;
  await claimDataDir(dataDir, db.data, fleet);
  const link = new FleetLink(fleet, log);
  const config = new FleetConfigLog(link, db, log);
  const roster = new HostRoster(link, { host: fleet.host, version, timeoutMs: fleet.hostTimeoutMs, log });
  return {
    link,
    config,
    services: [link, config, roster],
    attachDevices(local, publish) {
      const rpc: HostRpc = new HostRpc(link, fleet.host, (request) => devices.handle(request), log);
      const devices: FleetDevices = new FleetDevices({ link, roster, rpc, host: fleet.host, local, publish, log });
      return { devices, services: [rpc, devices] };
    },
  };
}
