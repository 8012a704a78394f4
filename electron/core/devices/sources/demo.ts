/**
 * Simulated phones (`--demo N`), for trying Labhook without a lab. They report presences and
 * session claims like any other source, so their statuses go through the same tracker and rules and
 * their webhooks are real. Each phone cycles online → utilizing → online → offline → unplugged →
 * online…, on its own jittered schedule, starting at a different point of the cycle, so the list
 * shows every status and changes arrive one at a time rather than in a burst.
 */
import type { DeviceStatus } from '../../api/schemas.js';
import type { Logger } from '../../log.js';
import type {
  DeviceSink,
  DeviceSource,
  Platform,
  Presence,
  ReportOptions,
  SessionClaim,
  SourceState,
} from '../model.js';

const CYCLE: readonly DeviceStatus[] = ['online', 'utilizing', 'online', 'offline', 'unplugged'];

const MODELS: readonly { name: string; platform: Platform }[] = [
  { name: 'Demo Pixel 7', platform: 'android' },
  { name: 'Demo iPhone 15', platform: 'ios' },
  { name: 'Demo Galaxy S23', platform: 'android' },
  { name: 'Demo iPad Air', platform: 'ios' },
  { name: 'Demo Pixel 8 Pro', platform: 'android' },
  { name: 'Demo Galaxy Tab S9', platform: 'android' },
];

export interface DemoSourceOptions {
  count: number;
  sink: DeviceSink;
  log: Logger;
  /** Mean time a phone stays in one status. */
  stepMs?: number;
  random?: () => number;
}

interface Phone {
  udid: string;
  name: string;
  platform: Platform;
  phase: number;
  session: SessionClaim | null;
  timer: NodeJS.Timeout | null;
}

export class DemoSource implements DeviceSource {
  readonly name = 'demo' as const;

  private readonly phones: Phone[];
  private readonly sink: DeviceSink;
  private readonly log: Logger;
  private readonly stepMs: number;
  private readonly random: () => number;
  private running = false;
  private sessions = 0;

  constructor({ count, sink, log, stepMs = 4000, random = Math.random }: DemoSourceOptions) {
    if (!Number.isInteger(count) || count < 0) throw new RangeError('count must be a whole number, 0 or more');
    this.sink = sink;
    this.log = log;
    this.stepMs = stepMs;
    this.random = random;
    const width = Math.max(2, String(count).length);
    this.phones = Array.from({ length: count }, (_, i) => ({
      udid: `demo-${String(i + 1).padStart(width, '0')}`,
      ...MODELS[i % MODELS.length],
      phase: i % CYCLE.length,
      session: null,
      timer: null,
    }));
  }

  status(): SourceState {
    return this.running
      ? { state: 'running', detail: `${this.phones.length} simulated phone${this.phones.length === 1 ? '' : 's'}` }
      : { state: 'off', detail: 'not started' };
  }

  async boot(): Promise<void> {
    if (this.running) return;
    this.running = true;
    for (const phone of this.phones) if (CYCLE[phone.phase] === 'utilizing') phone.session = this.newSession(phone);
    // Sessions first, so no phone shows online between the two reports; the source's picture is
    // complete only with its presences.
    this.reportSessions({ complete: false });
    this.reportPresences();
    // Spread the first steps over one period so the phones do not change in lockstep.
    this.phones.forEach((phone, i) =>
      this.schedule(phone, (this.stepMs * (i + this.random())) / Math.max(1, this.phones.length)),
    );
    this.log.info(`demo: ${this.phones.length} simulated phones`);
  }

  async shutdown(): Promise<void> {
    // Phones are left as they are: stopping the demo is not unplugging them (reconciliation at the next start decides).
    this.running = false;
    for (const phone of this.phones) {
      if (phone.timer) clearTimeout(phone.timer);
      phone.timer = null;
    }
  }

  private schedule(phone: Phone, delayMs: number): void {
    phone.timer = setTimeout(() => this.step(phone), Math.max(1, delayMs));
    phone.timer.unref();
  }

  private step(phone: Phone): void {
    phone.timer = null;
    if (!this.running) return;
    const before = CYCLE[phone.phase];
    phone.phase = (phone.phase + 1) % CYCLE.length;
    const after = CYCLE[phone.phase];
    if (after === 'utilizing') {
      phone.session = this.newSession(phone);
      this.reportSessions();
    } else if (before === 'utilizing') {
      phone.session = null;
      this.reportSessions();
    } else {
      this.reportPresences();
    }
    this.schedule(phone, this.stepMs * (0.75 + this.random() * 0.5));
  }

  private newSession(phone: Phone): SessionClaim {
    this.sessions += 1;
    return { id: `demo-session-${this.sessions}`, udid: phone.udid, label: 'Demo session', expiresAt: null };
  }

  private reportPresences(): void {
    const presences: Presence[] = [];
    for (const phone of this.phones) {
      const status = CYCLE[phone.phase];
      if (status === 'unplugged') continue;
      presences.push({
        key: `demo:${phone.udid}`,
        udid: phone.udid,
        state: status === 'offline' ? 'unusable' : 'ready',
        platform: phone.platform,
        name: phone.name,
        detail: status === 'offline' ? 'offline' : 'device',
        simulated: true,
      });
    }
    this.sink.reportPresences('demo', presences);
  }

  private reportSessions(options?: ReportOptions): void {
    this.sink.reportSessions(
      'demo',
      this.phones.flatMap((phone) => (phone.session ? [phone.session] : [])),
      options,
    );
  }
}
