/**
 * Every timing constant of the device side, in one place. They depend on each other (a source must
 * finish its first report before the tracker gives up waiting for it; a held report must outlast a
 * daemon restart), and keeping them together makes those relations visible and testable
 * (test/unit/device-timing.test.ts checks them).
 */

/** Reconnect delays while a peer is unreachable: doubling from `firstMs` up to `maxMs`. */
export interface Backoff {
  firstMs: number;
  maxMs: number;
}

export const ADB = {
  /** The device list is polled this often besides tracking (adb's tracker misses some transitions). */
  pollMs: 1000,
  /** A request to the adb server (connect, `host:track-devices`, `host:devices`) must be answered within this. */
  answerMs: 5000,
  /** How long the server may be unreachable before its devices are reported gone (an adb restart is shorter). */
  serverGoneMs: 10_000,
  /**
   * After the server comes back (or at start), how long devices expected from before get to reappear
   * and finish their handshake before their absence counts (a fresh server lists nothing at first).
   */
  settleMs: 5000,
  /** How long one device's getprop may take before the source gives up on it for now. */
  getpropMs: 10_000,
  /**
   * How long a transport never reported before may sit in a transient state (`offline`, `connecting`,
   * `authorizing`: what adb lists during every new transport's handshake) before it is reported
   * unusable. Without it, every plug-in and `adb connect` would read as offline, then online.
   */
  arrivalMs: 3000,
  retry: { firstMs: 1000, maxMs: 10_000 } satisfies Backoff,
} as const;

export const USBMUX = {
  /** After Listen, usbmuxd sends one Attached per present device at once; the burst ends after this quiet. */
  burstQuietMs: 100,
  /** …or after this long in all. */
  burstMaxMs: 1000,
  /** How long the last list stands after the daemon goes away (or at start), so a daemon restart is no change. */
  holdMs: 5000,
  /** A daemon that dropped a working connection is usually back within milliseconds. */
  reconnectMs: 100,
  retry: { firstMs: 1000, maxMs: 10_000 } satisfies Backoff,
} as const;

export const APPIUM = {
  pollMs: 1000,
  /** One `GET /appium/sessions` must be answered within this. */
  requestMs: 3000,
  /**
   * How long a server that stops answering in time keeps the sessions last seen on it (a live server
   * busy with a heavy command must not flap its devices utilizing → online → utilizing).
   */
  staleAfterTimeoutMs: 10_000,
} as const;

export const USB = {
  /** Without hotplug (netlink refused), the bus is listed this often instead. */
  pollMs: 2000,
  /** With hotplug, a full listing now and then repairs a uevent lost to a full socket buffer. */
  resyncMs: 60_000,
  /** While the bus cannot be watched (no /sys/bus/usb, no permission), it is tried again this often. */
  retry: { firstMs: 5000, maxMs: 60_000 } satisfies Backoff,
} as const;

export const TRACKER = {
  /** How long a device may be on the USB bus alone before it counts as offline (debugging off, trust not granted). */
  graceMs: 5000,
  /**
   * Start-up reconciliation waits for every enabled source's first complete report; each source
   * bounds that itself (see `firstReportBoundMs`). This is the last resort should one never come,
   * and it is logged as a fault when it fires.
   */
  reconcileBackstopMs: 60_000,
} as const;

/**
 * The longest each source may take, from boot, to give its first complete report, as follows from
 * the constants above: the server may come up just before it is declared gone, then its devices
 * get their settle, arrival and getprop time.
 */
export const firstReportBoundMs = {
  adb: ADB.serverGoneMs + ADB.answerMs + Math.max(ADB.settleMs, ADB.arrivalMs, ADB.getpropMs),
  usbmux: USBMUX.holdMs + USBMUX.burstMaxMs,
  appium: APPIUM.staleAfterTimeoutMs + APPIUM.requestMs,
  usb: 0,
  demo: 0,
} as const;

/** The delay before reconnect attempt `attempt` (0-based). */
export function backoffMs(backoff: Backoff, attempt: number): number {
  return Math.min(backoff.maxMs, backoff.firstMs * 2 ** Math.min(attempt, 30));
}
