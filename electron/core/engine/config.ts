/**
 * The engine's options (API.md "serve options"): each from a command-line flag, else its
 * environment variable, else the default. Bad values stop start-up with a message naming the option.
 */
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_RETRY_SCHEDULE, parseDelay, parseRetrySchedule } from '../delivery/schedule.js';

export interface EngineConfig {
  dataDir: string;
  host: string;
  port: number;
  adb: { host: string; port: number } | null;
  appium: string[] | null;
  usb: boolean;
  usbmux: string | null;
  /** Milliseconds: the first attempt's delay, then the wait before each retry. */
  retrySchedule: number[];
  demo: number;
  adminToken: string | undefined;
  /** Whether the listening line carries the sign-in token (off: where stdout is kept, e.g. journald). */
  printToken: boolean;
  /** A token good for `GET /metrics` only (a Prometheus scrape config), when set. */
  metricsToken: string | undefined;
  /** null: one host, files only (the default). */
  fleet: FleetConfig | null;
}

/** How this host joins a fleet (API.md `--fleet`; README "Fleet"). */
export interface FleetConfig {
  /** The NATS servers, e.g. `nats://a:4222`. */
  servers: string[];
  /** This host's name in the fleet: `host` on its devices. */
  host: string;
  /** A NATS credentials file (JWT + nkey seed), or null. */
  creds: string | null;
  /** After this long without a heartbeat a host is lost and its devices go offline fleet-wide. */
  hostTimeoutMs: number;
  /** Copies of every stream the fleet creates (1, 3 or 5 servers). */
  replicas: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

interface OptionSpec {
  env: string;
  fallback: () => string;
}

const OPTIONS = {
  'data-dir': { env: 'LABHOOK_DATA_DIR', fallback: defaultDataDir },
  host: { env: 'LABHOOK_HOST', fallback: () => '127.0.0.1' },
  port: { env: 'LABHOOK_PORT', fallback: () => '7391' },
  adb: { env: 'LABHOOK_ADB', fallback: () => '127.0.0.1:5037' },
  appium: { env: 'LABHOOK_APPIUM', fallback: () => 'http://127.0.0.1:4723' },
  usb: { env: 'LABHOOK_USB', fallback: () => 'on' },
  usbmux: { env: 'LABHOOK_USBMUX', fallback: () => (process.platform === 'win32' ? 'off' : '/var/run/usbmuxd') },
  'retry-schedule': { env: 'LABHOOK_RETRY_SCHEDULE', fallback: () => DEFAULT_RETRY_SCHEDULE },
  demo: { env: 'LABHOOK_DEMO', fallback: () => '0' },
  'print-token': { env: 'LABHOOK_PRINT_TOKEN', fallback: () => 'on' },
  fleet: { env: 'LABHOOK_FLEET', fallback: () => 'off' },
  'fleet-host': { env: 'LABHOOK_FLEET_HOST', fallback: () => hostname() },
  'fleet-creds': { env: 'LABHOOK_FLEET_CREDS', fallback: () => '' },
  'fleet-host-timeout': { env: 'LABHOOK_FLEET_HOST_TIMEOUT', fallback: () => '30s' },
  'fleet-replicas': { env: 'LABHOOK_FLEET_REPLICAS', fallback: () => '3' },
} satisfies Record<string, OptionSpec>;
type OptionName = keyof typeof OPTIONS;

export const USAGE = `Usage: npm run serve -- [options]
  --data-dir DIR            data directory (LABHOOK_DATA_DIR; default ${defaultDataDir()})
  --host ADDR               address to listen on (LABHOOK_HOST; default 127.0.0.1)
  --port N                  port, 0 = any free port (LABHOOK_PORT; default 7391)
  --adb HOST:PORT|off       adb server (LABHOOK_ADB; default 127.0.0.1:5037)
  --appium URL[,URL…]|off   Appium servers to watch for sessions (LABHOOK_APPIUM; default http://127.0.0.1:4723)
  --usb on|off              watch the USB bus (LABHOOK_USB; default on)
  --usbmux PATH|off         usbmuxd socket for iOS devices (LABHOOK_USBMUX; default /var/run/usbmuxd)
  --retry-schedule LIST     delivery attempts (LABHOOK_RETRY_SCHEDULE; default 0s,5s,5m,30m,2h,5h,10h,10h)
  --demo N                  add N simulated phones (LABHOOK_DEMO; default 0)
  --print-token on|off      print the sign-in link with its token (LABHOOK_PRINT_TOKEN; default on)
  --fleet URL[,URL…]|off    NATS servers of the fleet to join (LABHOOK_FLEET; default off: one host, files only)
  --fleet-host NAME         this host's name in the fleet (LABHOOK_FLEET_HOST; default the hostname)
  --fleet-creds FILE        NATS credentials file (LABHOOK_FLEET_CREDS; default none)
  --fleet-host-timeout T    a host silent this long is lost: its devices go offline (LABHOOK_FLEET_HOST_TIMEOUT; default 30s)
  --fleet-replicas N        copies of the fleet's streams, set when the fleet is created (LABHOOK_FLEET_REPLICAS; default 3)
  LABHOOK_ADMIN_TOKEN       when set, accepted as an admin token
  LABHOOK_METRICS_TOKEN     when set, accepted for GET /metrics only`;

/** The platform's per-user app data folder (Electron's `appData` + product name). */
export function defaultDataDir(): string {
  if (process.platform === 'win32')
    return join(process.env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'Labhook');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'Labhook');
  return join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'Labhook');
}

