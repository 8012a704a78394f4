/**
 * Health warnings: pure rules from a battery reading and a flap count to the warnings they raise,
 * and the book that debounces them, so a warning that clears and returns within a few minutes is
 * one warning (one callback, one `since`), not a stream of them.
 */
import type { DeviceWarning, HealthSettings, WarningCode } from '../../api/schemas.js';
import type { BatteryReading } from './battery.js';

export type HealthThresholds = Pick<HealthSettings, 'lowBatteryPercent' | 'maxTemperatureC' | 'maxFlapsPerHour'>;

/** How long a cleared warning waits before it counts as cleared: back within this, it is the same warning. */
export const DEFAULT_DEBOUNCE_MS = 5 * 60 * 1000;

/**
 * One line per code, printable ASCII, for the `labhook-health-warning` header of health callbacks
 * (the window and the API show the detailed message with the figures).
 */
export const WARNING_SUMMARY: Record<WarningCode, string> = {
  not_charging: 'Battery low on external power: not charging',
  battery_hot: 'Battery temperature above the limit',
  battery_overheat: 'Battery reports overheat',
  battery_dead: 'Battery reports dead',
  battery_over_voltage: 'Battery reports over-voltage',
  battery_cold: 'Battery reports cold',
  flapping: 'Possible hardware fault: cable, port or hub',
};

const HEALTH_WARNINGS: Partial<Record<NonNullable<BatteryReading['health']>, [WarningCode, string]>> = {
  overheat: ['battery_overheat', 'The battery reports overheating: unplug the device and let it cool'],
  dead: ['battery_dead', 'The battery reports dead: replace it'],
  over_voltage: ['battery_over_voltage', 'The battery reports over-voltage: check the charger and the hub'],
  cold: ['battery_cold', 'The battery reports being too cold to charge'],
};

export interface RaisedWarning {
  code: WarningCode;
  message: string;
}

/** The warnings a reading (null: none yet) and a flap count raise against the thresholds. */
export function raisedWarnings(
  reading: BatteryReading | null,
  flapsLastHour: number,
  limits: HealthThresholds,
): RaisedWarning[] {
  const raised: RaisedWarning[] = [];
  if (reading) {
    const { level, power, charging, temperature, health } = reading;
    if (
      level !== null &&
      level < limits.lowBatteryPercent &&
      power !== null &&
      power !== 'battery' &&
      charging !== true
    )
      raised.push({
        code: 'not_charging',
        message: `Not charging: battery at ${level} % on external power (below ${limits.lowBatteryPercent} %)`,
      });
    if (temperature !== null && temperature > limits.maxTemperatureC)
      raised.push({
        code: 'battery_hot',
        message: `Battery at ${temperature} °C (above ${limits.maxTemperatureC} °C)`,
      });
    const fromHealth = health ? HEALTH_WARNINGS[health] : undefined;
    if (fromHealth) raised.push({ code: fromHealth[0], message: fromHealth[1] });
  }
  if (flapsLastHour > limits.maxFlapsPerHour)
    raised.push({
      code: 'flapping',
      message: `Possible hardware fault: cable, port or hub (${flapsLastHour} drops in the last hour, above ${limits.maxFlapsPerHour})`,
    });
  return raised;
}

/** A warning as the book keeps it (and the device record persists it). */
export interface BookedWarning {
  code: WarningCode;
  message: string;
  since: string;
  /** When its condition last went away (ms); null while it holds. */
  clearedAt: number | null;
}

export interface WarningTransition {
  kind: 'warning' | 'cleared';
  code: WarningCode;
  message: string;
}

/**
 * Applies what is raised now to what was booked: a new code is a `warning`; one that went away
 * waits `debounceMs` and then is `cleared`; one back within that is the same warning as before.
 * Returns the new book and the transitions to announce. Pure.
 */
export function updateBook(
  book: readonly BookedWarning[],
  raised: readonly RaisedWarning[],
  now: number,
  debounceMs: number,
): { book: BookedWarning[]; transitions: WarningTransition[] } {
  const next: BookedWarning[] = [];
  const transitions: WarningTransition[] = [];
  const raisedCodes = new Map(raised.map((w) => [w.code, w]));
  for (const entry of book) {
    const still = raisedCodes.get(entry.code);
    if (still) {
      next.push({ ...entry, message: still.message, clearedAt: null });
      raisedCodes.delete(entry.code);
    } else if (entry.clearedAt === null) {
      next.push({ ...entry, clearedAt: now });
    } else if (now - entry.clearedAt >= debounceMs) {
      transitions.push({ kind: 'cleared', code: entry.code, message: entry.message });
    } else {
      next.push(entry);
    }
  }
  for (const fresh of raisedCodes.values()) {
    next.push({ code: fresh.code, message: fresh.message, since: new Date(now).toISOString(), clearedAt: null });
    transitions.push({ kind: 'warning', code: fresh.code, message: fresh.message });
  }
  return { book: next, transitions };
}

/** The warnings that hold now, as the API shows them. */
export function currentWarnings(book: readonly BookedWarning[]): DeviceWarning[] {
  return book.filter((w) => w.clearedAt === null).map(({ code, message, since }) => ({ code, message, since }));
}

/** When the book must be looked at again for a pending clear; null when nothing is pending. */
export function nextClear(book: readonly BookedWarning[], debounceMs: number): number | null {
  let next: number | null = null;
  for (const w of book) if (w.clearedAt !== null) next = Math.min(next ?? Infinity, w.clearedAt + debounceMs);
  return next;
}
