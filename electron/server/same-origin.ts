/**
 * Against cross-site request forgery with the session cookie. `SameSite=Strict` ignores ports, so
 * to the browser a page on any other port of this host is the same site and gets the cookie sent
 * along. A request that changes anything and is signed in by the cookie must therefore show that it
 * comes from this origin: a matching `Origin`, or, where a browser sends none, `Sec-Fetch-Site:
 * same-origin`. A bearer token is never sent by the browser on its own, so those requests pass.
 */
import type { FastifyRequest } from 'fastify';
import { cookieValue, SESSION_COOKIE } from './auth.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Why the request is refused, or null when it may go on. */
export function crossOriginProblem(request: FastifyRequest): string | null {
  if (SAFE_METHODS.has(request.method)) return null;
  if (request.headers.authorization !== undefined) return null;
  if (cookieValue(request.headers.cookie, SESSION_COOKIE) === undefined) return null;
  const own = originOf(`${request.protocol}://${request.headers.host ?? ''}`);
  const origin = request.headers.origin;
  if (origin !== undefined) {
    if (own !== null && originOf(origin) === own) return null;
    return `Refused: this request is signed in with the session cookie but comes from ${origin === 'null' ? 'an opaque origin' : origin}, not from ${own ?? "Labhook's own page"}. Scripts sign in with Authorization: Bearer <token>.`;
  }
  if (request.headers['sec-fetch-site'] === 'same-origin') return null;
  return 'Refused: this request is signed in with the session cookie but does not say where it comes from (no Origin header). Scripts sign in with Authorization: Bearer <token>.';
}

function originOf(text: string): string | null {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : null;
  } catch {
    return null;
  }
}
