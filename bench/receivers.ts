/** The parent's handle on the receiver process (bench/receiver-host.ts). */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Arrival, ReceiverMode } from './receiver-host.js';

export type { Arrival, ReceiverMode } from './receiver-host.js';

const HOST = fileURLToPath(new URL('./receiver-host.js', import.meta.url));

export class ReceiverHost {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.error !== undefined) w.reject(new Error(m.error));
      else w.resolve(m.result);
    });
    child.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`receiver process exited (${code})`));
      this.waiting.clear();
    });
  }

  static spawn(): ReceiverHost {
    // A large semi-space keeps the receivers' young-generation GC pauses out of the latency tail.
    const child = fork(HOST, [], {
      execArgv: ['--max-semi-space-size=64'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    return new ReceiverHost(child);
  }

  private call<T>(body: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, body });
    });
  }

  /** Starts one receiver per mode; returns their URLs, in order. */
  async start(modes: ReceiverMode[]): Promise<string[]> {
    const started = await this.call<Array<{ index: number; url: string }>>({ cmd: 'start', modes });
    return started.map((s) => s.url);
  }

  reset(): Promise<void> {
    return this.call({ cmd: 'reset' });
  }

  counts(): Promise<number[]> {
    return this.call({ cmd: 'count' });
  }

  /** Every receiver's arrivals since the last reset, indexed like the receivers were started. */
  collect(): Promise<Arrival[][]> {
    return this.call({ cmd: 'collect' });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    await this.call({ cmd: 'stop' }).catch(() => {});
    await exited;
  }
}
