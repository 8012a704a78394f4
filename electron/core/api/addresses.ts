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

/** True for IP literals in 169.254.0.0/16, fe80::/10, or a known metadata address, in any IPv6 form that carries one. */
export function isBlockedAddress(address: string): boolean {
  const host = address.replace(/^\[|\]$/g, '').toLowerCase();
  const v4 = parseIPv4(host);
  if (v4) return isBlockedIPv4(v4);
  const v6 = parseIPv6(host);
  if (!v6) return false;
  if ((v6[0] & 0xffc0) === 0xfe80) return true;
  // AWS's IPv6 metadata address, outside fe80::/10.
  if (v6[0] === 0xfd00 && v6[1] === 0xec2 && v6[7] === 0x254 && v6.slice(2, 7).every((g) => g === 0)) return true;
  return embeddedIPv4(v6).some(isBlockedIPv4);
}

/** 169.254.0.0/16, and Alibaba Cloud's metadata address, which sits outside it. */
function isBlockedIPv4(b: number[]): boolean {
  return (b[0] === 169 && b[1] === 254) || (b[0] === 100 && b[1] === 100 && b[2] === 100 && b[3] === 200);
}

const bytesOf = (high: number, low: number) => [high >> 8, high & 0xff, low >> 8, low & 0xff];

/**
 * The IPv4 addresses an IPv6 address stands for, where a translator or tunnel on the way would
 * turn it into that IPv4 address: IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d);
 * NAT64, the well-known 64:ff9b::/96 and the local-use 64:ff9b:1::/48 (RFC 6052, RFC 8215), both with
 * the address in the last 32 bits; 6to4 (2002:AABB:CCDD::/48); Teredo (2001:0::/32, the client's
 * address inverted in the last 32 bits, the server's in bits 32–63).
 */
function embeddedIPv4(v6: number[]): number[][] {
  const zeros = (from: number, to: number) => v6.slice(from, to).every((g) => g === 0);
  const found: number[][] = [];
  if (zeros(0, 5) && (v6[5] === 0xffff || v6[5] === 0)) found.push(bytesOf(v6[6], v6[7]));
  if (v6[0] === 0x64 && v6[1] === 0xff9b && (zeros(2, 6) || v6[2] === 1)) found.push(bytesOf(v6[6], v6[7]));
  if (v6[0] === 0x2002) found.push(bytesOf(v6[1], v6[2]));
  if (v6[0] === 0x2001 && v6[1] === 0) found.push(bytesOf(v6[2], v6[3]), bytesOf(~v6[6] & 0xffff, ~v6[7] & 0xffff));
  return found;
}
