import { Webhook as StandardWebhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  buildCallback,
  eventActivity,
  loggedRequest,
  type CallbackFacts,
} from '../../electron/core/delivery/payload.js';
import { parseRetryAfter, parseRetrySchedule, withJitter } from '../../electron/core/delivery/schedule.js';
import { checkedLookup } from '../../electron/core/delivery/sender.js';
import { MASK } from '../../electron/core/api/masking.js';
import { KOBITON_BODY_KEYS, makeWebhook, newSecret } from '../helpers/delivery-fixtures.js';

const facts: CallbackFacts = {
  eventId: 'c0ffee00-1111-4222-8333-444455556666',
  event: 'utilizing',
  udid: 'ce0917198075440c057e',
  deviceName: 'Galaxy Note 8',
  sequence: 7,
  observedAt: '2023-01-06T04:52:36.001Z',
};

describe('callback body', () => {
  it('has exactly Kobiton nine keys with their formats', () => {
    const webhook = makeWebhook({ id: 129, url: 'http://127.0.0.1:1/x', name: 'Webhook for All events' });
    const now = Date.parse('2023-01-06T04:52:36.963Z');
    const { body, headers } = buildCallback(facts, webhook, { id: 2 }, '1.2.3', now);
    expect(JSON.parse(body)).toStrictEqual({
      creationTime: '2023-01-06T04:52:36.963Z',
      eventType: 'DEVICE',
      eventActivity: 'device.state.utilizing',
      eventDescription: 'Utilizing',
      deviceUdid: 'ce0917198075440c057e',
      deviceName: 'Galaxy Note 8',
      orgId: 2,
      webhookId: 129,
      webhookName: 'Webhook for All events',
    });
    expect(Object.keys(JSON.parse(body))).toEqual(KOBITON_BODY_KEYS);
    expect(headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'Labhook/1.2.3',
      'webhook-id': facts.eventId,
      'webhook-timestamp': String(Math.floor(now / 1000)),
      'labhook-event-time': facts.observedAt,
      'labhook-sequence': '7',
    });
  });

  it('maps each event to its activity and description', () => {
    const expected = {
      online: ['device.status.online', 'Online'],
      offline: ['device.status.offline', 'Offline'],
      utilizing: ['device.state.utilizing', 'Utilizing'],
      unplugged: ['device.state.unplugged', 'Unplugged'],
    } as const;
    const webhook = makeWebhook({ id: 1, url: 'http://127.0.0.1:1/' });
    for (const [event, [activity, description]] of Object.entries(expected)) {
      const body = JSON.parse(
        buildCallback({ ...facts, event: event as keyof typeof expected }, webhook, { id: 0 }, 'x', Date.now()).body,
      );
      expect([body.eventActivity, body.eventDescription]).toEqual([activity, description]);
      expect(eventActivity(event as keyof typeof expected)).toBe(activity);
    }
  });

  it('adds custom headers but never lets them replace ours, and masks credentials in the log', () => {
    const webhook = makeWebhook({
      id: 1,
      url: 'http://127.0.0.1:1/',
      headers: { Authorization: 'Bearer s3cret', 'X-Team': 'qa', 'Webhook-Id': 'forged' },
    });
    const { headers } = buildCallback(facts, webhook, { id: 0 }, 'x', Date.now());
    expect(headers['authorization']).toBe('Bearer s3cret');
    expect(headers['x-team']).toBe('qa');
    expect(headers['webhook-id']).toBe(facts.eventId);
    const logged = loggedRequest({ url: webhook.url, headers, body: '' }).headers;
    expect(logged['authorization']).toBe(MASK);
    expect(logged['x-team']).toBe(MASK);
    expect(logged['webhook-id']).toBe(facts.eventId);
    expect(logged['webhook-signature']).toBe(headers['webhook-signature']);
  });
});

