/**
 * The adb source against Debian's real adb server, with emulated device daemons (test/peers/adbd.ts)
 * attached over TCP by `adb connect`, exactly as a phone on Wi-Fi debugging would be.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { skipReason } from '../../scripts/requirements.mjs';
import { AdbSource, type AdbSourceOptions } from '../../electron/core/devices/sources/adb.js';
import type { DeviceSink, Presence } from '../../electron/core/devices/model.js';
import { memoryLogger } from '../../electron/core/log.js';
import { isNetworkSerial, presenceFor } from '../../electron/core/devices/sources/adb-presence.js';
import { parseGetprop } from '../../electron/core/devices/sources/adb-getprop.js';
import { RecordingSink, type PresenceReport } from '../helpers/recording-sink.js';
import { waitFor } from '../helpers/wait.js';
import { AdbServer } from '../peers/adb-server.js';
import { EmulatedAdbd, type AdbdOptions } from '../peers/adbd.js';

/** The first report at or after `index` that satisfies `test`, waiting for it. */
async function reportAfter(
  sink: RecordingSink,
  index: number,
  what: string,
  test: (presences: Presence[]) => boolean,
  timeoutMs?: number,
): Promise<PresenceReport> {
  return waitFor(what, () => sink.presenceReports.slice(index).find((report) => test(report.presences)), timeoutMs);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(skipReason('adb'))('adb source against the real adb server', () => {
  let server: AdbServer;
  const cleanups: (() => Promise<unknown> | void)[] = [];

  beforeAll(async () => {
    server = await AdbServer.start();
  });

  afterAll(async () => {
    await server?.stop();
  });

  afterEach(async () => {
    while (cleanups.length) {
      try {
        await cleanups.pop()!();
      } catch {
        // Cleanup keeps going; a device that is already gone cannot be disconnected.
      }
    }
  });

  async function device(options: AdbdOptions = {}): Promise<EmulatedAdbd> {
    const adbd = await EmulatedAdbd.start(options);
    cleanups.push(() => adbd.close());
    return adbd;
  }

  async function attach(adbd: EmulatedAdbd, via: AdbServer = server): Promise<void> {
    await via.connect(adbd.serial);
    cleanups.push(() => (via.running ? via.disconnect(adbd.serial) : undefined));
  }

  function source(options: Partial<AdbSourceOptions> & { sink: DeviceSink }, via: AdbServer = server) {
    const log = memoryLogger();
    const adb = new AdbSource({ host: '127.0.0.1', port: via.port, log, pollMs: 250, ...options });
    cleanups.push(() => adb.shutdown());
    return { adb, log };
  }

  it('reports a connected device as ready, identified by ro.serialno and named by ro.product.model', async () => {
    const sink = new RecordingSink('adb', 'presences');
    const { adb } = source({ sink });
    await adb.boot();
    await waitFor('the first report', () => sink.presenceReports.length > 0);
    expect(adb.status().state).toBe('running');

    const phone = await device({ serialno: 'R58M123ABC', model: 'Galaxy Note 8' });
    await attach(phone);
    const presence = await waitFor(
      'ready',
      () => sink.find(phone.serial)?.state === 'ready' && sink.find(phone.serial),
    );
    expect(presence).toEqual({
      key: phone.serial,
      udid: 'R58M123ABC',
      state: 'ready',
      platform: 'android',
      name: 'Galaxy Note 8',
    });
    expect([...sink.sources]).toEqual(['adb']);
    // Never reported ready under a provisional udid before getprop answered.
    for (const report of sink.presenceReports) {
      for (const p of report.presences) if (p.key === phone.serial) expect(p.udid).toBe('R58M123ABC');
    }
    // One getprop per device, not one per poll.
    await sleep(800);
    expect(phone.getpropCalls).toBe(1);
  });

  it('reports a device whose socket dropped as unusable (offline), still under its ro.serialno, and ready again when it answers', async () => {
    const sink = new RecordingSink('adb', 'presences');
    const { adb } = source({ sink });
    await adb.boot();
    const phone = await device({ serialno: 'DROP0001', model: 'Pixel 7' });
    await attach(phone);
    await waitFor('ready', () => sink.find(phone.serial)?.state === 'ready');

    await phone.setMode('silent');
    const offline = await waitFor(
      'offline',
      () => sink.find(phone.serial)?.state === 'unusable' && sink.find(phone.serial),
    );
    expect(offline).toMatchObject({ key: phone.serial, udid: 'DROP0001', detail: 'offline', platform: 'android' });

    await phone.setMode('device');
    const back = await waitFor(
      'ready again',
      () => sink.find(phone.serial)?.state === 'ready' && sink.find(phone.serial),
    );
    expect(back.udid).toBe('DROP0001');
  });

  it('reports a device that refuses connections as unusable (offline)', async () => {
    const sink = new RecordingSink('adb', 'presences');
    const { adb } = source({ sink });
    await adb.boot();
    const phone = await device({ serialno: 'REFUSE01' });
    await attach(phone);
    await waitFor('ready', () => sink.find(phone.serial)?.state === 'ready');
    await phone.setMode('refuse');
    const offline = await waitFor(
      'offline',
      () => sink.find(phone.serial)?.state === 'unusable' && sink.find(phone.serial),
    );
    expect(offline).toMatchObject({ udid: 'REFUSE01', detail: 'offline' });
  });

  it('reports an unauthorized device as unusable with detail unauthorized, under its adb serial', async () => {
    const sink = new RecordingSink('adb', 'presences');
    const { adb } = source({ sink });
    await adb.boot();
    const phone = await device({ serialno: 'LOCKED01', mode: 'unauthorized' });
    await attach(phone);
    const presence = await waitFor('unauthorized', () => sink.find(phone.serial));
    expect(presence).toEqual({
      key: phone.serial,
      udid: phone.serial,
      state: 'unusable',
      platform: 'android',
      detail: 'unauthorized',
    });
    expect(phone.getpropCalls).toBe(0);
  });

  it('keeps the learnt ro.serialno when a ready device turns unauthorized (debugging authorisation revoked)', async () => {
    const sink = new RecordingSink('adb', 'presences');
    const { adb } = source({ sink });
    await adb.boot();
    const phone = await device({ serialno: 'REVOKE01', model: 'Pixel 8' });
    await attach(phone);
    await waitFor('ready', () => sink.find(phone.serial)?.state === 'ready');
    await phone.setMode('unauthorized');
    const presence = await waitFor(
      'unauthorized',
      () => sink.find(phone.serial)?.detail === 'unauthorized' && sink.find(phone.serial),
    );
    expect(presence).toEqual({
      key: phone.serial,
      udid: 'REVOKE01',
      state: 'unusable',
      platform: 'android',
      name: 'Pixel 8',
      detail: 'unauthorized',
    });
  });

  it('reports a disconnected device as gone', async () => {
    const sink = new RecordingSink('adb', 'presences');
    const { adb } = source({ sink });
    await adb.boot();
    const phone = await device({ serialno: 'GONE0001' });
    const other = await device({ serialno: 'STAYS001' });
    await attach(phone);
    await attach(other);
    await waitFor(
      'both ready',
      () => sink.find(phone.serial)?.state === 'ready' && sink.find(other.serial)?.state === 'ready',
    );
    await server.disconnect(phone.serial);
    await waitFor('gone', () => !sink.find(phone.serial));
    expect(sink.find(other.serial)?.state).toBe('ready');
  });

  it('does not let a slow getprop hold back other devices, and falls back to the adb serial when getprop never answers', async () => {
    const sink = new RecordingSink('adb', 'presences');
    const { adb, log } = source({ sink, getpropTimeoutMs: 4000 });
    await adb.boot();
    const slow = await device({ serialno: 'SLOW0001', model: 'Slowpoke', shellDelayMs: 60_000 });
    const fast = await device({ serialno: 'FAST0001', model: 'Speedy' });
    await attach(slow);
    await waitFor('adb lists the slow device', () => slow.openConnections > 0);
    await attach(fast);
    await waitFor('fast ready', () => sink.find(fast.serial)?.state === 'ready');
    // The slow one is not reported at all until its getprop answers or times out, and until then
    // the source does not claim its report is complete (the tracker must not read it as gone).
    expect(sink.find(slow.serial)).toBeUndefined();
    expect(sink.presenceReports.at(-1)!.complete).toBe(false);
    const fallback = await waitFor('slow falls back', () => sink.find(slow.serial));
    expect(sink.presenceReports.at(-1)!.complete).toBe(true);
    expect(fallback).toEqual({
      key: slow.serial,
      udid: slow.serial,
      state: 'ready',
      platform: 'android',
      name: 'unknown',
    });
    expect(log.lines.some((line) => line.startsWith('warn: ') && line.includes(slow.serial))).toBe(true);
  });

  it('keeps its devices through an adb server restart without reporting them gone, and watches again afterwards', async () => {
    const sink = new RecordingSink('adb', 'presences');
    const { adb, log } = source({ sink, retryMs: [100, 1000], settleMs: 2500 });
    await adb.boot();
    const phones = [
      await device({ serialno: 'RESTART1', model: 'A' }),
      await device({ serialno: 'RESTART2', model: 'B' }),
    ];
    for (const phone of phones) await attach(phone);
    await waitFor('both ready', () => phones.every((phone) => sink.find(phone.serial)?.state === 'ready'));
    const before = sink.presenceReports.length;
    const pid = server.pid;

    await server.kill();
    await waitFor('the source notices', () => adb.status().state === 'unavailable');
    await server.startServer();
    expect(server.pid).not.toBe(pid);
    // The source reconnects to a server that lists nothing yet, as after a real restart while the
    // phones re-handshake; it sees that empty list for a few polls before they come back.
    await waitFor('the source is back', () => adb.status().state === 'running');
    await sleep(600);
    for (const phone of phones) await server.connect(phone.serial);
    await waitFor('adb lists both as device again', async () => {
      const devices = await server.devices();
      return phones.every((phone) => devices.some((d) => d.serial === phone.serial && d.state === 'device'));
    });

    // Past the settle window, every report since the kill still had both phones ready.
    await sleep(3000);
    for (const report of sink.presenceReports.slice(before)) {
      for (const phone of phones) expect(report.presences.find((p) => p.key === phone.serial)?.state).toBe('ready');
    }
    expect(log.lines.filter((line) => line.startsWith('warn: ')).length).toBe(1);
    expect(log.lines.some((line) => line.includes('is back'))).toBe(true);

    // The recreated tracker and poller see new changes.
    const index = sink.presenceReports.length;
    await server.disconnect(phones[0].serial);
    await reportAfter(
      sink,
      index,
      'the disconnect after the restart',
      (presences) => !presences.some((p) => p.key === phones[0].serial),
    );
  });

  it('reports the devices gone when the adb server stays away, and back when it returns', async () => {
    const sink = new RecordingSink('adb', 'presences');
    const { adb, log } = source({ sink, retryMs: [100, 400], serverGoneMs: 1000, settleMs: 500 });
    await adb.boot();
    const phone = await device({ serialno: 'AWAY0001', model: 'Away' });
    await attach(phone);
    await waitFor('ready', () => sink.find(phone.serial)?.state === 'ready');
    const before = sink.presenceReports.length;

    await server.kill();
    await waitFor('unavailable', () => adb.status().state === 'unavailable');
    expect(adb.status().detail).toMatch(/adb server at 127\.0\.0\.1:\d+/);
    await waitFor('reported gone', () => sink.presenceReports.length > before && sink.lastPresences()?.length === 0);
    // Exactly one report while the server was down: the empty list, once the grace ran out.
    expect(sink.presenceReports.slice(before).map((r) => r.presences.length)).toEqual([0]);
    expect(log.lines.filter((line) => line.startsWith('warn: '))).toHaveLength(1);

    await server.startServer();
    await server.connect(phone.serial);
    const back = await waitFor('back', () => sink.find(phone.serial)?.state === 'ready' && sink.find(phone.serial));
    expect(back).toMatchObject({ udid: 'AWAY0001', name: 'Away' });
    expect(adb.status().state).toBe('running');
  });

  it('survives having no adb server, says why, and picks the server up when it starts', async () => {
    const late = await AdbServer.create();
    cleanups.push(() => late.stop());
    const sink = new RecordingSink('adb', 'presences');
    const { adb, log } = source({ sink, retryMs: [100, 400], serverGoneMs: 1000 }, late);
    await adb.boot();
    await waitFor(
      'unavailable',
      () => adb.status().state === 'unavailable' && adb.status().detail.includes('no adb server'),
    );
    expect(adb.status().detail).toContain(`127.0.0.1:${late.port}`);
    expect(adb.status().detail).not.toContain('\n');
    // Nothing seen, and the server stays away: the empty list is reported once it is known.
    await waitFor('the empty report', () => sink.presenceReports.length === 1);
    expect(sink.presenceReports[0]).toMatchObject({ presences: [], complete: true });
    await sleep(1500); // several retries
    expect(log.lines.filter((line) => line.startsWith('warn: '))).toHaveLength(1);
    expect(log.lines[0]).toContain('no adb server');
    // adbkit would start a server on refusal; ours must not have.
    await expect(late.adb('version').catch(() => 'not running')).resolves.toBe('not running');

    await late.startServer();
    await waitFor('running', () => adb.status().state === 'running');
    const phone = await device({ serialno: 'LATE0001', model: 'Late Phone' });
    await attach(phone, late);
    const presence = await waitFor('ready', () => sink.find(phone.serial));
    expect(presence).toMatchObject({ udid: 'LATE0001', name: 'Late Phone', state: 'ready' });
  });

  it('reports 100 emulated devices at once, each with its own identity', async () => {
    const sink = new RecordingSink('adb', 'presences');
    const { adb } = source({ sink });
    await adb.boot();
    const phones = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        device({ serialno: `BULK${String(i).padStart(4, '0')}`, model: `Model ${i}` }),
      ),
    );
    // A few unusable ones among them.
    await phones[7].setMode('unauthorized');
    await phones[42].setMode('unauthorized');
    const queue = [...phones];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let phone = queue.shift(); phone; phone = queue.shift()) await attach(phone);
      }),
    );
    await waitFor('all 100 reported', () => phones.every((phone) => sink.find(phone.serial)), 60_000);
    phones.forEach((phone, i) => {
      const presence = sink.find(phone.serial)!;
      if (i === 7 || i === 42)
        expect(presence).toMatchObject({ state: 'unusable', detail: 'unauthorized', udid: phone.serial });
      else
        expect(presence).toEqual({
          key: phone.serial,
          udid: phone.serialno,
          state: 'ready',
          platform: 'android',
          name: `Model ${i}`,
        });
    });
    expect(
      (sink.lastPresences() ?? []).filter(
        (p) => p.key.startsWith('127.0.0.1:') && phones.some((phone) => phone.serial === p.key),
      ),
    ).toHaveLength(100);
  }, 120_000);

  it('lets the process exit after shutdown, even with a getprop still unanswered', async () => {
    const phone = await device({ serialno: 'EXIT0001' });
    const hung = await device({ serialno: 'EXIT0002', shellDelayMs: 600_000 });
    await attach(phone);
    await attach(hung);
    const module = fileURLToPath(new URL('../../out/electron/core/devices/sources/adb.js', import.meta.url));
    const script = `
      const { AdbSource } = await import(${JSON.stringify(module)});
      const log = { info() {}, warn() {}, error() {} };
      let seen = [];
      const adb = new AdbSource({ host: '127.0.0.1', port: ${server.port}, log, sink: { reportPresences: (_s, p) => { seen = p; }, reportSessions() {} } });
      await adb.boot();
      while (!seen.some((p) => p.state === 'ready')) await new Promise((r) => setTimeout(r, 20));
      await adb.shutdown();
      console.log(JSON.stringify(seen));
    `;
    const output = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
      );
    });
    const seen = JSON.parse(output) as Presence[];
    expect(seen).toContainEqual(expect.objectContaining({ key: phone.serial, udid: 'EXIT0001', state: 'ready' }));
    expect(seen.find((p) => p.key === hung.serial)).toBeUndefined();
    expect(hung.getpropCalls).toBe(1);
  });

  // Prints median and worst delay from the peer's change to the sink's report, 20 rounds each, at
  // the default poll interval (about 5 s). Nothing is asserted on the numbers, only that every
  // change was reported.
  it('measures change → report delays', async () => {
    const sink = new RecordingSink('adb', 'presences');
    const { adb } = source({ sink, pollMs: 1000 });
    await adb.boot();
    const phone = await device({ serialno: 'MEASURE1', model: 'Meter' });
    // connect→ready counts from the daemon's handshake answer (the moment adb can list it as
    // `device`); the second line also counts the adb client process that asks for the connection.
    const delays = {
      'connect→ready': [] as number[],
      '`adb connect` run→ready': [] as number[],
      'drop→unusable': [] as number[],
      'disconnect→gone': [] as number[],
    };
    for (let round = 0; round < 20; round++) {
      await phone.setMode('device');
      let index = sink.presenceReports.length;
      const connectAt = performance.now();
      await server.connect(phone.serial);
      let report = await reportAfter(sink, index, 'ready', (ps) =>
        ps.some((p) => p.key === phone.serial && p.state === 'ready'),
      );
      delays['connect→ready'].push(report.at - phone.lastHandshakeAt);
      delays['`adb connect` run→ready'].push(report.at - connectAt);

      index = sink.presenceReports.length;
      const dropAt = performance.now();
      await phone.setMode('silent');
      report = await reportAfter(sink, index, 'unusable', (ps) =>
        ps.some((p) => p.key === phone.serial && p.state === 'unusable'),
      );
      delays['drop→unusable'].push(report.at - dropAt);

      index = sink.presenceReports.length;
      const disconnectAt = performance.now();
      await server.disconnect(phone.serial);
      report = await reportAfter(sink, index, 'gone', (ps) => !ps.some((p) => p.key === phone.serial));
      delays['disconnect→gone'].push(report.at - disconnectAt);
    }
    for (const [name, values] of Object.entries(delays)) {
      const sorted = [...values].sort((a, b) => a - b);
      const median = (sorted[9] + sorted[10]) / 2;
      console.log(
        `adb source ${name}: median ${median.toFixed(1)} ms, worst ${sorted.at(-1)!.toFixed(1)} ms (n=${sorted.length})`,
      );
    }
  }, 120_000);
});

