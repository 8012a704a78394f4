/**
 * Browser sessions: what the `/?token=` link exchanges a valid token for. The cookie holds a random
 * secret; db.json holds only its sha256 hash, what made the session (its origin) and when it was
 * last used. A session lives as long as its origin still signs in (see TokenService) and ends after
 * 30 days unused; it survives restarts, so an open window keeps working when `serve` comes back.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Database } from '../store/database.js';
import type { SessionOrigin, SessionRecord } from '../store/db-schema.js';
import type { Caller } from './permissions.js';

export type { SessionOrigin };

export const SESSION_IDLE_MS = 30 * 24 * 3600 * 1000;
/** Sessions one origin may hold; signing in once more ends its least recently used one. */
export const SESSIONS_PER_ORIGIN = 50;
/** Use is recorded at most this often, so authentication does not write on every request. */
const TOUCH_MS = 60_000;

const digest = (secret: string) => createHash('sha256').update(secret, 'utf8').digest();
const originKey = (origin: SessionOrigin) =>
  origin.kind === 'token' ? `token:${origin.tokenId}` : origin.kind === 'env' ? `env:${origin.hash}` : 'sign-in';

export class SessionBook {
  /**
   * @param callerOf the caller a session made by `origin` stands for now, or null when that
   *   credential no longer signs anybody in.
   */
  constructor(
    private readonly db: Database,
    private readonly callerOf: (origin: SessionOrigin) => Caller | null,
  ) {}

  /** A new session for `origin`; returns the secret for the cookie, shown nowhere else. */
  async start(origin: SessionOrigin): Promise<string> {
    const secret = `lhs_${randomBytes(32).toString('base64url')}`;
    const now = new Date().toISOString();
    const record: SessionRecord = {
      id: randomUUID(),
      hash: digest(secret).toString('hex'),
      origin,
      createdAt: now,
      lastUsedAt: now,
    };
    await this.db.update((data) => {
      data.sessions.push(record);
      const key = originKey(origin);
      const same = data.sessions.filter((s) => originKey(s.origin) === key);
      if (same.length <= SESSIONS_PER_ORIGIN) return;
      const oldest = new Set(
        same.sort((a, b) => a.lastUsedAt.localeCompare(b.lastUsedAt)).slice(0, same.length - SESSIONS_PER_ORIGIN),
      );
      data.sessions = data.sessions.filter((s) => !oldest.has(s));
    });
    return secret;
  }

  /** The caller a cookie's secret stands for, or null. Every stored hash is compared, in constant time each. */
  caller(secret: string): Caller | null {
    if (!secret || secret.length > 512) return null;
    const candidate = digest(secret);
    let found: SessionRecord | undefined;
    for (const record of this.db.data.sessions)
      if (timingSafeEqual(candidate, Buffer.from(record.hash, 'hex')) && !found) found = record;
    if (!found) return null;
    const now = Date.now();
    const idle = now - Date.parse(found.lastUsedAt);
    if (idle > SESSION_IDLE_MS) return null;
    const caller = this.callerOf(found.origin);
    if (caller && idle >= TOUCH_MS) {
      found.lastUsedAt = new Date(now).toISOString();
      void this.db.save().catch(() => undefined);
    }
    return caller;
  }

  /** Ends every session whose origin matches. */
  async end(match: (origin: SessionOrigin) => boolean): Promise<void> {
    if (!this.db.data.sessions.some((s) => match(s.origin))) return;
    await this.db.update((data) => {
      data.sessions = data.sessions.filter((s) => !match(s.origin));
    });
  }

  /** Drops sessions unused for too long, or whose credential went while Labhook was stopped. */
  prune(now = Date.now()): void {
    const kept = this.db.data.sessions.filter(
      (s) => now - Date.parse(s.lastUsedAt) <= SESSION_IDLE_MS && this.callerOf(s.origin) !== null,
    );
    if (kept.length === this.db.data.sessions.length) return;
    this.db.data.sessions = kept;
    void this.db.save().catch(() => undefined);
  }
}
