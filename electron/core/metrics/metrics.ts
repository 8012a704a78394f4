/**
 * `GET /metrics`: the engine in Prometheus' text format, through prom-client. A registry of our
 * own (not prom-client's global one), filled at scrape time from the engine's parts, so nothing
 * here runs between scrapes except two counters and a histogram the delivery events feed.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DEVICE_STATUSES, type Attempt, type Device, type SourceInfo } from '../api/schemas.js';

export interface MetricsSources {
  devices(): Device[];
  sources(): SourceInfo[];
  pendingDeliveries(): number;
}

/** A delivery attempt as the metrics hear of it. */
export interface AttemptOutcome {
  webhookId: number;
  /** The delivery's status after this attempt. */
  status: 'pending' | 'delivered' | 'failed';
  attempt: Pick<Attempt, 'durationMs' | 'error'>;
}

const SOURCE_STATES = ['running', 'unavailable', 'off'] as const;

export class Metrics {
  readonly registry = new Registry();
  private readonly attempts: Counter<'webhook_id' | 'outcome'>;
  private readonly finished: Counter<'webhook_id' | 'status'>;
  private readonly latency: Histogram;

  constructor(from: MetricsSources) {
    const registry = this.registry;
    new Gauge({
      name: 'labhook_devices',
      help: 'Devices per status',
      labelNames: ['status'],
      registers: [registry],
      collect() {
        this.reset();
        const counts = new Map<string, number>(DEVICE_STATUSES.map((s) => [s, 0]));
        for (const device of from.devices()) counts.set(device.status, (counts.get(device.status) ?? 0) + 1);
        for (const [status, count] of counts) this.set({ status }, count);
      },
    });
    const perDevice = (
      name: string,
      help: string,
      value: (device: Device) => number | null,
    ): Gauge<'udid' | 'name' | 'platform'> =>
      new Gauge({
        name,
        help,
        labelNames: ['udid', 'name', 'platform'],
        registers: [registry],
        collect() {
          this.reset();
          for (const device of from.devices()) {
            const v = value(device);
            // Unknown is left out rather than written as 0, which a graph would take for an empty battery.
            if (v !== null) this.set({ udid: device.udid, name: device.name, platform: device.platform }, v);
          }
        },
      });
    perDevice('labhook_device_battery_level_percent', 'Battery level of each device', (d) => d.health.batteryLevel);
    perDevice(
      'labhook_device_battery_temperature_celsius',
      'Battery temperature of each device',
      (d) => d.health.batteryTemp,
    );
    perDevice(
      'labhook_device_flaps_last_hour',
      'Drops from online or utilizing in the last hour',
      (d) => d.health.flapsLastHour,
    );
    perDevice('labhook_device_warnings', 'Health warnings each device has now', (d) => d.health.warnings.length);
    new Gauge({
      name: 'labhook_source_up',
      help: 'Each device source by state (1 for its current state)',
      labelNames: ['source', 'state'],
      registers: [registry],
      collect() {
        this.reset();
        for (const source of from.sources())
          for (const state of SOURCE_STATES) this.set({ source: source.name, state }, source.state === state ? 1 : 0);
      },
    });
    new Gauge({
      name: 'labhook_deliveries_pending',
      help: 'Callbacks waiting to be delivered (first attempt or a retry)',
      registers: [registry],
      collect() {
        this.set(from.pendingDeliveries());
      },
    });
    this.attempts = new Counter({
      name: 'labhook_delivery_attempts_total',
      help: 'Delivery attempts by outcome (success: a 2xx in time)',
      labelNames: ['webhook_id', 'outcome'],
      registers: [registry],
    });
    this.finished = new Counter({
      name: 'labhook_deliveries_total',
      help: 'Deliveries that finished, by status (delivered, or failed after the last retry)',
      labelNames: ['webhook_id', 'status'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'labhook_delivery_attempt_duration_seconds',
      help: 'How long each delivery attempt took, until the response or the error',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
      registers: [registry],
    });
  }

  /** Counts one attempt (and the delivery, once it is final). */
  attempted(outcome: AttemptOutcome): void {
    const result = outcome.attempt.error === null ? 'success' : 'failure';
    const webhook = String(outcome.webhookId);
    this.attempts.inc({ webhook_id: webhook, outcome: result });
    this.latency.observe(outcome.attempt.durationMs / 1000);
    if (outcome.status !== 'pending') this.finished.inc({ webhook_id: webhook, status: outcome.status });
  }

  /** The text a scrape answers, and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
