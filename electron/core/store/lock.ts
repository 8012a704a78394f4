/**
 * One engine per data directory: `labhook.lock` holds the running process's PID. A lock left by a
 * process that no longer exists (a crash, kill -9) is taken over.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { makePrivateDir, PRIVATE_FILE_MODE } from './private-dir.js';

export class LockError extends Error {
  override name = 'LockError';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class DirectoryLock {
  readonly path: string;
  private held = false;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'labhook.lock');
  }

  async acquire(): Promise<void> {
    await makePrivateDir(dirname(this.path));
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const handle = await open(this.path, 'wx', PRIVATE_FILE_MODE);
        await handle.writeFile(`${process.pid}\n`);
        await handle.sync();
        await handle.close();
        this.held = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const text = await readFile(this.path, 'utf8').catch(() => '');
      const pid = Number.parseInt(text.trim(), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new LockError(
          `Another Labhook (PID ${pid}) is already using ${dirname(this.path)}; stop it first or choose another --data-dir`,
        );
      }
      // Stale: its owner is gone (or the file is empty/garbled from a crash mid-write).
      await unlink(this.path).catch(() => undefined);
    }
    throw new LockError(`Could not take the lock ${this.path}`);
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    const text = await readFile(this.path, 'utf8').catch(() => '');
    if (Number.parseInt(text.trim(), 10) === process.pid) await unlink(this.path).catch(() => undefined);
  }
}
