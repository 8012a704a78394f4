/**
 * A lowdb adapter that never loses the file: writes go to a temporary file that is fsynced and
 * renamed over the original (atomic on POSIX), and a file that cannot be parsed is reported with
 * its path and left exactly as it was.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Adapter } from 'lowdb';
import { PRIVATE_FILE_MODE } from './private-dir.js';

export class DataFileError extends Error {
  override name = 'DataFileError';
}

export class AtomicJsonFile<T> implements Adapter<T> {
  private readonly tempPath: string;

  constructor(readonly path: string) {
    this.tempPath = join(dirname(path), `.${basename(path)}.tmp`);
  }

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new DataFileError(`Cannot read ${this.path}: ${(error as Error).message}`);
    }
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new DataFileError(
        `${this.path} is not valid JSON (${(error as Error).message}). Labhook left it untouched; fix or move it, then start again.`,
      );
    }
  }

  async write(data: T): Promise<void> {
    const handle = await open(this.tempPath, 'w', PRIVATE_FILE_MODE);
    try {
      // A temporary file left by a crash keeps the mode it was made with.
      await handle.chmod(PRIVATE_FILE_MODE);
      await handle.writeFile(JSON.stringify(data, null, 2) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(this.tempPath, this.path);
    // The rename itself must reach the disk too.
    const dir = await open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