/** Reads `--name value` / `--name=value` pairs; unknown flags are an error, `--help` is reported. */
export function parseArgs(argv: readonly string[]): Partial<Record<OptionName, string>> | 'help' {
  const values: Partial<Record<OptionName, string>> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return 'help';
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!match || !(match[1] in OPTIONS)) throw new ConfigError(`Unknown option ${arg}\n${USAGE}`);
    const name = match[1] as OptionName;
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new ConfigError(`Option --${name} needs a value`);
    values[name] = value;
  }
  return values;
}

function retrySchedule(text: string): number[] {
  try {
    return parseRetrySchedule(text);
  } catch (error) {
    throw new ConfigError(`--retry-schedule: ${(error as Error).message}`);
  }
}

export function resolveConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): EngineConfig {
  const args = parseArgs(argv);
  if (args === 'help') throw new ConfigError(USAGE);
  const value = (name: OptionName) => args[name] ?? (env[OPTIONS[name].env] || OPTIONS[name].fallback());
  const off = (v: string) => v.trim().toLowerCase() === 'off';

  const port = Number(value('port'));
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`--port must be 0–65535, not "${value('port')}"`);

  const adbText = value('adb');
  let adb: EngineConfig['adb'] = null;
  if (!off(adbText)) {
    const match = /^(.+):(\d+)$/.exec(adbText.trim());
    const adbPort = Number(match?.[2]);
    if (!match || adbPort < 1 || adbPort > 65535)
      throw new ConfigError(`--adb must be HOST:PORT or off, not "${adbText}"`);
    adb = { host: match[1].replace(/^\[|\]$/g, ''), port: adbPort };
  }

  const appiumText = value('appium');
  let appium: string[] | null = null;
  if (!off(appiumText)) {
    appium = appiumText.split(',').map((u) => u.trim().replace(/\/+$/, ''));
    for (const url of appium) {
      let parsed: URL | null = null;
      try {
        parsed = new URL(url);
      } catch {
        // reported below
      }
      if (!parsed || !/^https?:$/.test(parsed.protocol))
        throw new ConfigError(`--appium must be http(s) URLs separated by commas, or off; "${url}" is not one`);
    }
  }

  const onOff = (name: 'usb' | 'print-token') => {
    const text = value(name).trim().toLowerCase();
    if (text !== 'on' && text !== 'off') throw new ConfigError(`--${name} must be on or off, not "${text}"`);
    return text === 'on';
  };

  const usbmuxText = value('usbmux');
  const demo = Number(value('demo'));
  if (!Number.isInteger(demo) || demo < 0 || demo > 1000)
    throw new ConfigError(`--demo must be a number of phones from 0 to 1000, not "${value('demo')}"`);

  return {
    dataDir: value('data-dir'),
    host: value('host'),
    port,
    adb,
    appium,
    usb: onOff('usb'),
    usbmux: off(usbmuxText) ? null : usbmuxText,
    retrySchedule: retrySchedule(value('retry-schedule')),
    demo,
    adminToken: env.LABHOOK_ADMIN_TOKEN || undefined,
    printToken: onOff('print-token'),
    metricsToken: env.LABHOOK_METRICS_TOKEN || undefined,
    fleet: fleetConfig(value),
  };
}

const FLEET_URL = /^(nats|tls|wss?):\/\/[^\s,/]+\/?$/;

function fleetConfig(value: (name: OptionName) => string): FleetConfig | null {
  const text = value('fleet').trim();
  if (text.toLowerCase() === 'off') return null;
  const servers = text.split(',').map((s) => s.trim());
  for (const server of servers)
    if (!FLEET_URL.test(server))
      throw new ConfigError(
        `--fleet must be NATS server URLs separated by commas (nats://host:4222,…), or off; "${server}" is not one`,
      );
  const host = value('fleet-host').trim();
  if (!/^[\w.-]{1,64}$/.test(host))
    throw new ConfigError(`--fleet-host must be 1–64 letters, digits, dots, dashes or underscores, not "${host}"`);
  let hostTimeoutMs: number;
  try {
    hostTimeoutMs = parseDelay(value('fleet-host-timeout'), '--fleet-host-timeout');
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (hostTimeoutMs < 1000) throw new ConfigError('--fleet-host-timeout must be at least 1s');
  const replicas = Number(value('fleet-replicas'));
  if (![1, 3, 5].includes(replicas))
    throw new ConfigError(`--fleet-replicas must be 1, 3 or 5, not "${value('fleet-replicas')}"`);
  return { servers, host, creds: value('fleet-creds').trim() || null, hostTimeoutMs, replicas };
}
