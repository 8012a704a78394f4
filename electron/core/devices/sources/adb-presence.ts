/**
 * How one line of adb's device list becomes a Presence. Pure functions, so the rules (which adb
 * states are usable, which serials are network links, which udid a device gets) live in one place.
 */
import type { Presence } from '../model.js';

/** What getprop told us about a device; `failed` when it could not be read and we fell back. */
export interface DeviceProps {
  serialno: string;
  model: string;
  failed: boolean;
}

/** The model name reported when getprop could not be read. */
export const UNKNOWN_MODEL = 'unknown';

/**
 * A serial that names a network link rather than a USB port: `host:port` (IPv4, `[v6]:port`,
 * hostnames) or an mDNS service name (adb 30+ wireless debugging). Over such a link the adb serial
 * changes with the address, so the phone is identified by its ro.serialno instead.
 */
export function isNetworkSerial(serial: string): boolean {
  return /:\d+$/.test(serial) || /\._adb-tls-(connect|pairing)\._tcp\.?$/.test(serial);
}

/**
 * States that a device passes through on its way to `device` when a transport (re)connects, e.g.
 * right after an adb server restart. Only these are bridged over while the server settles.
 */
export const TRANSIENT_STATES: ReadonlySet<string> = new Set(['offline', 'connecting', 'authorizing']);

/** The udid: the adb serial over USB; ro.serialno over the network once it is known. */
export function udidFor(serial: string, props: DeviceProps | undefined): string {
  if (!isNetworkSerial(serial) || !props || props.failed) return serial;
  return props.serialno;
}

/**
 * The Presence for one adb list entry, or null while a `device` still waits for its getprop (it is
 * not reported ready with a guessed udid that would change a moment later).
 * Only `device` is usable; every other state, named or not (`offline`, `unauthorized`,
 * `no permissions (…)`, `recovery`, `bootloader`, `sideload`, `authorizing`, `connecting`, `host`,
 * whatever a newer adb invents), is unusable, with the raw state as the detail.
 */
export function presenceFor(serial: string, state: string, props: DeviceProps | undefined): Presence | null {
  if (state === 'device') {
    if (!props) return null;
    return { key: serial, udid: udidFor(serial, props), state: 'ready', platform: 'android', name: props.model };
  }
  const presence: Presence = {
    key: serial,
    udid: udidFor(serial, props),
    state: 'unusable',
    platform: 'android',
    detail: state,
  };
  if (props && !props.failed) presence.name = props.model;
  return presence;
}

export function samePresences(a: readonly Presence[], b: readonly Presence[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (
      x.key !== y.key ||
      x.udid !== y.udid ||
      x.state !== y.state ||
      x.name !== y.name ||
      x.detail !== y.detail ||
      x.platform !== y.platform
    )
      return false;
  }
  return true;
}
