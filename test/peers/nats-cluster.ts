/**
 * A real 3-server NATS JetStream cluster (Debian's `nats-server`) on loopback: each server on
 * ports the OS picked, with its own store directory under one temp folder, stopped by PID. Ready
 * means JetStream answers, not just that the ports listen: a fresh cluster's `/healthz` says ok
 * before the meta leader exists, and every JetStream call times out until it does, so readiness
 * is read from `/jsz`. Servers can be killed (-9), restarted on the same ports and store, paused
 * (SIGSTOP) and resumed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/free-port.js';
import { waitFor } from '../helpers/wait.js';

export const NATS_SERVER_BIN = '/usr/sbin/nats-server';

interface NodePorts {
  client: number;
  cluster: number;
  monitor: number;
}

export interface NatsNode {
  readonly name: string;
  readonly url: string;
  readonly ports: NodePorts;
  readonly pid: number | undefined;
  readonly running: boolean;
}

class ServerProcess implements NatsNode {
  child: ChildProcess | null = null;
  exited: Promise<void> = Promise.resolve();
  output = '';

  constructor(
    readonly name: string,
    readonly ports: NodePorts,
    readonly configFile: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.ports.client}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null;
  }

  start(): void {
    const child = spawn(NATS_SERVER_BIN, ['-c', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      // Enough of the tail to explain a failure, never the whole run.
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (this.child === child) this.child = null;
        resolve();
      }),
    );
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  async jsz(): Promise<Record<string, unknown> | null> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.ports.monitor}/jsz?streams=true&accounts=true`, {
        signal: AbortSignal.timeout(1000),
      });
      return response.ok ? ((await response.json()) as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }
}

export class NatsCluster {
  private constructor(
    private readonly root: string,
    private readonly servers: ServerProcess[],
  ) {}

  /** Starts `size` servers (default 3) as one cluster and waits until JetStream has a meta leader. */
  static async start(size = 3): Promise<NatsCluster> {
    const root = await mkdtemp(join(tmpdir(), 'labhook-nats-'));
    const ports: NodePorts[] = [];
    for (let i = 0; i < size; i++)
      ports.push({ client: await freePort(), cluster: await freePort(), monitor: await freePort() });
    const servers: ServerProcess[] = [];
    for (const [i, own] of ports.entries()) {
      const name = `n${i + 1}`;
      const store = join(root, name);
      await mkdir(store, { recursive: true });
      const routes = ports.filter((p) => p !== own).map((p) => `nats-route://127.0.0.1:${p.cluster}`);
      const config = [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${own.client}`,
        `http: 127.0.0.1:${own.monitor}`,
        `jetstream { store_dir: ${JSON.stringify(store)}, max_memory_store: 64MB, max_file_store: 2GB }`,
        `cluster { name: labhook-test, listen: 127.0.0.1:${own.cluster}, routes: [${routes.join(', ')}] }`,
        '',
      ].join('\n');
      const configFile = join(root, `${name}.conf`);
      await writeFile(configFile, config);
      servers.push(new ServerProcess(name, own, configFile));
    }
    const cluster = new NatsCluster(root, servers);
    try {
      for (const server of servers) server.start();
      await cluster.ready();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get nodes(): readonly NatsNode[] {
    return this.servers;
  }

  /** The client URLs, comma-separated, as `--fleet` takes them. */
  get urls(): string {
    return this.servers.map((s) => s.url).join(',');
  }

  /** Waits until every running server agrees on a meta leader. */
  async ready(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      `a JetStream meta leader on every running NATS server\n${this.servers.map((s) => `${s.name}: ${s.output.slice(-2000)}`).join('\n')}`,
      async () => {
        const running = this.servers.filter((s) => s.running);
        const leaders = await Promise.all(running.map(async (s) => metaLeader(await s.jsz())));
        return running.length > 0 && leaders.every((l) => l !== null && l === leaders[0]);
      },
      timeoutMs,
    );
  }

  /** The server that leads a stream's RAFT group now, or null (no stream, or an election under way). */
  async streamLeader(stream: string): Promise<NatsNode | null> {
    for (const server of this.servers.filter((s) => s.running)) {
      const jsz = await server.jsz();
      const name = streamCluster(jsz, stream)?.leader;
      if (name) return this.servers.find((s) => s.name === name) ?? null;
    }
    return null;
  }

  node(name: string): NatsNode {
    const server = this.servers.find((s) => s.name === name);
    if (!server) throw new Error(`no NATS server ${name}`);
    return server;
  }

  /** SIGKILL: the server dies without a word; its store stays for a restart. */
  async kill(node: NatsNode): Promise<void> {
    const server = this.server(node);
    server.signal('SIGKILL');
    await server.exited;
  }

  /** Starts a stopped server again, on the same ports and store. */
  restart(node: NatsNode): void {
    const server = this.server(node);
    if (server.running) throw new Error(`${server.name} is still running`);
    server.start();
  }

  pause(node: NatsNode): void {
    this.server(node).signal('SIGSTOP');
  }

  resume(node: NatsNode): void {
    this.server(node).signal('SIGCONT');
  }

  /** Kills every server (paused ones too) and removes the stores. */
  async stop(): Promise<void> {
    await Promise.all(
      this.servers.map(async (s) => {
        s.signal('SIGCONT');
        s.signal('SIGKILL');
        await s.exited;
      }),
    );
    await rm(this.root, { recursive: true, force: true });
  }

  /** The last lines each server printed, for a failed test's message. */
  output(): string {
    return this.servers.map((s) => `--- ${s.name}\n${s.output.slice(-3000)}`).join('\n');
  }

  private server(node: NatsNode): ServerProcess {
    const server = this.servers.find((s) => s === node || s.name === node.name);
    if (!server) throw new Error(`no NATS server ${node.name}`);
    return server;
  }
}

function metaLeader(jsz: Record<string, unknown> | null): string | null {
  const meta = jsz?.meta_cluster as { leader?: string } | undefined;
  return meta?.leader || null;
}

interface StreamDetail {
  name: string;
  cluster?: { leader?: string };
}

function streamCluster(jsz: Record<string, unknown> | null, stream: string): StreamDetail['cluster'] | null {
  const accounts = (jsz?.account_details ?? []) as Array<{ stream_detail?: StreamDetail[] }>;
  for (const account of accounts) {
    const found = account.stream_detail?.find((s) => s.name === stream);
    if (found) return found.cluster ?? null;
  }
  return null;
}
