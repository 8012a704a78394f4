import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { skipReason } from '../../scripts/requirements.mjs';
import { memoryLogger } from '../../electron/core/log.js';
import type { SessionClaim } from '../../electron/core/devices/model.js';
import { AppiumSource } from '../../electron/core/devices/sources/appium.js';
import { freePort } from '../helpers/free-port.js';
import { RecordingSink } from '../helpers/recording-sink.js';
import { waitFor } from '../helpers/wait.js';
import { AppiumServer } from '../peers/appium-server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const udids = (claims: SessionClaim[] | undefined) => (claims ?? []).map((c) => c.udid).sort();

describe.skipIf(skipReason('appium'))('AppiumSource against a real Appium 3 server with the fake driver', () => {
  let discovering: AppiumServer;
  let plain: AppiumServer;
  const sources: AppiumSource[] = [];
  const sessions: Array<{ server: AppiumServer; id: string }> = [];

  beforeAll(async () => {
    // Both start at once: Appium takes a few seconds to boot and the two do not depend on each other.
    const started = await Promise.allSettled([AppiumServer.start(), AppiumServer.start({ sessionDiscovery: false })]);
    const [a, b] = started;
    if (a.status === 'fulfilled') discovering = a.value;
    if (b.status === 'fulfilled') plain = b.value;
    const failure = started.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
  }, 120_000);

  afterAll(async () => {
    await Promise.all([discovering?.stop(), plain?.stop()]);
  });

  afterEach(async () => {
    while (sources.length) await sources.pop()!.shutdown();
    while (sessions.length) {
      const { server, id } = sessions.pop()!;
      await server.deleteSession(id).catch(() => {});
    }
  });

  function watch(urls: string[], pollMs = 100) {
    const sink = new RecordingSink('appium', 'sessions');
    const log = memoryLogger();
    const source = new AppiumSource({ urls, sink, log, pollMs });
    sources.push(source);
    return { sink, log, source };
  }

  async function open(server: AppiumServer, udid: string, extra?: Record<string, unknown>): Promise<string> {
    const id = await server.createSession(udid, extra);
    sessions.push({ server, id });
    return id;
  }

  async function close(server: AppiumServer, id: string): Promise<void> {
    await server.deleteSession(id);
    sessions.splice(
      sessions.findIndex((s) => s.id === id),
      1,
    );
  }

  it('a started session claims its device; a deleted one releases it', async () => {
    const { sink, source } = watch([`${discovering.url}/`]);
    await source.boot();
    await waitFor('the first report', () => sink.sessionReports.length === 1);
    expect(sink.lastClaims()).toEqual([]);
    expect(source.status()).toEqual({ state: 'running', detail: 'watching 1 Appium server, 0 sessions' });

    const first = await open(discovering, 'LAB-PHONE-1');
    await waitFor('the first claim', () => udids(sink.lastClaims()).includes('LAB-PHONE-1'));
    expect(sink.lastClaims()).toEqual([
      {
        id: `appium:${discovering.url}:${first}`,
        udid: 'LAB-PHONE-1',
        label: `Appium session ${first} (${discovering.url})`,
        expiresAt: null,
      },
    ]);

    const second = await open(discovering, 'LAB-PHONE-2');
    await waitFor('both claims', () => sink.lastClaims()?.length === 2);
    expect(source.status().detail).toBe('watching 1 Appium server, 2 sessions');

    await close(discovering, first);
    await waitFor('the first claim gone', () => !udids(sink.lastClaims()).includes('LAB-PHONE-1'));
    expect(udids(sink.lastClaims())).toEqual(['LAB-PHONE-2']);
    await close(discovering, second);
    await waitFor('no claims', () => sink.lastClaims()?.length === 0);
    // Reports are made on change only: each step above made exactly one.
    expect(sink.sessionReports.map((r) => r.claims.length)).toEqual([0, 1, 2, 1, 0]);
  });

  it('reads deviceUDID when udid is absent, and names a session that has no device', async () => {
    const { sink, source, log } = watch([discovering.url]);
    await source.boot();
    await open(discovering, '', { 'appium:udid': undefined, 'appium:deviceUDID': 'emulator-5554' });
    const nameless = await open(discovering, '', { 'appium:udid': undefined });
    await waitFor('the deviceUDID claim', () => udids(sink.lastClaims()).includes('emulator-5554'));
    expect(sink.lastClaims()).toHaveLength(1);
    await waitFor('the warning', () => log.lines.some((l) => l.includes(`session ${nameless} names no device`)));
    await sleep(500);
    expect(log.lines.filter((l) => l.includes(`session ${nameless}`))).toHaveLength(1);
  });

  it('says exactly what to do when the server does not allow session discovery', async () => {
    const { sink, source, log } = watch([plain.url]);
    await source.boot();
    const message = `Appium at ${plain.url} does not allow session discovery: start it with --allow-insecure '*:session_discovery'`;
    await waitFor('unavailable', () => source.status().state === 'unavailable');
    expect(source.status()).toEqual({ state: 'unavailable', detail: message });
    expect((await plain.sessions()).statusCode).toBe(500);
    await sleep(600);
    expect(log.lines).toEqual([`warn: ${message}`]);
    expect(sink.sessionReports.map((r) => r.claims)).toEqual([[]]);
  });

  it('an unreachable server: no crash, unavailable with the reason, the other server still counts', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const dead = `http://127.0.0.1:${await freePort()}`;
      const { sink, source, log } = watch([discovering.url, dead]);
      await source.boot();
      await waitFor('unavailable', () => source.status().state === 'unavailable');
      expect(source.status()).toEqual({
        state: 'unavailable',
        detail: `Appium at ${dead} is unreachable (connection refused)`,
      });

      const id = await open(discovering, 'LAB-PHONE-3');
      await waitFor('the live server’s claim', () => udids(sink.lastClaims()).includes('LAB-PHONE-3'));
      expect(sink.lastClaims()![0].id).toBe(`appium:${discovering.url}:${id}`);
      expect(source.status().state).toBe('unavailable');
      expect(log.lines.filter((l) => l.includes(dead))).toEqual([
        `warn: Appium at ${dead} is unreachable (connection refused)`,
      ]);
      await source.shutdown();
      expect(source.status().state).toBe('off');
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('a hung server keeps its last sessions for a while, then they are dropped; it is picked up again', async () => {
    const { sink, source, log } = watch([discovering.url]);
    await source.boot();
    await open(discovering, 'LAB-PHONE-4');
    await waitFor('the claim', () => udids(sink.lastClaims()).includes('LAB-PHONE-4'));
    const reportsBefore = sink.sessionReports.length;
    discovering.pause();
    try {
      await waitFor('the timeout', () => source.status().state === 'unavailable');
      expect(source.status().detail).toBe(`Appium at ${discovering.url} did not answer within 3 s`);
      // One timed-out poll does not release the device (the report only says it cannot vouch for it)…
      expect(sink.sessionReports.slice(reportsBefore).map((r) => [udids(r.claims), r.complete])).toEqual([
        [['LAB-PHONE-4'], false],
      ]);
      // …but a server silent for long enough has no sessions anyone can vouch for.
      await waitFor('the claim dropped', () => sink.lastClaims()?.length === 0, 30_000);
    } finally {
      discovering.resume();
    }
    await waitFor('the claim back', () => udids(sink.lastClaims()).includes('LAB-PHONE-4'), 15_000);
    expect(source.status().state).toBe('running');
    expect(log.lines).toEqual([
      `warn: Appium at ${discovering.url} did not answer within 3 s`,
      `info: Appium at ${discovering.url} answers again`,
    ]);
  }, 60_000);

  it('measures session start/end → sink report over 20 sessions', async () => {
    const pollMs = Number(process.env.LABHOOK_APPIUM_POLL_MS ?? 100);
    const { sink, source } = watch([discovering.url], pollMs);
    await source.boot();
    await waitFor('the first report', () => sink.sessionReports.length === 1);
    const start: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < 20; i++) {
      // A random pause keeps the changes out of step with the polls, as real sessions are.
      await sleep(Math.random() * pollMs);
      // From just before each request: the change happens somewhere inside it.
      let count = sink.sessionReports.length;
      let at = performance.now();
      const id = await open(discovering, `LAB-MEASURE-${i}`);
      await waitFor('the claim', () => sink.sessionReports.length > count);
      start.push(sink.sessionReports[count].at - at);
      await sleep(Math.random() * pollMs);
      count = sink.sessionReports.length;
      at = performance.now();
      await close(discovering, id);
      await waitFor('the release', () => sink.sessionReports.length > count);
      end.push(sink.sessionReports[count].at - at);
    }
    const summary = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return `median ${((sorted[9] + sorted[10]) / 2).toFixed(1)} ms, worst ${sorted[19].toFixed(1)} ms`;
    };
    console.info(`appium (poll ${pollMs} ms) session start → report: ${summary(start)}; end → report: ${summary(end)}`);
    expect(sink.lastClaims()).toEqual([]);
  }, 120_000);
});
