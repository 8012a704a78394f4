import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root: the nearest folder above this module with Labhook's package.json (same from source and from out/). */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate) && readPackage(candidate).name === 'labhook') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("Cannot find Labhook's package.json");
    dir = parent;
  }
}

function readPackage(file: string): { name?: string; version?: string } {
  return JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
}

export const VERSION: string = readPackage(join(projectRoot(), 'package.json')).version ?? '0.0.0';
