/**
 * Kobiton's status rules, pure. The tracker feeds them what the sources saw; nothing else decides
 * a device's status or which event a change fires.
 */
import type { DeviceStatus, WebhookEvent } from '../api/schemas.js';
import type { Presence } from './model.js';

/** Seen somewhere, but only on the USB bus: adb and usbmuxd have not (yet) claimed it. */
export function isAttachedOnly(presences: readonly Pick<Presence, 'state'>[]): boolean {
  return presences.length > 0 && presences.every((p) => p.state === 'attached');
}

/**
 * The status the observations add up to.
 * `attachedSince` is when the device became attached-only (null when it is not); until it has been
 * so for longer than `graceMs`, the previous status stands, because adb or usbmuxd usually claim a
 * freshly plugged phone within a moment and a restarting adb server drops phones only briefly.
 * `previous` is `unplugged` for a device never seen before.
 */
export function deriveStatus(
  presences: readonly Pick<Presence, 'state'>[],
  sessions: readonly unknown[],
  attachedSince: number | null,
  now: number,
  graceMs: number,
  previous: DeviceStatus = 'unplugged',
): DeviceStatus {
  if (presences.length === 0) return 'unplugged';
  if (presences.some((p) => p.state === 'ready')) return sessions.length > 0 ? 'utilizing' : 'online';
  if (presences.some((p) => p.state === 'unusable')) return 'offline';
  // Attached only.
  if (attachedSince !== null && now - attachedSince > graceMs) return 'offline';
  return previous;
}

/**
 * The Kobiton event a change fires: offline, utilizing and unplugged from any status; online from
 * any status except utilizing (a session ending is not news); no change, no event.
 */
export function eventFor(from: DeviceStatus, to: DeviceStatus): WebhookEvent | null {
  if (from === to) return null;
  if (to === 'online' && from === 'utilizing') return null;
  return to;
}
