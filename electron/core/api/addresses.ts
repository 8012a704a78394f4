/**
 * Which callback destinations are refused. A lab's receivers live on its LAN, so private ranges
 * are allowed; link-local and cloud metadata addresses are not (they reach the host's own cloud
 * credentials). Pure string logic: the forms use it too, and the sender checks resolved addresses.
 */

const METADATA_HOSTS = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
]);
// Alibaba Cloud's metadata address sits outside 169.254/16; AWS's IPv6 one outside fe80::/10.
const METADATA_IPS = new Set(['100.100.100.200', 'fd00:ec2::254']);

function parseIPv4(host: string): number[] | null {
  const parts = host.split('.');
  if (parts.length !== 4) return null;
  const bytes = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  return bytes.every((b) => b >= 0 && b <= 255) ? bytes : null;
}

/** Expands an IPv6 literal to eight 16-bit groups, or null when it is not one. */
function parseIPv6(host: string): number[] | null {
  let text = host
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '')
    .toLowerCase();
  if (!text.includes(':')) return null;
  // A dotted IPv4 tail (::ffff:169.254.1.1) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = parseIPv4(v4[1]);
    if (!b) return null;
    text = text.slice(0, -v4[1].length) + ((b[0] << 8) | b[1]).toString(16) + ':' + ((b[2] << 8) | b[3]).toString(16);
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string) =>
    s === '' ? [] : s.split(':').map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  if ([...head, ...rest].some(Number.isNaN)) return null;
  const missing = 8 - head.length - rest.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...rest];
}

/** True for hosts (names or IP literals) that callbacks must never reach. */
export function isBlockedHost(hostname: string): boolean {
  const host = hostname.replace(/\.$/, '').toLowerCase();
  if (METADATA_HOSTS.has(host)) return true;
  return isBlockedAddress(host);
}

/** True for IP literals in 169.254.0.0/16, fe80::/10, or a known metadata address. */
export function isBlockedAddress(address: string): boolean {
  const host = address.replace(/^\[|\]$/g, '').toLowerCase();
  if (METADATA_IPS.has(host)) return true;
  const v4 = parseIPv4(host);
  if (v4) return v4[0] === 169 && v4[1] === 254;
  const v6 = parseIPv6(host);
  if (!v6) return false;
  if ((v6[0] & 0xffc0) === 0xfe80) return true;
  if (v6[0] === 0xfd00 && v6[1] === 0xec2 && v6[7] === 0x254 && v6.slice(2, 7).every((g) => g === 0)) return true;
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible forms carry an IPv4 address in the tail.
  const mapped = v6.slice(0, 5).every((g) => g === 0) && (v6[5] === 0xffff || v6[5] === 0);
  if (mapped && v6[6] >> 8 === 169 && (v6[6] & 0xff) === 254) return true;
  if (mapped && v6[6] === ((100 << 8) | 100) && v6[7] === ((100 << 8) | 200)) return true;
  return false;
}
