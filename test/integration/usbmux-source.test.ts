import { afterEach, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { memoryLogger } from '../../electron/core/log.js';
import type { DeviceSink, Presence, SessionClaim } from '../../electron/core/devices/model.js';
import { UsbmuxSource } from '../../electron/core/devices/sources/usbmux.js';
import { UsbmuxdPeer, frame } from '../peers/usbmuxd.js';

interface Report {
  at: number;
  presences: Presence[];
}

function recordingSink(): DeviceSink & { reports: Report[]; last(): Presence[] | undefined } {
  const reports: Report[] = [];
  return {
    reports,
    last: () => reports.at(-1)?.presences,
    reportPresences(source, presences) {
      expect(source).toBe('usbmux');
      reports.push({ at: performance.now(), presences: [...presences] });
    },
    reportSessions(_source: string, _sessions: readonly SessionClaim[]) {
      throw new Error('usbmux reports no sessions');
    },
  };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const udids = (presences: Presence[] | undefined) => (presences ?? []).map((p) => p.udid).sort();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(options: { startPeer?: boolean } = {}) {
  const peer = new UsbmuxdPeer();
  cleanups.push(() => peer.dispose());
  if (options.startPeer !== false) await peer.start();
  const sink = recordingSink();
  const log = memoryLogger();
  const source = new UsbmuxSource({ socketPath: peer.socketPath, sink, log });
  cleanups.push(() => source.shutdown());
  return { peer, sink, log, source };
}

const IPHONE = '00008030-001A35E80C42802E';
const IPAD = '00008027-000C19A83E38002E';
const OLD_IPHONE = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

describe('UsbmuxSource against a usbmuxd-speaking peer', () => {
  it('sends Listen, then reports Attached and Detached devices as presences', async () => {
    const { peer, sink, source } = await setup();
    await peer.attach({ udid: IPHONE });
    await source.boot();
    await waitFor('the present iPhone', () => udids(sink.last()).includes(IPHONE));

    expect(peer.requests).toHaveLength(1);
    const listen = peer.requests[0]!.message;
    expect(listen).toMatchObject({ MessageType: 'Listen', ProgName: 'Labhook', kLibUSBMuxVersion: 3 });
    expect(typeof listen.ClientVersionString).toBe('string');
    expect(sink.last()).toEqual([{ key: 'usbmux:1', udid: IPHONE, state: 'ready', platform: 'ios', name: 'iPhone', detail: 'USB' }]);
    expect(source.status().state).toBe('running');

    const [ipadId] = await peer.attach({ udid: IPAD, productId: 0x12ab });
    await waitFor('the iPad', () => udids(sink.last()).includes(IPAD));
    expect(sink.last()!.find((p) => p.udid === IPAD)).toMatchObject({ key: `usbmux:${ipadId}`, name: 'iPad' });
    expect(udids(sink.last())).toEqual([IPHONE, IPAD].sort());

    await peer.detach(peer.idOf(IPHONE)!);
    await waitFor('the iPhone to go', () => !udids(sink.last()).includes(IPHONE));
    expect(udids(sink.last())).toEqual([IPAD]);

    await peer.detach(ipadId!);
    await waitFor('an empty list', () => sink.last()?.length === 0);
  });

  it('reads several frames in one chunk and frames cut into pieces', async () => {
    const { peer, sink, source } = await setup();
    await source.boot();
    await waitFor('the first, settled report', () => sink.reports.length === 1);
    expect(sink.last()).toEqual([]);

    const before = sink.reports.length;
    await peer.attach({ udid: IPHONE }, { udid: IPAD, productId: 0x12ab }, { udid: OLD_IPHONE, connectionType: 'Network' });
    await waitFor('three devices', () => sink.last()?.length === 3);
    // One write carried three frames; each was still read on its own.
    expect(sink.reports.length - before).toBe(3);
    expect(sink.last()!.find((p) => p.udid === OLD_IPHONE)).toMatchObject({ name: 'iOS device', detail: 'Network' });

    peer.delivery = 'split';
    await peer.detach(peer.idOf(IPHONE)!, peer.idOf(IPAD)!);
    await waitFor('one device left', () => sink.last()?.length === 1);
    expect(udids(sink.last())).toEqual([OLD_IPHONE]);
    await peer.attach({ udid: IPHONE });
    await waitFor('the iPhone again', () => udids(sink.last()).includes(IPHONE));
    expect(source.status().state).toBe('running');
  });

  it('reads the Result and the Attached burst when they arrive a few bytes at a time', async () => {
    const { peer, sink, source } = await setup();
    await peer.attach({ udid: IPHONE }, { udid: IPAD, productId: 0x12ab });
    peer.delivery = 'split';
    await source.boot();
    await waitFor('both devices', () => sink.last()?.length === 2, 20_000);
    expect(udids(sink.last())).toEqual([IPHONE, IPAD].sort());
  });

  it('survives a daemon restart without reporting present devices gone', async () => {
    const { peer, sink, source, log } = await setup();
    const [first] = await peer.attach({ udid: OLD_IPHONE }, { udid: IPHONE }, { udid: IPAD, productId: 0x12ab });
    await peer.detach(first!);
    await source.boot();
    await waitFor('two devices', () => sink.last()?.length === 2);
    const settledAt = sink.reports.length;
    expect(sink.last()!.map((p) => p.key).sort()).toEqual(['usbmux:2', 'usbmux:3']);

    await peer.stop();
    await waitFor('unavailable', () => source.status().state === 'unavailable');
    expect(source.status().detail).toContain('retrying');
    await peer.start();
    await waitFor('listening again', () => peer.listenerCount === 1 && source.status().state === 'running');
    // The restarted daemon numbered the devices afresh; the new keys arrive in one settled report.
    await waitFor('the renumbered list', () => sink.last()!.map((p) => p.key).sort().join() === 'usbmux:1,usbmux:2');
    for (const report of sink.reports.slice(settledAt)) expect(udids(report.presences)).toEqual([IPHONE, IPAD].sort());
    expect(log.lines.filter((l) => l.startsWith('warn:'))).toHaveLength(1);
    expect(log.lines.some((l) => l.includes('is back'))).toBe(true);

    await peer.attach({ udid: OLD_IPHONE });
    await waitFor('a device attached after the restart', () => sink.last()?.length === 3);
  });

  it('reports the devices gone when the daemon stays away', async () => {
    const { peer, sink, source } = await setup();
    await peer.attach({ udid: IPHONE });
    await source.boot();
    await waitFor('the iPhone', () => sink.last()?.length === 1);
    await peer.stop();
    await waitFor('the list emptied after the hold', () => sink.last()?.length === 0, 20_000);
    expect(source.status().state).toBe('unavailable');
  });

  it('without a socket: unavailable with one clear line, no crash, and picks the daemon up when it appears', async () => {
    const { peer, sink, source, log } = await setup({ startPeer: false });
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    cleanups.push(async () => void process.off('unhandledRejection', onRejection));

    await source.boot();
    await waitFor('unavailable', () => source.status().detail.includes('not running'));
    expect(source.status()).toEqual({ state: 'unavailable', detail: `usbmuxd is not running (no socket at ${peer.socketPath}); retrying` });
    // Retries run at 1 s and 3 s; the outage is still one line.
    await sleep(3500);
    const warnings = log.lines.filter((l) => l.startsWith('warn:'));
    expect(warnings).toEqual([`warn: iOS devices: usbmuxd is not running (no socket at ${peer.socketPath}); retrying in the background`]);
    expect(sink.reports).toHaveLength(0);

    await peer.attach({ udid: IPHONE });
    await peer.start();
    await waitFor('the daemon picked up', () => udids(sink.last()).includes(IPHONE), 20_000);
    expect(source.status().state).toBe('running');
    expect(rejections).toEqual([]);
  });

  it('a refused Listen or a broken frame makes it reconnect, not crash', async () => {
    const { peer, sink, source } = await setup();
    peer.listenResult = 3;
    await source.boot();
    await waitFor('the refusal', () => source.status().detail.includes('refused Listen (result 3)'));
    expect(source.status().state).toBe('unavailable');
    peer.listenResult = 0;
    await peer.attach({ udid: IPAD, productId: 0x12ab });
    await waitFor('listening after the refusal', () => udids(sink.last()).includes(IPAD), 20_000);

    const bad = Buffer.alloc(16);
    bad.writeUInt32LE(4, 0);
    await peer.sendRaw(bad);
    await waitFor('the broken frame noticed', () => source.status().state === 'unavailable' || peer.requests.length > 2);
    await waitFor('listening again', () => source.status().state === 'running' && peer.listenerCount === 1);
    expect(udids(sink.last())).toEqual([IPAD]);
    // A frame of another type (not plist) is skipped, the rest still read.
    const binary = Buffer.alloc(20);
    binary.writeUInt32LE(20, 0);
    binary.writeUInt32LE(0, 4);
    binary.writeUInt32LE(1, 8);
    await peer.sendRaw(Buffer.concat([binary, frame({ MessageType: 'Detached', DeviceID: peer.idOf(IPAD)! }, 0)]));
    await waitFor('the detach after the binary frame', () => sink.last()?.length === 0);
  });

  it('measures peer change → sink report for 20 attach/detach cycles', async () => {
    const { peer, sink, source } = await setup();
    await source.boot();
    await waitFor('listening', () => source.status().state === 'running' && peer.listenerCount === 1);
    await waitFor('settled', () => sink.reports.length > 0);
    const attach: number[] = [];
    const detach: number[] = [];
    for (let i = 0; i < 20; i++) {
      let count = sink.reports.length;
      let start = performance.now();
      const [id] = await peer.attach({ udid: `${IPHONE}-${i}` });
      await waitFor('attach', () => sink.reports.length > count);
      attach.push(sink.reports[count]!.at - start);
      count = sink.reports.length;
      start = performance.now();
      await peer.detach(id!);
      await waitFor('detach', () => sink.reports.length > count);
      detach.push(sink.reports[count]!.at - start);
    }
    const summary = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return `median ${((sorted[9]! + sorted[10]!) / 2).toFixed(2)} ms, worst ${sorted[19]!.toFixed(2)} ms`;
    };
    console.info(`usbmux attach → report: ${summary(attach)}; detach → report: ${summary(detach)}`);
    expect(sink.last()).toEqual([]);
  });
});
