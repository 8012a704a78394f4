/**
 * Hostile input, property-based: every operation of the contract called with random JSON, wrong
 * types, huge strings, lone surrogates, deep nesting, `__proto__`/`constructor` keys, odd ids and
 * paths, odd content types and query strings, by every role, signed in by bearer token or cookie
 * (with and without a matching Origin), under its own `Host` or a rebinding one. Whatever comes in:
 * never a 5xx, never a crash, always the API's error format, and nothing changes without the
 * permission. Afterwards no credential is found in the log lines or the data files.
 *
 * Bounded: a fixed seed (LABHOOK_FC_SEED overrides it) and a fixed number of runs; fast-check
 * prints the seed and the shrunk counterexample when a property fails.
 */
import { readdir, readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations, type OperationName } from '../../electron/core/api/contract.js';
import { ERROR_STATUS } from '../../electron/core/api/errors.js';
import { allowed, CALLS, ENV_ADMIN_TOKEN, startApiFixture, type ApiFixture } from '../helpers/api-calls.js';

const SEED = Number(process.env.LABHOOK_FC_SEED ?? 20261201);
const RUNS = 400;
const ROLES = ['admin', 'manager', 'viewer'] as const;
type Role = (typeof ROLES)[number];

let fixture: ApiFixture;
/** A session cookie of each role, made through the sign-in link with that role's token. */
const cookies = {} as Record<Role, string>;
const signInTokens: string[] = [];

beforeAll(async () => {
  fixture = await startApiFixture();
  for (const role of ROLES) {
    const reply = await fixture.server.call('GET', `/?token=${fixture.tokens[role]}`, { token: null });
    cookies[role] = String(reply.headers['set-cookie']).split(';')[0];
  }
  signInTokens.push(fixture.server.adminToken);
});
afterAll(async () => fixture?.close());

// ---- what hostile input looks like ----

const loneSurrogates = fc
  .array(fc.integer({ min: 0xd800, max: 0xdfff }), { minLength: 1, maxLength: 3 })
  .map((units) => `a${String.fromCharCode(...units)}b`);
