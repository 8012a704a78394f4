/**
 * This host's link to the fleet: one NATS connection (reconnecting forever), the JetStream
 * streams the fleet keeps, and whether the broker is reachable right now. Everything else in the
 * fleet waits on `ready` and hears `up`/`down`.
 *
 * Start-up does not wait for the broker forever: a host whose broker is down still watches its
 * phones. It waits a few seconds (so a healthy fleet starts with its configuration loaded), then
 * goes on and joins when a server answers.
 */
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import {
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { FleetConfig } from '../engine/config.js';
import type { Service } from '../lifecycle.js';
import type { Logger } from '../log.js';
import { STREAMS } from './subjects.js';

/** How long start-up waits for a first answer from the broker before going on without it. */
const FIRST_CONNECT_WAIT_MS = 5000;
/** JetStream calls on a fresh cluster time out until its meta leader is elected: they are retried. */
const JS_RETRY_MS = 500;

export interface FleetLinkEvents {
  up: [];
  down: [];
}

export interface Versioned {
  version: string;
  cluster: string | undefined;
  server: string;
}

/** The guarantees a server version weakens, in one sentence each (empty when none). */
export function versionWarnings(version: string): string[] {
  const [major, minor, patch] = version.split('.').map((n) => Number.parseInt(n, 10));
  const before = (a: number, b: number, c: number) =>
    major < a || (major === a && (minor < b || (minor === b && patch < c)));
  const warnings: string[] = [];
  if (before(2, 10, 0))
    warnings.push(
      `NATS ${version} acknowledges a write once a majority of servers hold it, not once it is on disk (sync_interval needs 2.10): losing power on two servers at once can lose acknowledged callbacks; use 2.10.23 or later with "sync_interval: always"`,
    );
  else if (before(2, 10, 23))
    warnings.push(
      `NATS ${version} can lose streams after kill -9 (fixed in 2.10.23); upgrade, and set "sync_interval: always"`,
    );
  return warnings;
}

export class FleetLink extends EventEmitter<FleetLinkEvents> implements Service {
  readonly name = 'fleet link';
  private nc: NatsConnection | null = null;
  private jsClient: JetStreamClient | null = null;
  private manager: JetStreamManager | null = null;
  private connected = false;
  private closed = false;
  private resolveReady!: () => void;
  /** Resolves once connected and every stream exists. */
  readonly ready: Promise<void> = new Promise((resolve) => (this.resolveReady = resolve));

  constructor(
    readonly config: FleetConfig,
    private readonly log: Logger,
  ) {
    super();
    this.setMaxListeners(0);
  }

  get isUp(): boolean {
    return this.connected && !this.closed;
  }

  get js(): JetStreamClient {
    if (!this.jsClient) throw new Error('the fleet is not connected yet');
    return this.jsClient;
  }

  get jsm(): JetStreamManager {
    if (!this.manager) throw new Error('the fleet is not connected yet');
    return this.manager;
  }

  get connection(): NatsConnection {
    if (!this.nc) throw new Error('the fleet is not connected yet');
    return this.nc;
  }

  async boot(): Promise<void> {
    const authenticator = this.config.creds ? credsAuthenticator(await readCreds(this.config.creds)) : undefined;
    const joining = this.join(authenticator);
    const waited = await Promise.race([
      joining.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), FIRST_CONNECT_WAIT_MS).unref()),
    ]);
    if (!waited)
      this.log.warn(
        `the fleet's NATS servers (${this.config.servers.join(', ')}) do not answer yet; this host watches its phones and joins when one does`,
      );
    joining.catch((error: Error) => this.log.error(`could not join the fleet: ${error.message}`));
  }

  private async join(authenticator: ReturnType<typeof credsAuthenticator> | undefined): Promise<void> {
    const nc = await connect({
      servers: this.config.servers,
      name: `labhook ${this.config.host}`,
      authenticator,
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // A paused or cut-off server shows within ~10 s even when no socket closes.
      pingInterval: 3000,
      maxPingOut: 3,
    });
    if (this.closed) {
      await nc.close();
      return;
    }
    this.nc = nc;
    void this.watchStatus(nc);
    this.manager = await jetstreamManager(nc, { timeout: 5000 });
    this.jsClient = jetstream(nc, { timeout: 5000 });
    await this.ensureStreams();
    this.connected = !nc.isClosed();
    const info = this.versioned();
    this.log.info(
      `joined the fleet "${info.cluster ?? 'unnamed cluster'}" as host "${this.config.host}" (NATS ${info.version} at ${info.server})`,
    );
    for (const warning of versionWarnings(info.version)) this.log.warn(warning);
    this.resolveReady();
    this.emit('up');
  }

  versioned(): Versioned {
    const info = this.nc?.info;
    return { version: info?.version ?? 'unknown', cluster: info?.cluster, server: this.nc?.getServer() ?? '' };
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (this.closed) return;
      if (status.type === 'disconnect' && this.connected) {
        this.connected = false;
        this.log.warn(`lost the fleet's NATS server ${status.server}; reconnecting`);
        this.emit('down');
      } else if (status.type === 'reconnect' && !this.connected && this.manager) {
        this.connected = true;
        this.log.info(`back in the fleet through ${status.server}`);
        this.emit('up');
      }
    }
  }

  /** Creates the fleet's streams where missing; an existing stream is left as it is. */
  private async ensureStreams(): Promise<void> {
    for (const stream of Object.values(STREAMS)) {
      const config: Partial<StreamConfig> & { name: string } = { ...stream, num_replicas: this.config.replicas };
      await this.retry(`creating the stream ${stream.name}`, async () => {
        try {
          await this.jsm.streams.info(stream.name);
        } catch (error) {
          if (!/stream not found/i.test((error as Error).message)) throw error;
          await this.jsm.streams.add(config);
        }
      });
    }
  }

  /** Runs a JetStream call until it succeeds: a fresh cluster answers only once its leaders are elected. */
  async retry<T>(what: string, call: () => Promise<T>): Promise<T> {
    let reported = false;
    for (;;) {
      try {
        return await call();
      } catch (error) {
        if (this.closed) throw error;
        if (!reported) this.log.warn(`${what} failed (${(error as Error).message}); retrying`);
        reported = true;
        await new Promise((resolve) => setTimeout(resolve, JS_RETRY_MS));
      }
    }
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    this.connected = false;
    const nc = this.nc;
    this.nc = null;
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
  }
}

async function readCreds(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new Error(`cannot read the fleet credentials ${path}: ${(error as Error).message}`, { cause: error });
  }
}
