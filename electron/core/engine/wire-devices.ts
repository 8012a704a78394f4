/** Builds the device side of the engine: the sources the options turn on, reporting to one tracker. */
import type { ServerEvent } from '../api/contract.js';
import { SOURCE_NAMES, type SourceInfo } from '../api/schemas.js';
import { AdbBatteryReader, DemoBatteryReader, LockdownBatteryReader } from '../devices/health/readers.js';
import { HealthMonitor, type BatteryReader, type HealthTransition } from '../devices/health/monitor.js';
import type { DeviceSink, DeviceSource, SourceName, StatusChange } from '../devices/model.js';
import { AdbSource } from '../devices/sources/adb.js';
import { AppiumSource } from '../devices/sources/appium.js';
import { DemoSource } from '../devices/sources/demo.js';
import { Reservations } from '../devices/sources/reservations.js';
import { UsbSource } from '../devices/sources/usb.js';
import { UsbmuxSource } from '../devices/sources/usbmux.js';
import { DeviceTracker } from '../devices/tracker.js';
import type { Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import type { Database } from '../store/database.js';
import type { EngineConfig } from './config.js';
import type { DeviceDirectory, ReservationDesk, SourceBoard } from './parts.js';

export interface DeviceWiring {
  directory: DeviceDirectory;
  reservations: ReservationDesk;
  board: SourceBoard;
  health: HealthMonitor;
  services: Service[];
}

/** Why a source is off, in the words of the option that turned it off. */
const OFF_DETAIL: Record<SourceName, string> = {
  adb: 'turned off (--adb off)',
  usb: 'turned off (--usb off)',
  usbmux: 'turned off (--usbmux off)',
  appium: 'turned off (--appium off)',
  demo: 'no simulated phones (--demo 0)',
};

export function wireDevices(options: {
  config: EngineConfig;
  db: Database;
  log: Logger;
  publish: (event: ServerEvent) => void;
  /** Hands a change to delivery; settles once it is journaled. */
  onChange: (change: StatusChange) => Promise<void>;
  /** A health warning raised or cleared (debounced), with the device's name and labels then. */
  onHealth: (transition: HealthTransition, device: { name: string; labels: readonly string[] }) => void;
}): DeviceWiring {
  const { config, db, log, publish, onChange, onHealth } = options;
  // Sources report to the tracker, which is built below once their list is known.
  const sink: DeviceSink = {
    reportPresences: (...args) => tracker.reportPresences(...args),
    reportSessions: (...args) => tracker.reportSessions(...args),
  };
  const reservations = new Reservations({
    sink,
    initial: db.data.reservations,
    persist: (list) => {
      db.data.reservations = list;
      void db.save().catch((error: Error) => log.error(`could not save reservations: ${error.message}`));
    },
    log,
  });

  const sources: DeviceSource[] = [];
  if (config.adb) sources.push(new AdbSource({ ...config.adb, sink, log }));
  if (config.usb) sources.push(new UsbSource({ sink, log }));
  if (config.usbmux) sources.push(new UsbmuxSource({ socketPath: config.usbmux, sink, log }));
  if (config.appium) sources.push(new AppiumSource({ urls: config.appium, sink, log }));
  if (config.demo > 0) sources.push(new DemoSource({ count: config.demo, sink, log }));

  // The statuses in db.json never get ahead of the delivery journal: a status written before its
  // change was journaled would, after a crash in between, be a change nobody is ever told of. So
  // each write of the device list waits for the hand-off of every change it contains. (The other
  // way round, a crash after the journal and before db.json repeats the change with the same
  // webhook-id: see change-identity.ts.)
  const handoffs = new Set<Promise<void>>();
  let lastDeviceWrite: Promise<void> = Promise.resolve();
  const tracker = new DeviceTracker({
    initial: db.data.devices,
    persist: (devices) => {
      const journaled = Promise.all([...handoffs]);
      lastDeviceWrite = lastDeviceWrite
        .then(() => journaled)
        .then(() => {
          db.data.devices = devices;
          return db.save();
        })
        .catch((error: Error) => log.error(`could not save devices: ${error.message}`));
      return lastDeviceWrite;
    },
    // Start-up reconciliation waits for each enabled source's first report (or 3 s).
    awaitSources: sources.map((s) => s.name),
    log,
  });
  tracker.on('change', (change) => {
    const handoff = onChange(change).finally(() => handoffs.delete(handoff));
    handoffs.add(handoff);
    const device = tracker.device(change.udid);
    if (device)
      publish({ type: 'device', data: { device, from: change.from, event: change.event, sequence: change.sequence } });
  });

  const readers: Partial<Record<SourceName, BatteryReader>> = {};
  if (config.adb) readers.adb = new AdbBatteryReader(config.adb);
  if (config.usbmux) readers.usbmux = new LockdownBatteryReader(config.usbmux);
  if (config.demo > 0) readers.demo = new DemoBatteryReader();
  const health = new HealthMonitor({
    host: tracker,
    readers,
    thresholds: () => db.data.settings.health,
    intervalMs: () => db.data.settings.health.readIntervalSeconds * 1000,
    log,
  });
  health.on('health', (udid) => {
    const device = tracker.device(udid);
    if (device) publish({ type: 'health', data: { device } });
  });
  health.on('transition', (transition) => {
    const device = tracker.device(transition.udid);
    if (device) onHealth(transition, device);
  });

  const board: SourceBoard = {
    sources: () =>
      SOURCE_NAMES.map((name): SourceInfo => {
        const source = sources.find((s) => s.name === name);
        return source ? { name, ...source.status() } : { name, state: 'off', detail: OFF_DETAIL[name] };
      }),
  };

  return {
    directory: tracker,
    reservations,
    board,
    health,
    // The tracker boots after the sources, so its settle timer starts once they run; it stops before
    // them and saves. Health readings start last and stop first.
    services: [reservations, ...sources, tracker, health],
  };
}
