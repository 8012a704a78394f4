/**
 * End to end from an emulated phone to the callback: Debian's real adb server, an EmulatedAdbd
 * attached with `adb connect`, the real AdbSource (default 1 s poll, plus track-devices pushes)
 * reporting to the tracker, the tracker to the delivery service, 20 webhooks.
 *
 * Each cycle: the daemon stops listening and drops its connection (`refuse`: the phone left the
 * network) → adb lists it `offline` → `offline` callbacks; `adb disconnect` → adb drops it from
 * its list → `unplugged`; the daemon listens again and `adb connect` → `device` → `online`
 * (adb's own reconnect loop backs off to ~10 s after refused connections, so the cycle reconnects
 * explicitly, and the adb client's run counts as adb's share). Every callback's latency is
 * split into adb's share (change → adb's own list shows it, watched separately by AdbWatch), the
 * source's share (adb's list → the tracker's change) and delivery's (change → request received).
 */
import type { StatusChange } from '../../electron/core/devices/model.js';
import { AdbSource } from '../../electron/core/devices/sources/adb.js';
import { AdbServer } from '../../test/peers/adb-server.js';
import { EmulatedAdbd } from '../../test/peers/adbd.js';
import { AdbWatch } from '../adb-watch.js';
import { startRig } from '../harness.js';
import type { ReceiverHost } from '../receivers.js';
import { median, nowMs, percentile } from '../stats.js';

export interface AdbLeg {
  kind: 'offline' | 'unplugged' | 'online';
  /** Medians over events (each event's median over its 20 callbacks), ms. */
  total: number;
  totalP99: number;
  adb: number;
  source: number;
  delivery: number;
  events: number;
}

export async function adbEndToEnd(host: ReceiverHost, urls: readonly string[], cycles: number): Promise<AdbLeg[]> {
  await host.reset();
  const server = await AdbServer.start();
  const watch = new AdbWatch(server.port);
  const phone = await EmulatedAdbd.start({ serialno: 'BENCHADB0001', model: 'Bench Phone' });
  const rig = await startRig(urls);
  const source = new AdbSource({ host: '127.0.0.1', port: server.port, sink: rig.tracker, log: rig.log });
  const changes: Array<{ change: StatusChange; at: number }> = [];
  rig.tracker.on('change', (change: StatusChange) => changes.push({ change, at: nowMs() }));
  try {
    watch.start();
    await source.boot();
    await server.connect(phone.serial);
    await rig.waitDelivered(urls.length, 30_000); // the first `online`: warm-up
    let expected = urls.length;
    const samples: Array<{ kind: AdbLeg['kind']; t0: number; adbAt: number; emitAt: number; id: string }> = [];
    const step = async (kind: AdbLeg['kind'], adbState: string | null, act: () => Promise<unknown>) => {
      const seen = changes.length;
      const t0 = nowMs();
      const listed = watch.waitFor(phone.serial, adbState);
      await act();
      const adbAt = await listed;
      expected += urls.length;
      await rig.waitDelivered(expected, 30_000);
      const hit = changes.slice(seen).find((c) => c.change.to === kind);
      if (!hit) throw new Error(`adb e2e: no ${kind} change`);
      samples.push({ kind, t0, adbAt, emitAt: hit.at, id: hit.change.id });
    };
    for (let i = 0; i < cycles; i++) {
      await step('offline', 'offline', () => phone.setMode('refuse'));
      await step('unplugged', null, () => server.disconnect(phone.serial));
      await phone.setMode('device');
      await step('online', 'device', () => server.connect(phone.serial));
    }
    const arrivals = (await host.collect()).slice(0, urls.length).flat();
    const byId = new Map<string, number[]>();
    for (const [t, id] of arrivals) (byId.get(id) ?? byId.set(id, []).get(id)!).push(t);
    const legs: AdbLeg[] = [];
    for (const kind of ['offline', 'unplugged', 'online'] as const) {
      const mine = samples.filter((s) => s.kind === kind);
      const totals: number[] = [];
      const all: number[] = [];
      const deliveries: number[] = [];
      for (const s of mine) {
        const ts = byId.get(s.id) ?? [];
        all.push(...ts.map((t) => t - s.t0));
        totals.push(median(ts.map((t) => t - s.t0)));
        deliveries.push(median(ts.map((t) => t - s.emitAt)));
      }
      legs.push({
        kind,
        total: median(totals),
        totalP99: percentile(all, 99),
        adb: median(mine.map((s) => s.adbAt - s.t0)),
        source: median(mine.map((s) => s.emitAt - s.adbAt)),
        delivery: median(deliveries),
        events: mine.length,
      });
    }
    return legs;
  } finally {
    watch.stop();
    await source.shutdown();
    await rig.close();
    await phone.close();
    await server.stop();
  }
}
