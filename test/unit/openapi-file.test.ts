/** docs/openapi.json is the document the server publishes, generated from the contract: it must not drift. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../electron/core/engine/version.js';
import { openApiDocument } from '../../electron/server/openapi.js';

describe('docs/openapi.json', () => {
  it('matches the contract (run `npm run openapi` after changing it)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(openApiDocument(VERSION));
  });
});
