import { performance } from 'node:perf_hooks';
import { expect } from 'vitest';
import type { DeviceSink, Presence, ReportOptions, SessionClaim } from '../../electron/core/devices/model.js';

/** `at` is `performance.now()`, so latency measurements compare it with other `performance.now()` stamps. */
export interface PresenceReport {
  at: number;
  presences: Presence[];
  /** What the source said (model.ts: ReportOptions); true when it said nothing. */
  complete: boolean;
}

export interface SessionReport {
  at: number;
  claims: SessionClaim[];
  complete: boolean;
}

/**
 * Keeps every report a device source makes, as the tracker would receive them (copied, so a source
 * reusing its arrays cannot rewrite history). A source reports either presences or sessions, never
 * both: the other kind, or any other source name, fails the test.
 */
export class RecordingSink implements DeviceSink {
  readonly presenceReports: PresenceReport[] = [];
  readonly sessionReports: SessionReport[] = [];
  /** Every name a report came in under, kept even when the source swallows the failed expectation. */
  readonly sources = new Set<string>();

  constructor(
    readonly source: string,
    readonly reports: 'presences' | 'sessions',
  ) {}

  reportPresences(source: string, presences: readonly Presence[], options?: ReportOptions): void {
    this.sources.add(source);
    expect(source).toBe(this.source);
    if (this.reports !== 'presences') throw new Error(`${this.source} reports no presences`);
    this.presenceReports.push({
      at: performance.now(),
      presences: structuredClone([...presences]),
      complete: options?.complete ?? true,
    });
  }

  reportSessions(source: string, claims: readonly SessionClaim[], options?: ReportOptions): void {
    this.sources.add(source);
    expect(source).toBe(this.source);
    if (this.reports !== 'sessions') throw new Error(`${this.source} reports no sessions`);
    this.sessionReports.push({
      at: performance.now(),
      claims: structuredClone([...claims]),
      complete: options?.complete ?? true,
    });
  }

  /** The latest presence report; undefined before the first, so "empty" never matches "nothing yet". */
  lastPresences(): Presence[] | undefined {
    return this.presenceReports.at(-1)?.presences;
  }

  lastClaims(): SessionClaim[] | undefined {
    return this.sessionReports.at(-1)?.claims;
  }

  /** The device under `key` in the latest presence report. */
  find(key: string): Presence | undefined {
    return this.lastPresences()?.find((presence) => presence.key === key);
  }
}
