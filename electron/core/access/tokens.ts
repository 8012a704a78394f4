/**
 * Credentials: API tokens (shown once at creation, stored as sha256 hashes), the sign-in token
 * behind the `/?token=` link (made at every start and on rotation, kept in memory only, never
 * written anywhere), LABHOOK_ADMIN_TOKEN (from the environment), and the browser sessions that
 * signing in with any of them makes (sessions.ts). All compared in constant time. `revoked` is
 * emitted whenever a credential or session stops working, so open event streams can close.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Role, TokenCreated, TokenInfo } from '../api/schemas.js';
import type { ConfigLog } from '../store/config-ops.js';
import type { Database } from '../store/database.js';
import type { TokenRecord } from '../store/db-schema.js';
import type { Caller } from './permissions.js';
import { SessionBook, type SessionOrigin } from './sessions.js';

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export interface TokenServiceEvents {
  revoked: [];
}

export class TokenService extends EventEmitter<TokenServiceEvents> {
  private readonly envDigest: Buffer | null;
  private signIn = mintSignIn();
  /** When this process last recorded each token's use; the log's copy may still be on its way. */
  private readonly touched = new Map<string, number>();
  private readonly sessions: SessionBook;

  /**
   * Tokens live in `config` (the fleet's, in a fleet); a removal anywhere revokes the token, and the
   * sessions it made, here too. Sessions belong to this host: they live in its `db` (booted), where
   * those that can no longer be valid are dropped now.
   */
  constructor(
    private readonly config: ConfigLog,
    adminToken: string | undefined,
    db: Database,
  ) {
    super();
    this.envDigest = adminToken ? digest(adminToken) : null;
    this.sessions = new SessionBook(db, (origin) => this.originCaller(origin));
    this.sessions.prune();
    config.on('applied', (effect) => {
      if (effect.kind !== 'token' || !effect.removed) return;
      this.sessions.prune();
      this.emit('revoked');
    });
  }

  /** The admin credential behind the `/?token=` link, until the next start or rotation. */
  get signInToken(): string {
    return this.signIn.token;
  }

  /** A new sign-in token; the old one, and every session signed in with the link, stop working at once. */
  async rotateSignIn(): Promise<string> {
    this.signIn = mintSignIn();
    await this.sessions.end((origin) => origin.kind === 'sign-in');
    this.emit('revoked');
    return this.signIn.token;
  }

  /**
   * Exchanges a valid token for a new browser session: the secret for the cookie, or null when the
   * token signs nobody in. The session lasts as long as what made it (an API token until deleted,
   * the sign-in link until rotated, LABHOOK_ADMIN_TOKEN while it is set to the same value) and
   * ends after 30 days unused; restarts keep it.
   */
  async startSession(presented: string): Promise<string | null> {
    const found = this.identify(presented);
    return found ? this.sessions.start(found.origin) : null;
  }

  /** The caller a session cookie stands for, or null. */
  authenticateSession(secret: string): Caller | null {
    return this.sessions.caller(secret);
  }

  list(): TokenInfo[] {
    return this.config.data.tokens.map(publicInfo);
  }

  async create(name: string, role: Role): Promise<TokenCreated> {
    const token = `lh_${randomBytes(32).toString('base64url')}`;
    const record: TokenRecord = {
      id: randomUUID(),
      name,
      role,
      hash: digest(token).toString('hex'),
      createdAt: new Date().toISOString(),
      lastUsedAt: null,
    };
    await this.config.commit({ type: 'token.create', record });
    return { id: record.id, name, role, token };
  }

  /** Removes a token; returns false when there was none with that id. */
  async remove(id: string): Promise<boolean> {
    if (!this.config.data.tokens.some((t) => t.id === id)) return false;
    await this.config.commit({ type: 'token.remove', id });
    return true;
  }

  /** The caller a presented token stands for, or null. */
  authenticate(presented: string): Caller | null {
    return this.identify(presented)?.caller ?? null;
  }

  /** The caller and what kind of credential it presented. Every stored hash is compared, in constant time each. */
  private identify(presented: string): { caller: Caller; origin: SessionOrigin } | null {
    if (!presented || presented.length > 512) return null;
    const candidate = digest(presented);
    let found: { caller: Caller; origin: SessionOrigin } | null = null;
    if (this.envDigest && timingSafeEqual(candidate, this.envDigest))
      found = { caller: { role: 'admin' }, origin: { kind: 'env', hash: this.envDigest.toString('hex') } };
    if (timingSafeEqual(candidate, this.signIn.digest))
      found = { caller: { role: 'admin' }, origin: { kind: 'sign-in' } };
    for (const record of this.config.data.tokens) {
      if (timingSafeEqual(candidate, Buffer.from(record.hash, 'hex')) && !found)
        found = { caller: { role: record.role, tokenId: record.id }, origin: { kind: 'token', tokenId: record.id } };
    }
    if (found?.caller.tokenId) this.touch(found.caller.tokenId);
    return found;
  }

  /** The caller a session made by `origin` stands for now, or null when that credential is gone. */
  private originCaller(origin: SessionOrigin): Caller | null {
    switch (origin.kind) {
      case 'sign-in':
        return { role: 'admin' };
      case 'env':
        return this.envDigest?.toString('hex') === origin.hash ? { role: 'admin' } : null;
      case 'token': {
        const record = this.config.data.tokens.find((t) => t.id === origin.tokenId);
        return record ? { role: record.role, tokenId: record.id } : null;
      }
    }
  }

  /** Records use at most once a minute, so authentication does not write on every request. */
  private touch(id: string): void {
    const record = this.config.data.tokens.find((t) => t.id === id);
    if (!record) return;
    const now = Date.now();
    const last = Math.max(record.lastUsedAt ? Date.parse(record.lastUsedAt) : 0, this.touched.get(id) ?? 0);
    if (now - last < 60_000) return;
    this.touched.set(id, now);
    void this.config.commit({ type: 'token.touch', id, at: new Date(now).toISOString() }).catch(() => undefined);
  }
}

function mintSignIn(): { token: string; digest: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, digest: digest(token) };
}

function publicInfo(record: TokenRecord): TokenInfo {
  return {
    id: record.id,
    name: record.name,
    role: record.role,
    createdAt: record.createdAt,
    lastUsedAt: record.lastUsedAt,
  };
}
