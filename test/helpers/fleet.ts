/** Fleet nodes as real `serve --fleet` processes, each with its own data directory, and a small client for each. */
import { request } from 'undici';
import type { NatsCluster } from '../peers/nats-cluster.js';
import { startServeProcess, type ServeProcess } from './serve-process.js';
import { tempDir } from './temp-dir.js';
import { waitFor } from './wait.js';

export interface FleetNode {
  host: string;
  /** Waits like waitFor; on a timeout the error carries the node's last output. */
  until<T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<T>;
  dataDir: string;
  process: ServeProcess;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

export interface FleetNodes {
  start(host: string, options?: { args?: string[]; dataDir?: string }): Promise<FleetNode>;
  /** Stops every node (SIGKILL) and removes their data directories. */
  cleanup(): Promise<void>;
}

/** Fast timings so faults show within seconds; everything else is the product's default. */
export const FAST_FLEET_ARGS = ['--fleet-host-timeout', '3s'];

export function fleetNodes(cluster: () => NatsCluster): FleetNodes {
  const started: FleetNode[] = [];
  const dirs: Array<() => Promise<void>> = [];
  return {
    async start(host, options = {}) {
      let dataDir = options.dataDir;
      if (!dataDir) {
        const dir = await tempDir(`labhook-fleet-${host}-`);
        dirs.push(dir.remove);
        dataDir = dir.path;
      }
      const process = await startServeProcess([
        '--data-dir',
        dataDir,
        '--fleet',
        cluster().urls,
        '--fleet-host',
        host,
        ...FAST_FLEET_ARGS,
        ...(options.args ?? []),
      ]);
      const node: FleetNode = {
        host,
        until: (what, probe) =>
          waitFor(what, probe).catch((error: Error) => {
            throw new Error(`${error.message}\n--- ${host} said:\n${process.output().slice(-3000)}`);
          }),
        dataDir,
        process,
        async call(method, path, body) {
          if (process.child.exitCode !== null || process.child.signalCode !== null)
            throw new Error(`${host} is not running:\n${process.output().slice(-3000)}`);
          const response = await request(`${process.base}/api/v1${path}`, {
            method: method as 'GET',
            headers: {
              authorization: `Bearer ${process.token}`,
              ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            },
            body: body !== undefined ? JSON.stringify(body) : undefined,
          });
          const text = await response.body.text();
          return { status: response.statusCode, body: text ? JSON.parse(text) : undefined };
        },
      };
      started.push(node);
      return node;
    },
    async cleanup() {
      await Promise.all(started.splice(0).map((n) => n.process.stop('SIGKILL')));
      for (const remove of dirs.splice(0)) await remove();
    },
  };
}
