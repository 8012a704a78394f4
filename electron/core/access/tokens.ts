/**
 * Credentials: API tokens (shown once at creation, stored as sha256 hashes), the sign-in token
 * behind the `/?token=` link (made at every start and on rotation, kept in memory only, never
 * written anywhere) and LABHOOK_ADMIN_TOKEN (from the environment). All compared in constant time.
 * `revoked` is emitted whenever a credential stops working, so open event streams can close.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Role, TokenCreated, TokenInfo } from '../api/schemas.js';
import type { ConfigLog } from '../store/config-ops.js';
import type { TokenRecord } from '../store/db-schema.js';
import type { Caller } from './permissions.js';

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export interface TokenServiceEvents {
  revoked: [];
}

export class TokenService extends EventEmitter<TokenServiceEvents> {
  private readonly envDigest: Buffer | null;
  private signIn = mintSignIn();
  /** When this process last recorded each token's use; the log's copy may still be on its way. */
  private readonly touched = new Map<string, number>();

  /** Tokens live in `config` (the fleet's, in a fleet); a removal anywhere revokes the token here too. */
  constructor(
    private readonly config: ConfigLog,
    adminToken: string | undefined,
  ) {
    super();
    this.envDigest = adminToken ? digest(adminToken) : null;
    config.on('applied', (effect) => {
      if (effect.kind === 'token' && effect.removed) this.emit('revoked');
    });
  }

  /** The admin credential behind the `/?token=` link, until the next start or rotation. */
  get signInToken(): string {
    return this.signIn.token;
  }

  /** A new sign-in token; the old one (and every browser signed in with it) stops working at once. */
  rotateSignIn(): string {
    this.signIn = mintSignIn();
    this.emit('revoked');
    return this.signIn.token;
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

  /** The caller a presented token stands for, or null. Every stored hash is compared, in constant time each. */
  authenticate(presented: string): Caller | null {
    if (!presented || presented.length > 512) return null;
    const candidate = digest(presented);
    let caller: Caller | null = null;
    if (this.envDigest && timingSafeEqual(candidate, this.envDigest)) caller = { role: 'admin' };
    if (timingSafeEqual(candidate, this.signIn.digest)) caller = { role: 'admin' };
    for (const record of this.config.data.tokens) {
      if (timingSafeEqual(candidate, Buffer.from(record.hash, 'hex')) && !caller)
        caller = { role: record.role, tokenId: record.id };
    }
    if (caller?.tokenId) this.touch(caller.tokenId);
    return caller;
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
