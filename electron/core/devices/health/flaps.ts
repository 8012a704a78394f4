/**
 * Flaps: a device dropping from usable (online, utilizing) to offline or unplugged. One now and
 * then is a phone being unplugged; many in an hour is a cable, a port or a hub going bad. Kept as
 * the times of the flaps in the last hour, persisted with the device so a restart does not reset it.
 */
import type { DeviceStatus } from '../../api/schemas.js';

export const FLAP_WINDOW_MS = 60 * 60 * 1000;
/** More flaps than this in an hour are not kept one by one; the count is already far past any threshold. */
const MAX_KEPT = 1000;

export function isFlap(from: DeviceStatus, to: DeviceStatus): boolean {
  return (from === 'online' || from === 'utilizing') && (to === 'offline' || to === 'unplugged');
}

/** The flap times still inside the window ending at `now`. */
export function recentFlaps(times: readonly number[], now: number): number[] {
  return times.filter((at) => at > now - FLAP_WINDOW_MS && at <= now);
}

/** `times` with a flap at `now` added, older ones dropped. */
export function withFlap(times: readonly number[], now: number): number[] {
  const kept = recentFlaps(times, now);
  kept.push(now);
  return kept.length > MAX_KEPT ? kept.slice(kept.length - MAX_KEPT) : kept;
}

/** When the oldest flap leaves the window, so the count can be refreshed then; null without flaps. */
export function nextExpiry(times: readonly number[], now: number): number | null {
  const kept = recentFlaps(times, now);
  return kept.length > 0 ? Math.min(...kept) + FLAP_WINDOW_MS : null;
}
