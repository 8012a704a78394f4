/**
 * What identifies a status change to receivers: its `labhook-sequence` and its id (the
 * `webhook-id` of every callback it causes). Pure.
 */
import { createHash } from 'node:crypto';
import type { DeviceStatus } from '../api/schemas.js';

/**
 * The next sequence of a device: a hybrid logical clock, `max(last + 1, now in microseconds)`.
 *
 * A counter kept in `db.json` starts over when the file is moved away or restored from a backup,
 * and receivers that drop a lower sequence would then drop real changes. The time part makes the
 * sequence grow across any such loss (as long as the host's clock does not go back by more than
 * the loss), and it keeps the sequences of different hosts reporting one device comparable (as
 * far as their clocks agree). The `last + 1` part keeps it strictly increasing within a run, even
 * when the clock steps back or a burst makes two changes in one microsecond. Microseconds since
 * 1970 stay below 2^53 (exact in JSON and JavaScript numbers) until the year 2255.
 */
export function nextSequence(last: number, nowMs: number): number {
  return Math.max(last + 1, Math.floor(nowMs) * 1000);
}

/**
 * The id of the change that leaves a device's persisted state (its key, sequence and `since`) for
 * `to`: the same inputs give the same id.
 *
 * Why not a random id: the device statuses in `db.json` are written after the change is journaled
 * and sent. Should the process die in between, the next start sees the old status again and
 * derives the same change, which then carries the same `webhook-id` as the callback a receiver may
 * already have: receivers dedupe it, as the Standard Webhooks scheme intends. A later, real change
 * leaves a newer state (a higher sequence) and so gets a new id.
 */
export function changeId(deviceKey: string, sequence: number, since: string, to: DeviceStatus): string {
  const hex = createHash('sha256').update(`${deviceKey}\n${sequence}\n${since}\n${to}`).digest('hex');
  // Shaped as a UUID (version 8: custom), as the random ids were.
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