describe('signature', () => {
  it('verifies with the standardwebhooks package', () => {
    const webhook = makeWebhook({ id: 5, url: 'http://127.0.0.1:1/' });
    const { body, headers } = buildCallback(facts, webhook, { id: 3 }, '0.1.0', Date.now());
    expect(new StandardWebhook(webhook.secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new StandardWebhook(newSecret()).verify(body, headers)).toThrow();
    expect(() => new StandardWebhook(webhook.secret).verify(body.replace('Galaxy', 'Galaxx'), headers)).toThrow();
  });

  it('carries both signatures during a rotation, each verifiable alone, and only the new one after it', () => {
    const old = newSecret();
    const webhook = makeWebhook({
      id: 5,
      url: 'http://127.0.0.1:1/',
      previousSecret: { secret: old, expiresAt: new Date(Date.now() + 3600_000).toISOString() },
    });
    const { body, headers } = buildCallback(facts, webhook, { id: 3 }, '0.1.0', Date.now());
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new StandardWebhook(webhook.secret).verify(body, headers)).toBeTruthy();
    expect(new StandardWebhook(old).verify(body, headers)).toBeTruthy();

    const expired = {
      ...webhook,
      previousSecret: { secret: old, expiresAt: new Date(Date.now() - 1000).toISOString() },
    };
    const later = buildCallback(facts, expired, { id: 3 }, '0.1.0', Date.now());
    expect(later.headers['webhook-signature'].split(' ')).toHaveLength(1);
    expect(() => new StandardWebhook(old).verify(later.body, later.headers)).toThrow();
  });
});

describe('retry schedule', () => {
  it('parses the default schedule', () => {
    expect(parseRetrySchedule('0s,5s,5m,30m,2h,5h,10h,10h')).toEqual([
      0, 5000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
    expect(parseRetrySchedule(' 0ms, 50ms ,1.5s,1d')).toEqual([0, 50, 1500, 86_400_000]);
  });

  it('rejects bad input with a message naming the problem', () => {
    expect(() => parseRetrySchedule('')).toThrow(/comma-separated/);
    expect(() => parseRetrySchedule('0s,,5s')).toThrow(/comma-separated/);
    expect(() => parseRetrySchedule('0s,5x')).toThrow(/"5x" is not a delay/);
    expect(() => parseRetrySchedule('5')).toThrow(/"5" is not a delay/);
    expect(() => parseRetrySchedule('-5s')).toThrow(/not a delay/);
    expect(() => parseRetrySchedule('8d')).toThrow(/longer than 7 days/);
    expect(() => parseRetrySchedule(Array(51).fill('1s').join(','))).toThrow(/at most 50/);
  });

  it('jitters non-zero waits within the bound and leaves zero alone', () => {
    expect(withJitter(0, 0.1, () => 1)).toBe(0);
    expect(withJitter(1000, 0.1, () => 0)).toBe(900);
    expect(withJitter(1000, 0.1, () => 1)).toBe(1100);
    expect(withJitter(1000, 0, () => 1)).toBe(1000);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2024-05-01T10:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 01 May 2024 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 01 May 2024 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
    expect(parseRetryAfter('99999999', now)).toBe(86_400_000);
  });
});

describe('checked lookup', () => {
  const lookupWith = (addresses: Array<{ address: string; family: number }>) =>
    checkedLookup((_host, _options, callback) => callback(null, addresses));
  const run = (lookup: ReturnType<typeof checkedLookup>, all: boolean) =>
    new Promise<{ error: Error | null; address: unknown }>((resolve) =>
      lookup('receiver.lab', { all }, (error, address) => resolve({ error, address })),
    );

  it('refuses a name when any of its addresses is link-local or metadata', async () => {
    for (const bad of ['169.254.169.254', 'fe80::1', 'fd00:ec2::254', '100.100.100.200']) {
      const { error } = await run(
        lookupWith([
          { address: '10.0.0.5', family: 4 },
          { address: bad, family: bad.includes(':') ? 6 : 4 },
        ]),
        true,
      );
      expect(error?.message).toContain(bad);
    }
  });

  it('passes LAN and loopback addresses through, in both lookup forms', async () => {
    const lookup = lookupWith([
      { address: '192.168.1.20', family: 4 },
      { address: '::1', family: 6 },
    ]);
    expect(await run(lookup, true)).toEqual({
      error: null,
      address: [
        { address: '192.168.1.20', family: 4 },
        { address: '::1', family: 6 },
      ],
    });
    expect(await run(lookup, false)).toEqual({ error: null, address: '192.168.1.20' });
  });

  it('passes a resolver error through', async () => {
    const failing = checkedLookup((_h, _o, callback) =>
      callback(Object.assign(new Error('getaddrinfo ENOTFOUND receiver.lab'), { code: 'ENOTFOUND' }), []),
    );
    const { error } = await run(failing, false);
    expect(error?.message).toContain('ENOTFOUND');
  });

  it('resolves localhost through the system resolver', async () => {
    const local = await new Promise<{ error: Error | null; address: unknown }>((resolve) =>
      checkedLookup()('localhost', { all: true }, (e, a) => resolve({ error: e, address: a })),
    );
    expect(local.error).toBeNull();
    expect((local.address as Array<{ address: string }>).length).toBeGreaterThan(0);
  });
});
