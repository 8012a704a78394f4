import { describe, expect, it } from 'vitest';
import { WebhookCreate, WebhookPatch } from '../../electron/core/api/schemas.js';
import { fieldErrors } from '../../electron/core/api/errors.js';

const valid = { name: 'Device offline', url: 'https://hooks.example.com/labhook', events: ['offline'] };

function errorsOf(
  input: unknown,
  schema: typeof WebhookCreate | typeof WebhookPatch = WebhookCreate,
): Record<string, string> {
  const result = schema.safeParse(input);
  return result.success ? {} : fieldErrors(result.error);
}

describe('webhook name', () => {
  it('is required', () => {
    expect(errorsOf({ ...valid, name: undefined }).name).toBe('Webhook Name is required');
    expect(errorsOf({ ...valid, name: '' }).name).toBe('Webhook Name is required');
    expect(errorsOf({ ...valid, name: '   ' }).name).toBe('Webhook Name is required');
  });
  it('allows 50 characters and refuses 51, after trimming', () => {
    expect(errorsOf({ ...valid, name: 'n'.repeat(50) })).toEqual({});
    expect(errorsOf({ ...valid, name: ` ${'n'.repeat(50)} ` })).toEqual({});
    expect(errorsOf({ ...valid, name: 'n'.repeat(51) }).name).toBe('Webhook Name must be at most 50 characters');
  });
  it('allows 1 character and keeps case', () => {
    expect(WebhookCreate.parse({ ...valid, name: 'a' }).name).toBe('a');
    expect(WebhookCreate.parse({ ...valid, name: 'Device OFFLINE' }).name).toBe('Device OFFLINE');
  });
  it('must be text', () => {
    expect(errorsOf({ ...valid, name: 42 }).name).toBe('Webhook Name is required');
  });
});

describe('webhook url', () => {
  it('is required', () => {
    expect(errorsOf({ ...valid, url: undefined }).url).toBe('URL is required');
    expect(errorsOf({ ...valid, url: '' }).url).toBe('URL is required');
  });
  it('allows 512 characters and refuses 513', () => {
    const base = 'https://example.com/';
    expect(errorsOf({ ...valid, url: base + 'a'.repeat(512 - base.length) })).toEqual({});
    expect(errorsOf({ ...valid, url: base + 'a'.repeat(513 - base.length) }).url).toBe(
      'URL must be at most 512 characters',
    );
  });
  it('must be valid http or https syntax', () => {
    expect(errorsOf({ ...valid, url: 'not a url' }).url).toBe('URL must be a valid http or https URL');
    expect(errorsOf({ ...valid, url: 'ftp://example.com/' }).url).toBe('URL must start with http:// or https://');
    expect(errorsOf({ ...valid, url: 'javascript:alert(1)' }).url).toBe('URL must start with http:// or https://');
    expect(errorsOf({ ...valid, url: 'http://user:pw@example.com/' }).url).toMatch(/credentials/);
    expect(errorsOf({ ...valid, url: 'http://10.0.0.5:8080/hook' })).toEqual({});
    expect(errorsOf({ ...valid, url: 'http://lab-ci.local/hook' })).toEqual({});
  });
  it('refuses link-local and cloud metadata addresses', () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data',
      'http://169.254.1.1/',
      'http://[fe80::1]/',
      'http://[febf::1]/',
      'http://[::ffff:169.254.169.254]/',
      'http://metadata.google.internal/',
      'http://100.100.100.200/',
      'http://[fd00:ec2::254]/',
    ]) {
      expect(errorsOf({ ...valid, url }).url, url).toMatch(/link-local or cloud metadata/);
    }
    for (const url of [
      'http://169.253.255.255/',
      'http://169.255.0.1/',
      'http://[fec0::1]/',
      'http://[::1]:8080/',
      'http://127.0.0.1/',
    ]) {
      expect(errorsOf({ ...valid, url }), url).toEqual({});
    }
  });
});

