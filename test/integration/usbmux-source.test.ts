import { afterEach, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { memoryLogger } from '../../electron/core/log.js';
import type { Presence } from '../../electron/core/devices/model.js';
import { UsbmuxSource } from '../../electron/core/devices/sources/usbmux.js';
import { RecordingSink } from '../helpers/recording-sink.js';
import { waitFor } from '../helpers/wait.js';
import { UsbmuxdPeer, frame } from '../peers/usbmuxd.js';

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
  const sink = new RecordingSink('usbmux', 'presences');
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
    await waitFor('the present iPhone', () => udids(sink.lastPresences()).includes(IPHONE));

    expect(peer.requests).toHaveLength(1);
    const listen = peer.requests[0].message;
    expect(listen).toMatchObject({ MessageType: 'Listen', ProgName: 'Labhook', kLibUSBMuxVersion: 3 });
    expect(typeof listen.ClientVersionString).toBe('string');
    expect(sink.lastPresences()).toEqual([
      { key: 'usbmux:1', udid: IPHONE, state: 'ready', platform: 'ios', name: 'iPhone', detail: 'USB' },
    ]);
    expect(source.status().state).toBe('running');

    const [ipadId] = await peer.attach({ udid: IPAD, productId: 0x12ab });
    await waitFor('the iPad', () => udids(sink.lastPresences()).includes(IPAD));
    expect(sink.lastPresences()!.find((p) => p.udid === IPAD)).toMatchObject({ key: `usbmux:${ipadId}`, name: 'iPad' });
    expect(udids(sink.lastPresences())).toEqual([IPHONE, IPAD].sort());

    await peer.detach(peer.idOf(IPHONE)!);
    await waitFor('the iPhone to go', () => !udids(sink.lastPresences()).includes(IPHONE));
    expect(udids(sink.lastPresences())).toEqual([IPAD]);

    await peer.detach(ipadId);
    await waitFor('an empty list', () => sink.lastPresences()?.length === 0);
  });

  it('reads several frames in one chunk and frames cut into pieces', async () => {
    const { peer, sink, source } = await setup();
    await source.boot();
    await waitFor('the first, settled report', () => sink.presenceReports.length === 1);
    expect(sink.lastPresences()).toEqual([]);

    const before = sink.presenceReports.length;
    await peer.attach(
      { udid: IPHONE },
      { udid: IPAD, productId: 0x12ab },
      { udid: OLD_IPHONE, connectionType: 'Network' },
    );
    await waitFor('three devices', () => sink.lastPresences()?.length === 3);
    // One write carried three frames; each was still read on its own.
    expect(sink.presenceReports.length - before).toBe(3);
    expect(sink.lastPresences()!.find((p) => p.udid === OLD_IPHONE)).toMatchObject({
      name: 'iOS device',
      detail: 'Network',
    });

    peer.delivery = 'split';
    await peer.detach(peer.idOf(IPHONE)!, peer.idOf(IPAD)!);
    await waitFor('one device left', () => sink.lastPresences()?.length === 1);
    expect(udids(sink.lastPresences())).toEqual([OLD_IPHONE]);
    await peer.attach({ udid: IPHONE });
    await waitFor('the iPhone again', () => udids(sink.lastPresences()).includes(IPHONE));
    expect(source.status().state).toBe('running');
  });

  it('reads the Result and the Attached burst when they arrive a few bytes at a time', async () => {
    const { peer, sink, source } = await setup();
    await peer.attach({ udid: IPHONE }, { udid: IPAD, productId: 0x12ab });
    peer.delivery = 'split';
    await source.boot();
    await waitFor('both devices', () => sink.lastPresences()?.length === 2, 20_000);
    expect(udids(sink.lastPresences())).toEqual([IPHONE, IPAD].sort());
  });

  it('survives a daemon restart without reporting present devices gone', async () => {
    const { peer, sink, source, log } = await setup();
    const [first] = await peer.attach({ udid: OLD_IPHONE }, { udid: IPHONE }, { udid: IPAD, productId: 0x12ab });
    await peer.detach(first);
    await source.boot();
    await waitFor('two devices', () => sink.lastPresences()?.length === 2);
    const settledAt = sink.presenceReports.length;
    expect(
      sink
        .lastPresences()!
        .map((p) => p.key)
        .sort(),
    ).toEqual(['usbmux:2', 'usbmux:3']);

    await peer.stop();
    await waitFor('unavailable', () => source.status().state === 'unavailable');
    expect(source.status().detail).toContain('retrying');
    await peer.start();
    await waitFor('listening again', () => peer.listenerCount === 1 && source.status().state === 'running');
    // The restarted daemon numbered the devices afresh; the new keys arrive in one settled report.
    await waitFor(
      'the renumbered list',
      () =>
        sink
          .lastPresences()!
          .map((p) => p.key)
          .sort()
          .join() === 'usbmux:1,usbmux:2',
    );
    for (const report of sink.presenceReports.slice(settledAt))
      expect(udids(report.presences)).toEqual([IPHONE, IPAD].sort());
    expect(log.lines.filter((l) => l.startsWith('warn:'))).toHaveLength(1);
    expect(log.lines.some((l) => l.includes('is back'))).toBe(true);

    await peer.attach({ udid: OLD_IPHONE });
    await waitFor('a device attached after the restart', () => sink.lastPresences()?.length === 3);
  });

  it('reports the devices gone when the daemon stays away', async () => {
    const { peer, sink, source } = await setup();
    await peer.attach({ udid: IPHONE });
    await source.boot();
    await waitFor('the iPhone', () => sink.lastPresences()?.length === 1);
    await peer.stop();
    await waitFor('the list emptied after the hold', () => sink.lastPresences()?.length === 0, 20_000);
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
    expect(source.status()).toEqual({
      state: 'unavailable',
      detail: `usbmuxd is not running (no socket at ${peer.socketPath}); retrying`,
    });
    // Retries run at 1 s and 3 s; the outage is still one line.
    await sleep(3500);
    const warnings = log.lines.filter((l) => l.startsWith('warn:'));
    expect(warnings).toEqual([
      `warn: iOS devices: usbmuxd is not running (no socket at ${peer.socketPath}); retrying in the background`,
    ]);
    expect(sink.presenceReports).toHaveLength(0);
    // Still no daemon when the hold runs out: it sees nothing, and says so in a complete report,
    // so start-up reconciliation need not wait for it any longer.
    await waitFor('the empty report', () => sink.presenceReports.length === 1);
    expect(sink.presenceReports[0]).toMatchObject({ presences: [], complete: true });

    await peer.attach({ udid: IPHONE });
    await peer.start();
    await waitFor('the daemon picked up', () => udids(sink.lastPresences()).includes(IPHONE), 20_000);
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
    await waitFor('listening after the refusal', () => udids(sink.lastPresences()).includes(IPAD), 20_000);

    const bad = Buffer.alloc(16);
    bad.writeUInt32LE(4, 0);
    await peer.sendRaw(bad);
    await waitFor(
      'the broken frame noticed',
      () => source.status().state === 'unavailable' || peer.requests.length > 2,
    );
    await waitFor('listening again', () => source.status().state === 'running' && peer.listenerCount === 1);
    expect(udids(sink.lastPresences())).toEqual([IPAD]);
    // A frame of another type (not plist) is skipped, the rest still read.
    const binary = Buffer.alloc(20);
    binary.writeUInt32LE(20, 0);
    binary.writeUInt32LE(0, 4);
    binary.writeUInt32LE(1, 8);
    await peer.sendRaw(Buffer.concat([binary, frame({ MessageType: 'Detached', DeviceID: peer.idOf(IPAD)! }, 0)]));
    await waitFor('the detach after the binary frame', () => sink.lastPresences()?.length === 0);
  });

  it('measures peer change → sink report for 20 attach/detach cycles', async () => {
    const { peer, sink, source } = await setup();
    await source.boot();
    await waitFor('listening', () => source.status().state === 'running' && peer.listenerCount === 1);
    await waitFor('settled', () => sink.presenceReports.length > 0);
    const attach: number[] = [];
    const detach: number[] = [];
    for (let i = 0; i < 20; i++) {
      let count = sink.presenceReports.length;
      let start = performance.now();
      const [id] = await peer.attach({ udid: `${IPHONE}-${i}` });
      await waitFor('attach', () => sink.presenceReports.length > count);
      attach.push(sink.presenceReports[count].at - start);
      count = sink.presenceReports.length;
      start = performance.now();
      await peer.detach(id);
      await waitFor('detach', () => sink.presenceReports.length > count);
      detach.push(sink.presenceReports[count].at - start);
    }
    const summary = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return `median ${((sorted[9] + sorted[10]) / 2).toFixed(2)} ms, worst ${sorted[19].toFixed(2)} ms`;
    };
    console.info(`usbmux attach → report: ${summary(attach)}; detach → report: ${summary(detach)}`);
    expect(sink.lastPresences()).toEqual([]);
  });
});
