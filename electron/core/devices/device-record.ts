/** A device as the tracker persists it between runs (the last known status feeds reconciliation). */
import type { DeviceStatus } from '../api/schemas.js';
import type { BookedWarning } from './health/warnings.js';
import type { Platform } from './model.js';

export interface PersistedDevice {
  udid: string;
  /** The latest name a source gave. */
  name: string;
  /** The operator's name for it; wins over `name` when set. */
  nameOverride: string | null;
  platform: Platform;
  status: DeviceStatus;
  /** When `status` began (ISO 8601). */
  since: string;
  /** The sequence number of the last change emitted for this device. */
  sequence: number;
  simulated: boolean;
  /** The operator's groups for it (webhooks can be scoped to them). */
  labels: string[];
  /** When it flapped (ms since the epoch) within the last hour; see health/flaps.ts. */
  flaps: number[];
  /** Its health warnings, including those waiting out the debounce before they count as cleared. */
  warnings: BookedWarning[];
}

export function displayName(device: PersistedDevice): string {
  return device.nameOverride ?? device.name;
}
