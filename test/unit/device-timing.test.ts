/** The relations between the device side's timing constants (electron/core/devices/timing.ts). */
import { describe, expect, it } from 'vitest';
import { ADB, APPIUM, TRACKER, USBMUX, backoffMs, firstReportBoundMs } from '../../electron/core/devices/timing.js';

describe('device timing', () => {
  it("the tracker's backstop waits longer than any source may take for its first complete report", () => {
    for (const [source, bound] of Object.entries(firstReportBoundMs))
      expect(TRACKER.reconcileBackstopMs, source).toBeGreaterThan(bound);
  });

  it('a phone on the USB bus gets longer to be claimed than adb takes to list a new transport as usable', () => {
    // Otherwise every plugged-in phone would flash offline while adb finishes its handshake.
    expect(TRACKER.graceMs).toBeGreaterThan(ADB.arrivalMs + ADB.pollMs);
  });

  it('a hung adb server is given up, and retried, before its devices are', () => {
    expect(ADB.answerMs + ADB.retry.firstMs).toBeLessThan(ADB.serverGoneMs);
  });

  it('a usbmuxd restart (reconnect, then its burst of Attached) fits in the hold of the last list', () => {
    expect(USBMUX.reconnectMs + USBMUX.burstMaxMs).toBeLessThan(USBMUX.holdMs);
  });

  it('an Appium server that timed out is asked again before its sessions are dropped', () => {
    expect(APPIUM.requestMs + APPIUM.pollMs).toBeLessThan(APPIUM.staleAfterTimeoutMs);
  });

  it('backoff doubles up to its ceiling', () => {
    expect([0, 1, 2, 3, 4, 5, 60].map((n) => backoffMs(ADB.retry, n))).toEqual([
      1000, 2000, 4000, 8000, 10_000, 10_000, 10_000,
    ]);
  });
});