const oddStrings = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  '\r\n',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  '../../etc/passwd',
  '%00',
  '%2e%2e',
  '\u202e',
  '1e309',
  '-1',
  '0',
  'NaN',
  '9'.repeat(40),
  'whsec_hidden',
  '****',
);
const hugeString = fc.integer({ min: 1, max: 70_000 }).map((n) => 'x'.repeat(n));
const hostileString = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), loneSurrogates, oddStrings, hugeString);
const hostileKey = fc.oneof(fc.string({ maxLength: 12 }), oddStrings, loneSurrogates);
const { value: hostileValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString,
    fc.integer(),
    fc.double(),
    fc.constantFrom(true, false, null, 0, -1, 2 ** 53, Number.MAX_VALUE),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileKey, tie('value'), { maxKeys: 4 }),
  ),
}));
/** Bodies that JSON.stringify cannot make: deep nesting, prototype keys as written, not JSON at all. */
const rawBody = fc.oneof(
  fc.integer({ min: 1, max: 30_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 1, max: 10_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
  fc.constantFrom(
    '{"__proto__":{"admin":true},"name":"p","url":"http://127.0.0.1:9/","events":["online"]}',
    '{"constructor":{"prototype":{"admin":true}}}',
    '{"name":"a","name":"b"}',
    '{',
    'null',
    '[]',
    '"text"',
    '\u0000',
    '{"a":1}garbage',
  ),
  fc.string({ maxLength: 60 }),
);
/** A path segment, as a client would put it in the URL: percent-encoded, lone surrogates as broken UTF-8. */
const hostileSegment = fc
  .oneof(
    hostileString.filter((s) => s.length < 300),
    fc.constantFrom('1', '999999', 'abc', '%', '%zz', '.', '..'),
  )
  .map((segment) => (segment === '%' || segment === '%zz' ? segment : encodeSafe(segment)));
const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  '*/*',
  undefined,
);
const rebindingHost = fc
  .oneof(fc.domain(), fc.constantFrom('127.0.0.1.nip.io', 'localhost.evil.example', '192.168.1.9', '10.0.0.1', 'x'))
  .filter((host) => host !== 'localhost');

/** One of the arbitraries, each as often as its weight says. */
function weighted<T>(...choices: [fc.Arbitrary<T>, number][]): fc.Arbitrary<T> {
  return fc.oneof(...choices.map(([arbitrary, weight]) => ({ arbitrary, weight })));
}

type BodyChoice =
  | { kind: 'valid' | 'none' }
  | { kind: 'field'; pick: number; value: unknown }
  | { kind: 'extra'; key: string; value: unknown }
  | { kind: 'whole'; value: unknown }
  | { kind: 'raw'; text: string };

// Operations that take a body come up three times as often: their fields are where input goes wrong.
const NAMES = (Object.keys(operations) as OperationName[]).flatMap((name) =>
  'body' in operations[name] ? [name, name, name] : [name],
);
const scenario = fc.record({
  name: fc.constantFrom(...NAMES),
  role: fc.constantFrom(null, ...ROLES),
  auth: weighted(
    [fc.constant('bearer' as const), 4],
    [fc.constant('cookie' as const), 2],
    [fc.constant('cookie from elsewhere' as const), 1],
  ),
  params: weighted([fc.constant(null), 2], [fc.array(hostileSegment, { minLength: 2, maxLength: 2 }), 1]),
  body: weighted<BodyChoice>(
    [fc.constant({ kind: 'valid' }), 2],
    [fc.constant({ kind: 'none' }), 1],
    [fc.record({ kind: fc.constant('field'), pick: fc.nat(), value: hostileValue }), 4],
    [fc.record({ kind: fc.constant('extra'), key: hostileKey, value: hostileValue }), 1],
    [fc.record({ kind: fc.constant('whole'), value: hostileValue }), 1],
    [fc.record({ kind: fc.constant('raw'), text: rawBody }), 1],
  ),
  contentType: weighted<string | undefined>([fc.constant('application/json'), 4], [contentType, 1]),
  query: weighted<Record<string, string> | null>(
    [fc.constant(null), 3],
    [
      fc.dictionary(
        hostileKey,
        hostileString.filter((s) => s.length < 300),
        { maxKeys: 3 },
      ),
      1,
    ],
  ),
  host: weighted<string | null>([fc.constant(null), 8], [rebindingHost, 1]),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

// ---- sending it ----

interface Sent {
  status: number;
  text: string;
}

function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Sent> {
  const url = new URL(fixture.server.base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        // A fresh connection each: one the server closed after a refusal is never reused.
        agent: false,
        headers: {
          host: url.host,
          ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function build(
  s: Scenario,
): Promise<{ method: string; path: string; headers: Record<string, string>; body?: string }> {
  const op = operations[s.name];
  const valid = await CALLS[s.name].call(fixture);
  let path = `/api/v1${valid.path}`;
  if (s.params) {
    let i = 0;
    path = `/api/v1${op.path.replace(/\{\w+\}/g, () => s.params![i++ % 2])}`;
  }
  if (s.query) {
    const query = Object.entries(s.query)
      .map(([k, v]) => `${encodeSafe(k)}=${encodeSafe(v)}`)
      .join('&');
    path += (path.includes('?') ? '&' : '?') + query;
  }
  let body: string | undefined;
  const base = (valid.body ?? {}) as Record<string, unknown>;
  switch (s.body.kind) {
    case 'valid':
      body = valid.body === undefined ? undefined : JSON.stringify(valid.body);
      break;
    case 'none':
      break;
    case 'field': {
      const keys = Object.keys(base);
      const copy = { ...base };
      if (keys.length) copy[keys[s.body.pick % keys.length]] = s.body.value;
      body = JSON.stringify(copy);
      break;
    }
    case 'extra':
      body = JSON.stringify(Object.defineProperty({ ...base }, s.body.key, { value: s.body.value, enumerable: true }));
      break;
    case 'whole':
      body = JSON.stringify(s.body.value) ?? 'null';
      break;
    case 'raw':
      body = s.body.text;
      break;
  }
  const headers: Record<string, string> = {};
  if (body !== undefined && s.contentType) headers['content-type'] = s.contentType;
  if (s.role) {
    if (s.auth === 'bearer') headers.authorization = `Bearer ${fixture.tokens[s.role]}`;
    else {
      headers.cookie = cookies[s.role];
      headers.origin = s.auth === 'cookie' ? fixture.server.base : 'http://127.0.0.1:1';
    }
  }
  if (s.host) headers.host = `${s.host}:${new URL(fixture.server.base).port}`;
  return { method: op.method, path, headers, body };
}

/** Percent-encodes text that may hold lone surrogates (encodeURIComponent throws on them). */
function encodeSafe(text: string): string {
  return Array.from(text, (ch) => (/^[\uD800-\uDFFF]$/.test(ch) ? '%ED%A0%80' : encodeURIComponent(ch))).join('');
}

/** Everything a call could change, as an admin reads it (when each token was last used aside). */
async function state(): Promise<string> {
  const read = (path: string) => fixture.admin('GET', path);
  const [webhooks, tokens, org, devices, deliveries] = await Promise.all([
    read('/webhooks'),
    read('/tokens'),
    read('/org'),
    read('/devices'),
    read('/deliveries?limit=500'),
  ]);
  return JSON.stringify({
    webhooks,
    tokens: tokens.items.map((t: Record<string, unknown>) => ({ ...t, lastUsedAt: undefined })),
    org,
    devices,
    deliveries: deliveries.items.map((d: { id: string; status: string; attempts: unknown[] }) => [
      d.id,
      d.status,
      d.attempts.length,
    ]),
    signIn: fixture.server.adminToken,
  });
}

const SUCCESS = new Set([200, 201, 202, 204]);
const KNOWN_ERRORS = new Map(Object.entries(ERROR_STATUS).filter(([code]) => code !== 'internal'));

describe('hostile input to every operation', () => {
  it(`never a 5xx, always the error format, nothing changed without the permission (seed ${SEED}, ${RUNS} runs)`, async () => {
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const request = await build(s);
        const op = operations[s.name];
        const unsafe = op.method !== 'GET';
        const permitted =
          !s.host && allowed(CALLS[s.name].who, s.role) && !(unsafe && s.auth === 'cookie from elsewhere');
        const before = permitted ? null : await state();
        const reply = await send(request.method, request.path, request.headers, request.body);

        expect(reply.status, reply.text).toBeLessThan(500);
        if (SUCCESS.has(reply.status)) {
          expect(permitted, `${request.method} ${request.path} answered ${reply.status} without permission`).toBe(true);
        } else {
          const error = (JSON.parse(reply.text) as { error: { code: string; message: string } }).error;
          expect(KNOWN_ERRORS.get(error.code), reply.text).toBe(reply.status);
          expect(error.message.length).toBeGreaterThan(0);
        }
        // A rebinding Host is refused before anything else; only a path that does not parse is a 404 first.
        if (s.host && !s.params) expect(reply.status).toBe(403);
        if (before !== null) expect(await state()).toBe(before);
        if (++checked % 50 === 0) expect((await fixture.admin('GET', '/health')).status).toBe('ok');
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    expect((await fixture.admin('GET', '/health')).status).toBe('ok');
    expect(fixture.server.log.filter((line) => line.startsWith('error:'))).toEqual([]);
  }, 240_000);
});

describe('requests that are not valid HTTP', () => {
  /** Writes `raw` on a fresh connection and returns what comes back before the server closes it. */
  function rawExchange(raw: string): Promise<string> {
    const url = new URL(fixture.server.base);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname);
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      socket.end(raw);
    });
  }

  it.each([
    ['garbage', 'GARBAGE\r\n\r\n'],
    ['a control byte in a header', `GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n`],
    ['headers over the limit', `GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
    [
      'a body with two lengths',
      'POST /api/v1/webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
    ],
  ])('%s is answered 400 in the API error format', async (_what, raw) => {
    const answer = await rawExchange(raw);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string } };
    expect(body.error.code).toBe('bad_request');
    expect((await fixture.admin('GET', '/health')).status).toBe('ok');
  });
});

describe('credentials at rest and in the log', () => {
  it('no token, session secret or receiver credential is in a log line or a data file in plain text', async () => {
    const secrets = [
      ENV_ADMIN_TOKEN,
      ...Object.values(fixture.tokens),
      ...Object.values(cookies).map((c) => c.split('=')[1]),
      ...signInTokens,
      fixture.server.adminToken,
    ];
    for (const line of fixture.server.log) for (const secret of secrets) expect(line).not.toContain(secret);
    const files: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else files.push(path);
      }
    };
    await walk(fixture.server.dataDir);
    expect(files.map((f) => f.slice(fixture.server.dataDir.length))).toEqual(
      expect.arrayContaining(['/db.json', '/labhook.lock']),
    );
    for (const file of files) {
      // A write in flight renames its temporary file over db.json between the listing and the read.
      const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' && file.endsWith('.tmp')) return '';
        throw error;
      });
      for (const secret of secrets) expect(text, file).not.toContain(secret);
      // The receiver's credential is configuration (db.json); the delivery log keeps it masked.
      if (file.includes('/deliveries/')) expect(text, file).not.toContain('fixture-receiver-credential');
    }
  });
});
