/**
 * The layer rule (scripts/eslint/layers.mjs) that `npm run lint` enforces: each case lints one
 * line as if it stood in the named file, through ESLint itself.
 */
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import labhook from '../../scripts/eslint/layers.mjs';

const eslint = new ESLint({
  overrideConfigFile: true,
  overrideConfig: [
    { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } },
    { files: ['**/*.ts'], plugins: { labhook }, rules: { 'labhook/layers': 'error' } },
  ],
});

async function problems(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: file });
  return (result?.messages ?? []).map((m) => m.message);
}

describe('the layer rule', () => {
  it.each([
    ['electron/core/engine/x.ts', "import { app } from 'electron';", 'the core is plain Node'],
    ['electron/core/engine/x.ts', "import log from 'electron-log/main';", 'the core is plain Node'],
    ['electron/core/engine/x.ts', "import { serve } from '../../server/serve.js';", 'the core is plain Node'],
    ['electron/core/api/x.ts', "import { readFileSync } from 'node:fs';", 'core/api is pure'],
    ['electron/core/api/x.ts', "import { Database } from '../store/database.js';", 'core/api is pure'],
    ['electron/server/x.ts', "export * from '../main/index.js';", 'the server runs without Electron'],
    ['electron/preload/x.ts', "import { Engine } from '../core/engine/engine.js';", 'the preload exposes the contract'],
    ['renderer/src/x.ts', "import { Engine } from '../../electron/core/engine/engine.js';", 'the window imports only'],
    ['renderer/src/x.ts', "const m = await import('node:fs');", 'the window imports only'],
  ])('refuses in %s: %s', async (file, code, why) => {
    const found = await problems(file, code);
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(why);
    expect(found[0]).toContain(file);
  });

  it.each([
    ['electron/core/engine/x.ts', "import { operations } from '../api/contract.js';"],
    ['electron/core/api/x.ts', "import { z } from 'zod';"],
    ['electron/server/x.ts', "import { Engine } from '../core/engine/engine.js';"],
    ['electron/main/x.ts', "import { app } from 'electron';"],
    ['electron/preload/x.ts', "import { contextBridge } from 'electron';"],
    ['renderer/src/x.ts', "import { operations } from '../../electron/core/api/contract.js';"],
  ])('allows in %s: %s', async (file, code) => {
    expect(await problems(file, code)).toEqual([]);
  });
});
