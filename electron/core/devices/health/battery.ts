/**
 * Battery readings and how each platform's answer becomes one. Pure: the readers (adb, lockdown)
 * fetch the text or the plist, these functions say what it means.
 *
 * A field the device did not report is null (unknown), never 0: a phone at 0 % and a phone that
 * did not say are different problems.
 */
import type { BatteryHealth, PowerSource } from '../../api/schemas.js';

export interface BatteryReading {
  /** Percent, 0–100. */
  level: number | null;
  /** Degrees Celsius. */
  temperature: number | null;
  charging: boolean | null;
  power: PowerSource | null;
  health: BatteryHealth | null;
}

export const UNKNOWN_READING: BatteryReading = {
  level: null,
  temperature: null,
  charging: null,
  power: null,
  health: null,
};

/** BatteryManager.BATTERY_HEALTH_* (1 is "unknown"). */
const ANDROID_HEALTH: Record<number, BatteryHealth> = {
  2: 'good',
  3: 'overheat',
  4: 'dead',
  5: 'over_voltage',
  6: 'failure',
  7: 'cold',
};
/** BatteryManager.BATTERY_STATUS_*: 2 charging, 3 discharging, 4 not charging, 5 full (1 is "unknown"). */
const ANDROID_CHARGING: Record<number, boolean> = { 2: true, 3: false, 4: false, 5: false };

/** Which `… powered:` line names which source; the first that says true wins. */
const POWER_LINES: ReadonlyArray<[string, PowerSource]> = [
  ['ac powered', 'ac'],
  ['usb powered', 'usb'],
  ['wireless powered', 'wireless'],
  ['dock powered', 'dock'],
];

/**
 * `dumpsys battery` as every Android version since 2.3 prints it: a `Current Battery Service
 * state:` header, then `  name: value` lines. Versions differ in which lines there are (Dock
 * powered from 12, charge counters from 7, vendors add their own) and in spacing (`voltage:3986`
 * on old builds); names are matched without regard to case or spacing, unknown lines are ignored,
 * and a value that is not what its field takes is unknown.
 */
export function parseDumpsysBattery(output: string): BatteryReading {
  const fields = new Map<string, string>();
  for (const line of output.split(/\r?\n/)) {
    const match = /^\s*([A-Za-z][A-Za-z ]*?)\s*:\s*(.*?)\s*$/.exec(line);
    if (!match) continue;
    const name = match[1].toLowerCase().replace(/\s+/g, ' ');
    // The first occurrence wins: some vendors repeat names further down in their own sections.
    if (!fields.has(name)) fields.set(name, match[2]);
  }
  if (!fields.has('level') && !fields.has('status') && !POWER_LINES.some(([line]) => fields.has(line)))
    return { ...UNKNOWN_READING };

  const integer = (name: string): number | null => {
    const raw = fields.get(name);
    if (raw === undefined || !/^-?\d+$/.test(raw)) return null;
    return Number(raw);
  };
  const bool = (name: string): boolean | null => {
    const raw = fields.get(name)?.toLowerCase();
    return raw === 'true' ? true : raw === 'false' ? false : null;
  };

  // A device without a battery (a TV box, some emulators) says `present: false`: nothing to read.
  const present = bool('present');
  let level: number | null = null;
  const rawLevel = integer('level');
  const scale = integer('scale') ?? 100;
  if (present !== false && rawLevel !== null && rawLevel >= 0 && scale > 0 && rawLevel <= scale)
    level = Math.round((rawLevel * 100) / scale);

  // Tenths of a degree. Values no battery survives are a sensor that is not there.
  const tenths = integer('temperature');
  const temperature =
    present !== false && tenths !== null && tenths > -500 && tenths < 1500 ? Math.round(tenths) / 10 : null;

  const status = integer('status');
  const healthCode = integer('health');

  let power: PowerSource | null = null;
  const said = POWER_LINES.filter(([line]) => bool(line) !== null);
  if (said.length > 0) power = said.find(([line]) => bool(line) === true)?.[1] ?? 'battery';

  return {
    level,
    temperature,
    charging: status !== null ? (ANDROID_CHARGING[status] ?? null) : null,
    power,
    health: healthCode !== null ? (ANDROID_HEALTH[healthCode] ?? null) : null,
  };
}

/**
 * The `com.apple.mobile.battery` lockdown domain: BatteryCurrentCapacity (percent),
 * BatteryIsCharging, ExternalConnected (on a charger or a powered port), HasBattery. iOS reports
 * no temperature or health there.
 */
export function readingFromLockdown(domain: Record<string, unknown>): BatteryReading {
  if (domain.HasBattery === false) return { ...UNKNOWN_READING };
  const capacity = domain.BatteryCurrentCapacity;
  const level =
    typeof capacity === 'number' && Number.isInteger(capacity) && capacity >= 0 && capacity <= 100 ? capacity : null;
  const charging = typeof domain.BatteryIsCharging === 'boolean' ? domain.BatteryIsCharging : null;
  const external = typeof domain.ExternalConnected === 'boolean' ? domain.ExternalConnected : null;
  return {
    level,
    temperature: null,
    charging,
    power: external === null ? null : external ? 'external' : 'battery',
    health: null,
  };
}