// The rules that need no server: USB phones cannot be attached here, so their identity rule is
// checked on the mapping itself.
describe('adb presence rules', () => {
  const props = { serialno: 'R58M123ABC', model: 'Galaxy Note 8', failed: false };

  it('tells network links from USB serials', () => {
    expect(isNetworkSerial('127.0.0.1:5555')).toBe(true);
    expect(isNetworkSerial('[::1]:5555')).toBe(true);
    expect(isNetworkSerial('adb-R58M123ABC-x1y2z3._adb-tls-connect._tcp')).toBe(true);
    expect(isNetworkSerial('R58M123ABC')).toBe(false);
    expect(isNetworkSerial('emulator-5554')).toBe(false);
  });

  it('identifies a USB phone by its adb serial and a network phone by ro.serialno', () => {
    expect(presenceFor('ce0917198075440c057e', 'device', { ...props, serialno: 'other' })).toEqual({
      key: 'ce0917198075440c057e',
      udid: 'ce0917198075440c057e',
      state: 'ready',
      platform: 'android',
      name: 'Galaxy Note 8',
    });
    expect(presenceFor('10.0.0.5:5555', 'device', props)?.udid).toBe('R58M123ABC');
    expect(
      presenceFor('10.0.0.5:5555', 'device', { serialno: '10.0.0.5:5555', model: 'unknown', failed: true })?.udid,
    ).toBe('10.0.0.5:5555');
    expect(presenceFor('10.0.0.5:5555', 'device', undefined)).toBeNull();
  });

  it('maps every adb state but device to unusable, with the raw state as detail', () => {
    const states = [
      'offline',
      'unauthorized',
      'no permissions (user in plugdev group; are your udev rules wrong?)',
      'recovery',
      'bootloader',
      'sideload',
      'authorizing',
      'connecting',
      'host',
      'rescue',
      'something new',
    ];
    for (const state of states) {
      expect(presenceFor('R58M123ABC', state, undefined)).toEqual({
        key: 'R58M123ABC',
        udid: 'R58M123ABC',
        state: 'unusable',
        platform: 'android',
        detail: state,
      });
    }
    expect(presenceFor('10.0.0.5:5555', 'offline', props)).toMatchObject({
      udid: 'R58M123ABC',
      name: 'Galaxy Note 8',
      detail: 'offline',
    });
  });

  it('parses getprop output, including values that span lines', () => {
    expect(parseGetprop('[ro.serialno]: [ABC]\n[ro.product.model]: [Pixel 7]\r\n[multi]: [a\nb]\n')).toEqual({
      'ro.serialno': 'ABC',
      'ro.product.model': 'Pixel 7',
      multi: 'a\nb',
    });
  });
});
