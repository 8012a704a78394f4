/**
 * API tokens: shown once at creation, stored as sha256 hashes, compared in constant time.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Role, TokenCreated, TokenInfo } from '../api/schemas.js';
import type { Database } from '../store/database.js';
import type { TokenRecord } from '../store/db-schema.js';
import type { Caller } from './permissions.js';

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export class TokenService {
  private readonly envDigest: Buffer | null;
  private readonly signInDigest: Buffer;

  /** `db` must be booted: the sign-in token is read once, here. */
  constructor(
    private readonly db: Database,
    adminToken: string | undefined,
  ) {
    this.envDigest = adminToken ? digest(adminToken) : null;
    this.signInDigest = digest(db.data.settings.signInToken);
  }

  list(): TokenInfo[] {
    return this.db.data.tokens.map(publicInfo);
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
    await this.db.update((data) => void data.tokens.push(record));
    return { id: record.id, name, role, token };
  }

  /** Removes a token; returns false when there was none with that id. */
  async remove(id: string): Promise<boolean> {
    const index = this.db.data.tokens.findIndex((t) => t.id === id);
    if (index < 0) return false;
    await this.db.update((data) => void data.tokens.splice(index, 1));
    return true;
  }

  /** The caller a presented token stands for, or null. Every stored hash is compared, in constant time each. */
  authenticate(presented: string): Caller | null {
    if (!presented || presented.length > 512) return null;
    const candidate = digest(presented);
    let caller: Caller | null = null;
    if (this.envDigest && timingSafeEqual(candidate, this.envDigest)) caller = { role: 'admin' };
    if (timingSafeEqual(candidate, this.signInDigest)) caller = { role: 'admin' };
    for (const record of this.db.data.tokens) {
      if (timingSafeEqual(candidate, Buffer.from(record.hash, 'hex')) && !caller)
        caller = { role: record.role, tokenId: record.id };
    }
    if (caller?.tokenId) this.touch(caller.tokenId);
    return caller;
  }

  /** Records use at most once a minute, so authentication does not write on every request. */
  private touch(id: string): void {
    const record = this.db.data.tokens.find((t) => t.id === id);
    if (!record) return;
    const now = Date.now();
    if (record.lastUsedAt && now - Date.parse(record.lastUsedAt) < 60_000) return;
    record.lastUsedAt = new Date(now).toISOString();
    void this.db.save().catch(() => undefined);
  }
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
