#!/usr/bin/env node
// `npm test`: provisions what the suites need where it can, type-checks, lints, runs every suite,
// and closes with one summary line. `--require-all` (CI) fails when any suite had to be skipped.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirements } from './requirements.mjs';

const args = process.argv.slice(2);
const requireAll = args.includes('--require-all') || process.env.LABHOOK_REQUIRE_ALL_SUITES === '1';
const passThrough = args.filter((a) => a !== '--require-all');

const DEBIAN_PACKAGES = { adb: 'adb', openssl: 'openssl', chromium: 'chromium', nats: 'nats-server' };

function provision() {
  const missing = Object.entries(DEBIAN_PACKAGES)
    .filter(([suite]) => requirements[suite]() !== null)
    .map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    console.log(`test: cannot install ${missing.join(', ')} (needs root on Debian); those suites will be skipped`);
    return;
  }
  console.log(`test: installing ${missing.join(', ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env }).status ===
    0;
  if (!install()) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    if (!install()) console.log(`test: apt-get could not install ${missing.join(', ')}`);
  }
}

function run(label, command, commandArgs) {
  console.log(`test: ${label}`);
  return spawnSync(command, commandArgs, { stdio: 'inherit' }).status === 0;
}

provision();

const tsc = 'node_modules/typescript/bin/tsc';
const typesOk = run('type-checking the engine, the Electron process code and the tests', process.execPath, [
  tsc,
  '-p',
  'tsconfig.test.json',
]);
// Lint and formatting are part of the whole run; a run narrowed by vitest filters skips them.
const lintOk =
  passThrough.length > 0 ||
  (run('linting (eslint: type-aware rules and the layer rule)', process.execPath, [
    'node_modules/eslint/bin/eslint.js',
    '--max-warnings=0',
    '.',
  ]) &&
    run('checking the formatting (prettier; `npm run format` fixes it)', process.execPath, [
      'node_modules/prettier/bin/prettier.cjs',
      '--check',
      '--log-level=warn',
      '.',
    ]));

const reportDir = mkdtempSync(join(tmpdir(), 'labhook-vitest-'));
const reportFile = join(reportDir, 'report.json');
run('running the suites', process.execPath, [
  'node_modules/vitest/vitest.mjs',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${reportFile}`,
  ...passThrough,
]);

let passed = 0;
let failed = 1;
let skipped = 0;
if (existsSync(reportFile)) {
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  passed = report.numPassedTests;
  failed =
    report.numFailedTests +
    (report.testResults ?? []).filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
  skipped = report.numPendingTests + report.numTodoTests;
} else {
  console.log('test: vitest wrote no report');
}
rmSync(reportDir, { recursive: true, force: true });

const unmet = Object.entries(requirements)
  .map(([suite, check]) => [suite, check()])
  .filter(([, reason]) => reason !== null);
for (const [suite, reason] of unmet) console.log(`test: skipped the ${suite} suite: ${reason}`);
if (!typesOk) console.log('test: type errors (see above)');
if (!lintOk) console.log('test: lint or formatting errors (see above; `npm run format` fixes most)');

const checksFailed = (typesOk ? 0 : 1) + (lintOk ? 0 : 1);
console.log(`test: ${passed} passed, ${failed + checksFailed} failed, ${skipped} skipped`);
const ok = typesOk && lintOk && failed === 0 && passed > 0 && !(requireAll && (unmet.length > 0 || skipped > 0));
if (requireAll && (unmet.length > 0 || skipped > 0))
  console.log('test: --require-all: every suite must run here, and some were skipped');
process.exit(ok ? 0 : 1);