describe('webhook description', () => {
  it('is optional, allows 512 characters and refuses 513', () => {
    expect(WebhookCreate.parse(valid).description).toBe('');
    expect(errorsOf({ ...valid, description: 'd'.repeat(512) })).toEqual({});
    expect(errorsOf({ ...valid, description: 'd'.repeat(513) }).description).toBe(
      'Description must be at most 512 characters',
    );
  });
});

describe('webhook events', () => {
  it('needs at least one', () => {
    expect(errorsOf({ ...valid, events: [] }).events).toBe('Enable at least one event');
    expect(errorsOf({ ...valid, events: undefined }).events).toMatch(/Events must be a list/);
  });
  it('takes only the four events, deduplicated in a fixed order', () => {
    expect(errorsOf({ ...valid, events: ['online', 'rebooted'] })).toEqual({
      events: '"rebooted" is not an event; choose online, offline, utilizing or unplugged',
    });
    expect(errorsOf({ ...valid, events: ['online', 7] })).toEqual({
      events: 'That is not an event; choose online, offline, utilizing or unplugged',
    });
    expect(WebhookCreate.parse({ ...valid, events: ['unplugged', 'online', 'online'] }).events).toEqual([
      'online',
      'unplugged',
    ]);
  });
});

describe('beyond Kobiton', () => {
  it('defaults: enabled, all devices, no headers', () => {
    expect(WebhookCreate.parse(valid)).toMatchObject({ enabled: true, devices: null, headers: {} });
  });
  it('scopes to a list of UDIDs or null', () => {
    expect(WebhookCreate.parse({ ...valid, devices: ['a', 'b', 'a'] }).devices).toEqual(['a', 'b']);
    expect(errorsOf({ ...valid, devices: [] }).devices).toMatch(/at least one device/);
    expect(errorsOf({ ...valid, devices: ['a', ''] })).toEqual({ devices: 'A device UDID cannot be empty' });
    expect(errorsOf({ ...valid, devices: ['a', 5] })).toEqual({ devices: 'A device UDID must be text' });
    expect(errorsOf({ ...valid, devices: 'all' }).devices).toMatch(/null \(all devices\)/);
  });
  it('validates custom header names and values, each error keyed by its header row', () => {
    expect(errorsOf({ ...valid, headers: { Authorization: 'Bearer x' } })).toEqual({});
    const only = (headers: Record<string, unknown>) => Object.entries(errorsOf({ ...valid, headers }));
    expect(only({ ok: 'x', 'bad name': 'x' })).toEqual([['headers.bad name', expect.stringMatching(/not a valid/)]]);
    expect(only({ 'x-a': 'line\r\nbreak' })).toEqual([['headers.x-a', expect.stringMatching(/invalid value/)]]);
    expect(only({ 'x-a': 'café' })).toEqual([['headers.x-a', expect.stringMatching(/invalid value/)]]);
    expect(only({ 'Webhook-Signature': 'x' })).toEqual([
      ['headers.Webhook-Signature', expect.stringMatching(/set by Labhook/)],
    ]);
    expect(only({ 'Content-Type': 'text/plain' })).toEqual([
      ['headers.Content-Type', expect.stringMatching(/set by Labhook/)],
    ]);
    expect(only({ 'X-A': '1', 'x-a': '2' })).toEqual([['headers.x-a', expect.stringMatching(/given twice/)]]);
    expect(only({ 'x-a': 1 })).toEqual([['headers.x-a', expect.stringMatching(/text/)]]);
    const many = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`x-${i}`, 'v']));
    expect(only(many)).toEqual([['headers', 'At most 20 custom headers']]);
  });
  it('keys an unknown field called __proto__ like any other', () => {
    const errors = errorsOf(
      JSON.parse('{"__proto__": 1, "name": "a", "url": "http://x.example/", "events": ["online"]}'),
    );
    expect(Object.entries(errors)).toEqual([['__proto__', 'Unknown field: __proto__']]);
  });
  it('patch takes any subset with the same rules', () => {
    expect(errorsOf({}, WebhookPatch)).toEqual({});
    expect(errorsOf({ name: 'n'.repeat(51) }, WebhookPatch).name).toBe('Webhook Name must be at most 50 characters');
    expect(errorsOf({ events: [] }, WebhookPatch).events).toBe('Enable at least one event');
  });
});
