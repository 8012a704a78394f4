/**
 * Matching one phone across transports. An iPhone's USB serial is its UDID without the dash and
 * not always in the same case as usbmuxd's (`00008030001A2B3C4D5E6F70` on the bus,
 * `00008030-001A2B3C4D5E6F70` from usbmuxd), so iOS-shaped ids compare case-insensitively and
 * without dashes. Android serials are opaque and compare exactly.
 */
// 40 hex (pre-2018 devices) or 8+16 hex (since the A12), with or without the dash.
const IOS_UDID = /^(?:[0-9a-f]{40}|[0-9a-f]{8}-?[0-9a-f]{16})$/i;

export function looksLikeIosUdid(udid: string): boolean {
  return IOS_UDID.test(udid);
}

/**
 * The key two reports of the same device share. It depends on the string alone (not on a
 * platform hint) because session claims carry no platform and must land on the same key.
 */
export function udidKey(udid: string): string {
  if (looksLikeIosUdid(udid)) return `ios:${udid.replace(/-/g, '').toLowerCase()}`;
  return udid;
}

/** Of two spellings of one UDID, the one to show and to send: usbmuxd's dashed form wins over the bus serial. */
export function preferredUdid(current: string, candidate: string): string {
  return !current.includes('-') && candidate.includes('-') ? candidate : current;
}
