// A UsbSource in its own process, started by usb-namespace.ts inside a private mount and network
// namespace (a running multi-threaded process cannot change its mount namespace, so the source
// must start in one). Runs the compiled source from out/. JSON lines both ways:
//   stdin:  boot | status | shutdown
//   stdout: {type:'up'} {type:'booted',status} {type:'status',status} {type:'stopped',status}
//           {type:'report',at,presences} {type:'log',level,message} {type:'change',at,change}
// argv[2] and argv[3], when not empty, are the source's sysfsRoot and resyncMs.
// `at` is epoch milliseconds with a fraction (timeOrigin + now), comparable with the parent's.
// After `shutdown` the child stops reading stdin and must then exit on its own: if anything the
// source started still holds the event loop (the library's hotplug listener), it would not.
import { createInterface } from 'node:readline';
import { UsbSource } from '../../out/electron/core/devices/sources/usb.js';
import { DeviceTracker } from '../../out/electron/core/devices/tracker.js';

const emit = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const now = () => performance.timeOrigin + performance.now();

const forward = (level) => (message) => emit({ type: 'log', level, message });
const log = { info: forward('info'), warn: forward('warn'), error: forward('error') };
// With LABHOOK_TRACKER_GRACE_MS set, the reports also feed the real tracker, whose changes are emitted.
const graceMs = process.env.LABHOOK_TRACKER_GRACE_MS ? Number(process.env.LABHOOK_TRACKER_GRACE_MS) : null;
const tracker =
  graceMs === null ? null : new DeviceTracker({ initial: [], persist: () => {}, graceMs, awaitSources: ['usb'], log });
tracker?.on('change', (change) => emit({ type: 'change', at: now(), change }));
const sink = {
  reportPresences: (source, presences) => {
    emit({ type: 'report', at: now(), source, presences });
    tracker?.reportPresences(source, presences);
  },
  reportSessions: () => {},
};
const sysfsRoot = process.argv[2] || undefined;
const resyncMs = process.argv[3] ? Number(process.argv[3]) : undefined;
const source = new UsbSource({ sink, log, sysfsRoot, resyncMs });

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  const command = line.trim();
  if (command === 'boot') {
    await source.boot();
    await tracker?.boot();
    emit({ type: 'booted', status: source.status() });
  } else if (command === 'status') {
    emit({ type: 'status', status: source.status() });
  } else if (command === 'shutdown') {
    lines.close();
    process.stdin.destroy();
    await source.shutdown();
    await tracker?.shutdown();
    emit({ type: 'stopped', status: source.status() });
  }
});
emit({ type: 'up', pid: process.pid });
