/**
 * The layers never import upward: core/api is pure (the window imports it), the core never imports
 * Electron or the doors above it, the server never imports the Electron process code.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sources(dir: string): string[] {
  const full = join(root, dir);
  try {
    statSync(full);
  } catch {
    return [];
  }
  return readdirSync(full, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(ts|svelte)$/.test(f) && !f.endsWith('.spec.ts'))
    .map((f) => join(dir, f));
}

/** Every module specifier a file imports (static, dynamic, re-exports), resolved to a project path when relative. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specs = [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm)].map((m) => (m[1] ?? m[2] ?? m[3])!);
  return specs.map((spec) => (spec.startsWith('.') ? relative(root, resolve(root, dirname(file), spec)) : spec));
}

function violations(dir: string, forbidden: (spec: string) => boolean): string[] {
  return sources(dir).flatMap((file) => importsOf(file).filter(forbidden).map((spec) => `${file} imports ${spec}`));
}

describe('layers', () => {
  it('finds the imports it checks', () => {
    expect(importsOf('electron/core/engine/engine.ts')).toContain('electron/core/store/database.js');
    expect(importsOf('electron/main/index.ts')).toContain('electron');
  });
  it('core never imports Electron, electron-log or the layers above it', () => {
    expect(violations('electron/core', (s) => s === 'electron' || s.startsWith('electron-log') || /^electron\/(server|main|preload)\//.test(s) || s.startsWith('renderer/'))).toEqual([]);
  });
  it('core/api is pure: zod and its own modules only, so the window can import it', () => {
    expect(violations('electron/core/api', (s) => s !== 'zod' && !s.startsWith('electron/core/api/'))).toEqual([]);
  });
  it('the server never imports the Electron process code', () => {
    expect(violations('electron/server', (s) => s === 'electron' || s.startsWith('electron-log') || /^electron\/(main|preload)\//.test(s))).toEqual([]);
  });
  it('the window imports only the contract from the engine', () => {
    expect(violations('renderer', (s) => s.startsWith('electron/') && !s.startsWith('electron/core/api/'))).toEqual([]);
  });
});
