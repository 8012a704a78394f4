/** Builds the device sources, tracker and reservations for the Engine. */
import type { ServerEvent } from '../api/contract.js';
import { notFound } from '../api/errors.js';
import type { StatusChange } from '../devices/model.js';
import type { Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/database.js';
import type { EngineConfig } from './config.js';
import type { DeviceDirectory, ReservationDesk, SourceBoard } from './parts.js';

export interface DeviceWiring {
  directory: DeviceDirectory;
  reservations: ReservationDesk;
  board: SourceBoard;
  services: Service[];
}

export function wireDevices(_: { config: EngineConfig; db: Database; log: Logger; publish: (event: ServerEvent) => void; onChange: (change: StatusChange) => void }): DeviceWiring {
  // PLACEHOLDER until the tracker and sources are wired in.
  return {
    directory: { devices: () => [], device: () => undefined, rename: () => undefined },
    reservations: { reserve: (udid) => { throw notFound(`Device ${udid}`); }, release: () => false },
    board: { sources: () => [] },
    services: [],
  };
}
