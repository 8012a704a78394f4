/**
 * Who a request comes from: `Authorization: Bearer <token>` or the session cookie that the
 * `/?token=` link sets. The cookie holds the token itself, HttpOnly and SameSite=Strict.
 */
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

export function sessionCookie(token: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** The token a request presents: the bearer token when there is an Authorization header, else the cookie's. */
export function presentedToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header !== undefined) return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] ?? null;
  return cookieValue(request.headers.cookie, SESSION_COOKIE) || null;
}

/** The caller, or null when the request carries no valid credential. */
export function callerOf(request: FastifyRequest, tokens: TokenService): Caller | null {
  const token = presentedToken(request);
  return token ? tokens.authenticate(token) : null;
}
