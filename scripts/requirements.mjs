// What each test suite needs from the machine. Shared by scripts/test.mjs (which provisions and
// reports) and the suites themselves (which skip with the same reason when a need is unmet).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function onPath(command) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Each suite's unmet need, or null when it can run. */
export const requirements = {
  adb: () => (onPath('adb') ? null : 'the adb binary is not installed (Debian package "adb")'),
  // The emulated iPhone's pairing certificates are made with it.
  openssl: () => (onPath('openssl') ? null : 'the openssl command is not installed (Debian package "openssl")'),
  usb: () => {
    if (process.platform !== 'linux') return 'needs Linux (mount namespaces and netlink)';
    if (process.getuid?.() !== 0) return 'needs root to mount a private /sys/bus in a mount namespace';
    if (!onPath('unshare') || !onPath('nsenter'))
      return 'unshare and nsenter are missing (Debian package "util-linux")';
    if (!onPath('python3')) return 'python3 is missing (it sends the netlink uevents)';
    return null;
  },
  appium: () =>
    existsSync(`${root}node_modules/appium/package.json`) &&
    existsSync(`${root}node_modules/@appium/fake-driver/package.json`)
      ? null
      : 'appium and @appium/fake-driver are not installed (run npm ci)',
  nats: () =>
    existsSync('/usr/sbin/nats-server')
      ? null
      : 'the NATS server is not installed at /usr/sbin/nats-server (Debian package "nats-server")',
  chromium: () =>
    existsSync('/usr/bin/chromium')
      ? null
      : 'Chromium is not installed at /usr/bin/chromium (Debian package "chromium")',
};

/** Reason a suite must skip, or null. */
export function skipReason(suite) {
  return requirements[suite]();
}
