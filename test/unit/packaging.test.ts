/** The package config is checked by electron-builder's own schema (its binary tools cannot be fetched here). */
import { createRequire } from 'node:module';
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
