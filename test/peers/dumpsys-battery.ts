/**
 * `dumpsys battery` as Android's BatteryService prints it, in the layouts of several releases
 * (from AOSP's BatteryService.dump and devices' published output): the emulated adbd answers with
 * these, and the parser's tests read them.
 */

export interface BatteryState {
  ac?: boolean;
  usb?: boolean;
  wireless?: boolean;
  dock?: boolean;
  /** BatteryManager status: 2 charging, 3 discharging, 4 not charging, 5 full. */
  status?: number;
  /** BatteryManager health: 2 good, 3 overheat, 4 dead, 5 over voltage, 6 failure, 7 cold. */
  health?: number;
  present?: boolean;
  level?: number;
  scale?: number;
  /** Tenths of a degree Celsius, as the service prints it. */
  temperature?: number;
}

export const ANDROID_FORMATS = ['2.3', '4.4', '8.0', '14'] as const;
export type AndroidFormat = (typeof ANDROID_FORMATS)[number];

const DEFAULTS: Required<BatteryState> = {
  ac: false,
  usb: true,
  wireless: false,
  dock: false,
  status: 2,
  health: 2,
  present: true,
  level: 85,
  scale: 100,
  temperature: 295,
};

/** The service's output for `state` in the layout of `format`; a field set to undefined is left out. */
export function dumpsysBattery(format: AndroidFormat, state: BatteryState = {}): string {
  const s = { ...DEFAULTS, ...state };
  const has = (key: keyof BatteryState) => !(key in state) || state[key] !== undefined;
  const line = (key: keyof BatteryState, text: string) => (has(key) ? [text] : []);
  const lines: string[] = ['Current Battery Service state:'];
  lines.push(...line('ac', `  AC powered: ${s.ac}`), ...line('usb', `  USB powered: ${s.usb}`));
  if (format !== '2.3') lines.push(...line('wireless', `  Wireless powered: ${s.wireless}`));
  if (format === '14') lines.push(...line('dock', `  Dock powered: ${s.dock}`));
  if (format === '8.0' || format === '14')
    lines.push('  Max charging current: 500000', '  Max charging voltage: 5000000', '  Charge counter: 2893000');
  lines.push(
    ...line('status', `  status: ${s.status}`),
    ...line('health', `  health: ${s.health}`),
    ...line('present', `  present: ${s.present}`),
    ...line('level', `  level: ${s.level}`),
    ...line('scale', `  scale: ${s.scale}`),
    // Gingerbread printed the voltage without the space.
    format === '2.3' ? '  voltage:3986' : '  voltage: 4143',
    ...line('temperature', `  temperature: ${s.temperature}`),
    '  technology: Li-ion',
  );
  if (format === '14') lines.push('  Charging state: 1', '  Charging policy: 1', '  Capacity level: 3');
  return `${lines.join('\n')}\n`;
}
