/**
 * What device sources report to the tracker. Sources report facts (which transport sees which
 * device in which state, which sessions run), never statuses: the tracker alone derives status.
 */
import type { DeviceStatus, SourceInfo, WebhookEvent } from '../api/schemas.js';
import type { Service } from '../lifecycle.js';

export type Platform = 'android' | 'ios';
export type SourceName = SourceInfo['name'];

/**
 * One transport's view of one device.
 * - `ready`: usable (adb `device`, usbmuxd Attached, a simulated phone that is up);
 * - `unusable`: seen but not usable (adb offline/unauthorized/recovery/…);
 * - `attached`: only on the USB bus; becomes offline if nothing else claims it within the grace period.
 */
export interface Presence {
  /** Stable id of this transport link within its source, e.g. the adb serial `127.0.0.1:5555` or `usb:1-2`. */
  key: string;
  /** The device's hardware serial (see DESIGN: adb serial over USB, ro.serialno over TCP, UDID for iOS). */
  udid: string;
  state: 'ready' | 'unusable' | 'attached';
  platform?: Platform;
  /** Model name when the source knows it (ro.product.model, iOS device name). */
  name?: string;
  /** The raw transport state, for the UI (`unauthorized`, `offline`, …). */
  detail?: string;
  simulated?: boolean;
}

/** A test session or reservation that makes a reachable device `utilizing`. */
export interface SessionClaim {
  id: string;
  udid: string;
  label: string;
  /** ISO time the claim lapses on its own (reservations), else null. */
  expiresAt: string | null;
}

/**
 * Whether a report is the source's whole truth. A source that cannot vouch for everything yet (adb
 * still reading a phone's properties, a daemon still connecting or restarting) says `complete:
 * false`: what it reports stands, but the tracker does not yet conclude that a device it does not
 * mention is gone. Start-up reconciliation waits for a complete report from every source.
 */
export interface ReportOptions {
  /** Default true. */
  complete?: boolean;
}

/** Where sources send what they see. Each call replaces that source's previous report. */
export interface DeviceSink {
  /** Every device this source sees now. */
  reportPresences(source: SourceName, presences: readonly Presence[], options?: ReportOptions): void;
  /** Every session this source knows now (appium, reservations). */
  reportSessions(source: string, sessions: readonly SessionClaim[], options?: ReportOptions): void;
}

export interface SourceState {
  state: SourceInfo['state'];
  detail: string;
}

/** A device source: a Service that reports to a sink and describes its own health. */
export interface DeviceSource extends Service {
  readonly name: SourceName;
  status(): SourceState;
}

/** A status change as the tracker emits it. `event` is null when Kobiton's rules fire nothing (utilizing → online). */
export interface StatusChange {
  /** Unique id of this change; becomes the `webhook-id` of every callback it causes. */
  id: string;
  udid: string;
  name: string;
  platform: Platform;
  from: DeviceStatus;
  to: DeviceStatus;
  event: WebhookEvent | null;
  /** Per-device, increasing with every change and never going back (see sequence.ts). */
  sequence: number;
  /** When the change was observed (ISO 8601). */
  observedAt: string;
  simulated: boolean;
  /** The device's labels at that moment (webhooks scoped by label match on them). */
  labels?: readonly string[];
}
