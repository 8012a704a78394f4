/**
 * The data directory holds the webhooks' signing secrets and receivers' credentials (db.json) and
 * the delivery log: only its owner may enter it (0700), and its files are 0600 whatever the umask.
 */
import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` (and its parents) if needed, and makes it 0700. */
export async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await tighten(dir, PRIVATE_DIR_MODE);
}

/**
 * `makePrivateDir`, then every folder below it 0700 and every file 0600: a data directory made by
 * an older version, copied with `cp -r` or restored from a backup gets the same modes as a new one.
 */
export async function makePrivateTree(dir: string): Promise<void> {
  await makePrivateDir(dir);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await makePrivateTree(path);
    else if (entry.isFile()) await tighten(path, PRIVATE_FILE_MODE);
  }
}

/** Sets `mode` where the current one lets others in; leaves stricter modes and others' files alone. */
async function tighten(path: string, mode: number): Promise<void> {
  const info = await stat(path);
  if ((info.mode & 0o777 & ~mode) === 0) return;
  if (process.getuid && info.uid !== process.getuid() && process.getuid() !== 0) return;
  await chmod(path, mode);
}
