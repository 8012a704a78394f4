/**
 * `db.json`: org, webhooks, tokens, devices, reservations and settings, through lowdb.
 * Writes are serialized and coalesced: many changes in one tick cost one atomic file write.
 */
import { join } from 'node:path';
import { Low } from 'lowdb';
import { DEFAULT_HEALTH_SETTINGS } from '../api/schemas.js';
import type { Service } from '../lifecycle.js';
import { DbSchema, type DbData } from './db-schema.js';
import { AtomicJsonFile, DataFileError } from './json-file.js';
import { makePrivateTree } from './private-dir.js';

export function emptyDb(): DbData {
  return {
    schemaVersion: 1,
    org: { id: 1, name: 'My lab' },
    nextWebhookId: 1,
    webhooks: [],
    tokens: [],
    sessions: [],
    devices: [],
    reservations: [],
    settings: { health: { ...DEFAULT_HEALTH_SETTINGS } },
  };
}

export class Database implements Service {
  readonly name = 'database';
  readonly path: string;
  private readonly low: Low<DbData>;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  private scheduled: Promise<void> | null = null;

  constructor(readonly dataDir: string) {
    this.path = join(dataDir, 'db.json');
    this.low = new Low(new AtomicJsonFile<DbData>(this.path), emptyDb());
  }

  get data(): DbData {
    return this.low.data;
  }

  async boot(): Promise<void> {
    await makePrivateTree(this.dataDir);
    const raw = await this.low.adapter.read();
    if (raw === null) {
      this.low.data = emptyDb();
      await this.low.write();
      return;
    }
    const parsed = DbSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
      throw new DataFileError(
        `${this.path} does not match Labhook's format at ${where}: ${issue.message}. Labhook left it untouched; fix or move it, then start again.`,
      );
    }
    this.low.data = parsed.data;
    // Older versions kept the sign-in token here in plain text; the schema dropped it, and so does the file, now.
    if (Object.hasOwn((raw as { settings?: object }).settings ?? {}, 'signInToken')) await this.low.write();
  }

  /** Applies `change` in memory now and persists it; resolves once it is on disk. */
  update(change: (data: DbData) => void): Promise<void> {
    change(this.low.data);
    return this.save();
  }

  /** Persists the current data; calls in the same tick share one write. */
  save(): Promise<void> {
    this.dirty = true;
    this.scheduled ??= this.writing.then(() => {
      this.scheduled = null;
      if (!this.dirty) return;
      this.dirty = false;
      return this.low.write();
    });
    this.writing = this.scheduled.catch(() => undefined);
    return this.scheduled;
  }

  async shutdown(): Promise<void> {
    await this.writing;
  }
}
