/**
 * Who a request comes from: `Authorization: Bearer <token>`, or the session cookie that the
 * `/?token=` link sets (HttpOnly, SameSite=Strict). The cookie holds a session's secret, never a
 * token: the link exchanges the token for a session (core/access/sessions.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Caller } from '../core/access/permissions.js';
import type { TokenService } from '../core/access/tokens.js';

export const SESSION_COOKIE = 'labhook_session';

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export function sessionCookie(secret: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(secret)}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** What a request signs in with: its bearer token when it has an Authorization header, else its session cookie. */
export interface Credential {
  kind: 'bearer' | 'session';
  value: string;
}

export function credentialOf(request: FastifyRequest): Credential | null {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    return token ? { kind: 'bearer', value: token } : null;
  }
  const session = cookieValue(request.headers.cookie, SESSION_COOKIE);
  return session ? { kind: 'session', value: session } : null;
}

/** The caller a credential stands for now, or null. */
export function callerFor(credential: Credential, tokens: TokenService): Caller | null {
  return credential.kind === 'bearer'
    ? tokens.authenticate(credential.value)
    : tokens.authenticateSession(credential.value);
}

/** The caller, or null when the request carries no valid credential. */
export function callerOf(request: FastifyRequest, tokens: TokenService): Caller | null {
  const credential = credentialOf(request);
  return credential ? callerFor(credential, tokens) : null;
}

/** Whether the request carries the scrape-only metrics token (compared in constant time). */
export function isMetricsToken(request: FastifyRequest, metricsToken: string | undefined): boolean {
  if (!metricsToken) return false;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  if (!match) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(match[1]), digest(metricsToken));
}
