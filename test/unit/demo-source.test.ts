import { afterEach, describe, expect, it } from 'vitest';
import { DEVICE_STATUSES } from '../../electron/core/api/schemas.js';
import { memoryLogger } from '../../electron/core/log.js';
import type { StatusChange } from '../../electron/core/devices/model.js';
import { DemoSource } from '../../electron/core/devices/sources/demo.js';
import { eventFor } from '../../electron/core/devices/status-rules.js';
import { DeviceTracker } from '../../electron/core/devices/tracker.js';
import { waitFor } from '../helpers/wait.js';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

function setUp(count: number, stepMs: number) {
  const tracker = new DeviceTracker({ initial: [], persist: () => {}, log: memoryLogger() });
  const changes: StatusChange[] = [];
  tracker.on('change', (c) => changes.push(c));
  const log = memoryLogger();
  const demo = new DemoSource({ count, sink: tracker, log, stepMs, random: () => 0.5 });
  stops.push(
    () => tracker.shutdown(),
    () => demo.shutdown(),
  );
  return { tracker, changes, demo, log };
}

describe('DemoSource', () => {
  it('every simulated phone goes through every status, by the tracker’s rules', async () => {
    const { tracker, changes, demo, log } = setUp(5, 15);
    expect(demo.status().state).toBe('off');
    await demo.boot();
    expect(demo.status()).toEqual({ state: 'running', detail: '5 simulated phones' });
    expect(log.lines).toContain('info: demo: 5 simulated phones');
    // Staggered: they start at different points of the cycle (the fifth one unplugged, so not listed yet).
    expect(tracker.devices().map((d) => d.status)).toEqual(['online', 'utilizing', 'online', 'offline']);

    const udids = ['demo-01', 'demo-02', 'demo-03', 'demo-04', 'demo-05'];
    await waitFor('every phone to reach every status', () =>
      udids.every((u) => DEVICE_STATUSES.every((s) => changes.some((c) => c.udid === u && c.to === s))),
    );
    await demo.shutdown();

    for (const udid of udids) {
      const own = changes.filter((c) => c.udid === udid);
      own.forEach((c, i) => {
        if (i > 0) expect(c.sequence).toBeGreaterThan(own[i - 1].sequence);
        expect(c.event).toBe(eventFor(c.from, c.to));
        if (i > 0) expect(c.from).toBe(own[i - 1].to);
      });
      // A session ending (utilizing → online) is a change without an event.
      expect(own.some((c) => c.from === 'utilizing' && c.to === 'online' && c.event === null)).toBe(true);
    }
    expect(tracker.devices().map((d) => [d.udid, d.name, d.platform, d.simulated])).toEqual([
      ['demo-01', 'Demo Pixel 7', 'android', true],
      ['demo-02', 'Demo iPhone 15', 'ios', true],
      ['demo-03', 'Demo Galaxy S23', 'android', true],
      ['demo-04', 'Demo iPad Air', 'ios', true],
      ['demo-05', 'Demo Pixel 8 Pro', 'android', true],
    ]);
    expect(changes.every((c) => c.simulated)).toBe(true);
  });

  it('a utilizing demo phone carries its demo session', async () => {
    const { tracker, demo } = setUp(2, 60_000);
    await demo.boot();
    // Phone 2 starts at the second point of the cycle: utilizing.
    expect(tracker.device('demo-02')).toMatchObject({
      status: 'utilizing',
      transports: ['demo'],
      sessions: [{ udid: 'demo-02', source: 'demo', label: 'Demo session', expiresAt: null }],
    });
    expect(tracker.device('demo-01')?.status).toBe('online');
  });

  it('stops changing after shutdown, and reports nothing on the way out', async () => {
    const { changes, demo } = setUp(4, 10);
    await demo.boot();
    await waitFor('a few changes', () => changes.length > 6);
    await demo.shutdown();
    const count = changes.length;
    expect(demo.status().state).toBe('off');
    await new Promise((r) => setTimeout(r, 60));
    expect(changes).toHaveLength(count);
  });

  it('pads udids to the count', () => {
    const tracker = new DeviceTracker({ initial: [], persist: () => {} });
    const demo = new DemoSource({ count: 120, sink: tracker, log: memoryLogger() });
    stops.push(
      () => demo.shutdown(),
      () => tracker.shutdown(),
    );
    return demo.boot().then(() => {
      expect(tracker.devices()[0].udid).toBe('demo-001');
      expect(tracker.device('demo-119')?.name).toBe('Demo Pixel 8 Pro');
      expect(tracker.devices()).toHaveLength(96); // every fifth starts unplugged
    });
  });
});
