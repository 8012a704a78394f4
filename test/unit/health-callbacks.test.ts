/**
 * Health callbacks and label scopes, pure parts: the callback a health event makes (Kobiton's nine
 * keys, the warning in a header), which webhooks a device is in scope for, and the monitor turning
 * a flapping device into one debounced warning.
 */
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HEALTH_SETTINGS, WARNING_CODES } from '../../electron/core/api/schemas.js';
import { buildCallback, eventActivity, healthEvent, parseHealthEvent } from '../../electron/core/delivery/payload.js';
import { HealthMonitor, type HealthTransition } from '../../electron/core/devices/health/monitor.js';
import { DeviceTracker } from '../../electron/core/devices/tracker.js';
import { memoryLogger } from '../../electron/core/log.js';
import { inScope } from '../../electron/core/webhooks/model.js';
import { KOBITON_BODY_KEYS, makeWebhook } from '../helpers/delivery-fixtures.js';

describe('health callbacks', () => {
  const facts = (event: ReturnType<typeof healthEvent>) => ({
    eventId: 'evt_1',
    event,
    udid: 'R58M1234ABC',
    deviceName: 'Pixel 8',
    sequence: 4,
    observedAt: '2026-12-01T10:00:00.000Z',
  });

  it('a warning: the nine keys, its activity, the code and summary in labhook-health-warning, signed', () => {
    const webhook = makeWebhook({ id: 3, url: 'http://127.0.0.1:9/x', healthCallbacks: true });
    const callback = buildCallback(facts(healthEvent('warning', 'flapping')), webhook, { id: 2 }, '0.1.0', Date.now());
    const body = JSON.parse(callback.body) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(KOBITON_BODY_KEYS);
    expect(body).toMatchObject({
      eventType: 'DEVICE',
      eventActivity: 'device.health.warning',
      eventDescription: 'Health warning',
      deviceUdid: 'R58M1234ABC',
    });
    expect(callback.headers['labhook-health-warning']).toBe('flapping; Possible hardware fault: cable, port or hub');
    expect(callback.headers['labhook-sequence']).toBe('4');
    expect(() => new StandardWebhook(webhook.secret).verify(callback.body, callback.headers)).not.toThrow();
  });

  it('cleared, and status events carry no health header', () => {
    const webhook = makeWebhook({ id: 3, url: 'http://127.0.0.1:9/x' });
    const cleared = buildCallback(
      facts(healthEvent('cleared', 'battery_hot')),
      webhook,
      { id: 2 },
      '0.1.0',
      Date.now(),
    );
    expect(JSON.parse(cleared.body)).toMatchObject({
      eventActivity: 'device.health.cleared',
      eventDescription: 'Health warning cleared',
    });
    expect(cleared.headers['labhook-health-warning']).toBe('battery_hot; Battery temperature above the limit');
    const status = buildCallback(
      { ...facts(healthEvent('warning', 'flapping')), event: 'offline' },
      webhook,
      { id: 2 },
      '0.1.0',
      0,
    );
    expect(status.headers['labhook-health-warning']).toBeUndefined();
    expect(eventActivity('offline')).toBe('device.status.offline');
  });

  it('every header value is printable ASCII', () => {
    for (const code of WARNING_CODES) {
      const header = buildCallback(
        facts(healthEvent('warning', code)),
        makeWebhook({ id: 1, url: 'http://127.0.0.1:9/' }),
        { id: 1 },
        '0.1.0',
        0,
      ).headers['labhook-health-warning'];
      expect(header).toMatch(/^[\x20-\x7e]+$/);
    }
  });

  it('parses only what it makes', () => {
    expect(parseHealthEvent('health.warning:flapping')).toEqual({ kind: 'warning', code: 'flapping' });
    expect(parseHealthEvent('online')).toBeNull();
    expect(parseHealthEvent('health.warning:nonsense' as never)).toBeNull();
  });
});

describe('scope', () => {
  const scoped = (devices: string[] | null, labels: string[] | null) => ({ devices, labels });
  it('all devices when neither is set; else a listed UDID or a listed label', () => {
    expect(inScope(scoped(null, null), 'A', [])).toBe(true);
    expect(inScope(scoped(['A'], null), 'A', [])).toBe(true);
    expect(inScope(scoped(['A'], null), 'B', ['rack-a'])).toBe(false);
    expect(inScope(scoped(null, ['rack-a']), 'B', ['team-x', 'rack-a'])).toBe(true);
    expect(inScope(scoped(null, ['rack-a']), 'B', ['Rack-A'])).toBe(false);
    expect(inScope(scoped(['A'], ['rack-a']), 'B', ['rack-a'])).toBe(true);
    expect(inScope(scoped(['A'], ['rack-a']), 'C', [])).toBe(false);
  });
  it('either spelling of an iPhone UDID', () => {
    expect(inScope(scoped(['00008030-001A2C3E0C38802E'], null), '00008030001a2c3e0c38802e', [])).toBe(true);
  });
});

describe('the monitor on a flapping device', () => {
  it('raises one flapping warning past the threshold, and clears it once the flaps leave the hour and the debounce passed', async () => {
    let now = 5_000_000;
    const log = memoryLogger();
    const tracker = new DeviceTracker({ initial: [], persist: () => {}, now: () => now, log });
    const monitor = new HealthMonitor({
      host: tracker,
      readers: {},
      thresholds: () => DEFAULT_HEALTH_SETTINGS,
      debounceMs: 60_000,
      now: () => now,
      log,
    });
    const transitions: HealthTransition[] = [];
    monitor.on('transition', (t) => transitions.push(t));
    tracker.reconcile();
    await monitor.boot();
    const ready = [{ key: 'S1', udid: 'S1', state: 'ready' as const, platform: 'android' as const }];
    for (let i = 0; i < 11; i++) {
      tracker.reportPresences('adb', ready);
      now += 1000;
      tracker.reportPresences('adb', []);
      now += 1000;
      if (i === 9) expect(transitions).toEqual([]);
    }
    expect(transitions.map((t) => `${t.kind}:${t.code}`)).toEqual(['warning:flapping']);
    // It carries the sequence of the status the device is in.
    expect(transitions[0]).toMatchObject({ udid: 'S1', sequence: tracker.healthOf('S1')?.sequence });
    // Flapping on: still one warning.
    tracker.reportPresences('adb', ready);
    tracker.reportPresences('adb', []);
    expect(transitions).toHaveLength(1);
    expect(tracker.device('S1')?.health.warnings.map((w) => w.code)).toEqual(['flapping']);

    now += 60 * 60 * 1000;
    monitor.review();
    expect(tracker.device('S1')?.health.warnings).toEqual([]);
    expect(transitions).toHaveLength(1);
    now += 60_000;
    monitor.review();
    expect(transitions.map((t) => `${t.kind}:${t.code}`)).toEqual(['warning:flapping', 'cleared:flapping']);
    await monitor.shutdown();
    await tracker.shutdown();
  });
});
