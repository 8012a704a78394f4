/** The package config is checked by electron-builder's own schema (its binary tools cannot be fetched here). */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('../..', import.meta.url));
const { getConfig, validateConfiguration } = require('app-builder-lib/out/util/config/config.js');
const { DebugLogger } = require('builder-util');

describe('electron-builder.yml', () => {
  it("matches electron-builder's schema", async () => {
    const config = await getConfig(root, null, null);
    expect(config.appId).toBe('dev.labhook.app');
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
  });
  it('the schema check would catch a mistake', async () => {
    const config = await getConfig(root, null, null);
    await expect(
      validateConfiguration({ ...config, linux: { ...config.linux, tagret: 'deb' } }, new DebugLogger(false)),
    ).rejects.toThrow(/does not match the API schema/);
  });
});

describe('package.json', () => {
  const sources = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return sources(path);
      return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
    });
  const imported = new Set<string>();
  for (const file of sources(join(root, 'electron'))) {
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from|import\(|require\()\s*'([^'.][^']*)'/g)) {
      if (specifier.startsWith('node:')) continue;
      const parts = specifier.split('/');
      imported.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
    }
  }
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };

  it('ships as runtime dependencies exactly what the application imports', () => {
    // Electron provides itself at run time; packaging must not bundle it.
    imported.delete('electron');
    expect(Object.keys(pkg.dependencies).sort()).toEqual([...imported].sort());
  });
});
