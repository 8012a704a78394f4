/**
 * Against DNS rebinding: a browser tricked into sending requests to us under another name carries
 * that name in `Host`. Only the address being served and `localhost` are accepted; when serving on
 * every interface, any IP literal is (a rebinding attack needs a name).
 */
import { isIP } from 'node:net';

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

export function hostAllowed(hostHeader: string | undefined, servedHost: string): boolean {
  if (!hostHeader) return false;
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader.trim().toLowerCase());
  if (!match) return false;
  const name = match[1].replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (name === 'localhost') return true;
  const served = servedHost.toLowerCase().replace(/^\[|\]$/g, '');
  if (WILDCARDS.has(served)) return isIP(name) !== 0;
  if (name === served) return true;
  // Loopback listeners are reachable as any loopback literal.
  return (served === '127.0.0.1' || served === '::1') && (name === '127.0.0.1' || name === '::1');
}
