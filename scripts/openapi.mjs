#!/usr/bin/env node
// Writes docs/openapi.json from the API contract (the same document the server serves at
// /api/v1/openapi.json). `npm run openapi` after changing the contract; a test keeps them equal.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from '../out/electron/server/openapi.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
writeFileSync(`${root}docs/openapi.json`, `${JSON.stringify(openApiDocument(version), null, 2)}\n`);
console.log('wrote docs/openapi.json');
