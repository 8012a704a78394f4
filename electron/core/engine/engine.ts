/**
 * The engine: every service of the core, booted in order and shut down in reverse. Both doors
 * (the HTTP server of `serve`, the IPC bridge of the window) take an Engine and nothing else.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { TokenService } from '../access/tokens.js';
import type { ServerEvent } from '../api/contract.js';
import { bootAll, type Service } from '../lifecycle.js';
import { healthEvent } from '../delivery/payload.js';
import type { DeliveryEvent } from '../delivery/service.js';
import { Metrics } from '../metrics/metrics.js';
import type { Logger } from '../log.js';
import { LocalConfigLog } from '../store/config-ops.js';
import { Database } from '../store/database.js';
import { DirectoryLock } from '../store/lock.js';
import { WebhookStore } from '../webhooks/store.js';
import type { EngineConfig } from './config.js';
import { Dispatcher } from './dispatcher.js';
import { createHandlers } from './handlers.js';
import { wireDelivery } from './wire-delivery.js';
import { wireDevices } from './wire-devices.js';
import { joinFleet } from './wire-fleet.js';
import { VERSION } from './version.js';

export interface EngineEvents {
  event: [ServerEvent];
}

export class Engine {
  readonly events = new EventEmitter<EngineEvents>();
  readonly version = VERSION;
  private stop: (() => Promise<void>) | null = null;

  private constructor(
    readonly config: EngineConfig,
    readonly dispatcher: Dispatcher,
    readonly tokens: TokenService,
    readonly metrics: Metrics,
  ) {
    // Many browser tabs may listen to the event stream.
    this.events.setMaxListeners(0);
  }

  /** The admin credential behind the `/?token=` link; made at start, in memory only (see TokenService). */
  get signInToken(): string {
    return this.tokens.signInToken;
  }

  static async start(config: EngineConfig, log: Logger): Promise<Engine> {
    const lock = new DirectoryLock(config.dataDir);
    const db = new Database(config.dataDir);
    const lockService: Service = { name: 'lock', boot: () => lock.acquire(), shutdown: () => lock.release() };
    // The rest is built from what db.json holds, so the store comes up first.
    const stopStore = await bootAll([lockService, db], log);
    try {
      return await Engine.assemble(config, log, db, stopStore);
    } catch (error) {
      await stopStore();
      throw error;
    }
  }

  private static async assemble(
    config: EngineConfig,
    log: Logger,
    db: Database,
    stopStore: () => Promise<void>,
  ): Promise<Engine> {
    const fleet = config.fleet
      ? await joinFleet({ fleet: config.fleet, dataDir: config.dataDir, db, log, version: VERSION })
      : null;
    const configLog = fleet?.config ?? new LocalConfigLog(db);
    const tokens = new TokenService(configLog, config.adminToken, db);
    const webhooks = new WebhookStore(configLog);
    const publish = (event: ServerEvent) => engine.events.emit('event', event);

    const deliveries = wireDelivery({ config, db, webhooks, log, version: VERSION, publish });
    // In a fleet the window hears of devices from the fleet-wide view, which merges every host's.
    const devices = wireDevices({
      config,
      db,
      log,
      publish: fleet ? (event) => event.type !== 'device' && publish(event) : publish,
      onChange: (change) => {
        fleetDevices?.devices.localChanged();
        return deliveries.enqueue(change);
      },
      onHealth: (transition, device) =>
        void deliveries.enqueue({
          id: randomUUID(),
          udid: transition.udid,
          name: device.name,
          sequence: transition.sequence,
          observedAt: transition.at,
          labels: device.labels,
          event: healthEvent(transition.kind, transition.code),
        }),
    });
    const fleetDevices = fleet?.attachDevices(
      { directory: devices.directory, reservations: devices.reservations },
      publish,
    );

    const dispatcher = new Dispatcher(
      createHandlers({
        version: VERSION,
        config: configLog,
        tokens,
        webhooks,
        devices: fleetDevices?.devices ?? devices.directory,
        reservations: fleetDevices?.devices ?? devices.reservations,
        deliveries: deliveries.service,
        sources: devices.board,
        healthSettings: {
          get: () => ({ ...db.data.settings.health }),
          update: async (patch) => {
            await db.update((data) => {
              data.settings.health = { ...data.settings.health, ...patch };
            });
            return { ...db.data.settings.health };
          },
        },
      }),
    );
    const metrics = new Metrics({
      devices: () => devices.directory.devices(),
      sources: () => devices.board.sources(),
      pendingDeliveries: () => deliveries.service.pendingCount(),
    });
    deliveries.service.on('delivery', ({ delivery, attempt }: DeliveryEvent) =>
      metrics.attempted({ webhookId: delivery.webhookId, status: delivery.status, attempt }),
    );
    const engine = new Engine(config, dispatcher, tokens, metrics);

    webhooks.on(
      'removed',
      (id) =>
        void deliveries.service
          .cancelWebhook(id)
          .catch((error: Error) => log.error(`could not cancel the callbacks of webhook ${id}: ${error.message}`)),
    );
    // The delivery engine logs why it disabled a webhook; the window and the event stream hear of it here.
    webhooks.on('disabled', (webhook, reason) =>
      publish({
        type: 'notice',
        data: { level: 'warning', message: `Webhook "${webhook.name}" was disabled: ${reason}` },
      }),
    );

    // The fleet's link and configuration come first; delivery boots before the devices so no status change finds it closed.
    const stopServices = await bootAll(
      [...(fleet?.services ?? []), deliveries.service, ...devices.services, ...(fleetDevices?.services ?? [])],
      log,
    );
    engine.stop = async () => {
      await stopServices();
      await stopStore();
    };
    return engine;
  }

  async shutdown(): Promise<void> {
    const stop = this.stop;
    this.stop = null;
    await stop?.();
  }
}
