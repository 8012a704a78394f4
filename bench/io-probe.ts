/**
 * Counts the journal's disk work from inside a process: every `fs.write` (bytes), every
 * `fdatasync`/`fsync` and the time spent in them. Must be installed before the delivery modules
 * are imported, because they take `promisify(fs.write)` once, at load.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';
import { nowMs } from './stats.js';

export interface IoCounts {
  writes: number;
  bytes: number;
  syncs: number;
  /** Milliseconds spent waiting for writes and syncs (they overlap other work on the thread pool). */
  ioMs: number;
}

export const io: IoCounts = { writes: 0, bytes: 0, syncs: 0, ioMs: 0 };
/** Duration of every asynchronous sync (ms), for diagnosing latency tails. */
export const syncDurations: number[] = [];
export const writeDurations: number[] = [];

export function snapshot(): IoCounts {
  return { ...io };
}

export function diff(a: IoCounts, b: IoCounts): IoCounts {
  return { writes: b.writes - a.writes, bytes: b.bytes - a.bytes, syncs: b.syncs - a.syncs, ioMs: b.ioMs - a.ioMs };
}

type AnyFn = (...args: any[]) => any;

/**
 * `skipSync`: syncs return at once without syncing — a what-if for diagnosis only (what the latency
 * would be with the sync off the send path), never for a reported figure.
 */
export function installIoProbe(skipSync = false): void {
  const mod = fs as unknown as Record<string, AnyFn>;
  const write = mod.write;
  const writeP = promisify(write) as AnyFn;
  const wrappedWrite: AnyFn & { [promisify.custom]?: AnyFn } = (...args) => write(...args);
  wrappedWrite[promisify.custom] = async (...args: unknown[]) => {
    const t = nowMs();
    const result = (await writeP(...args)) as { bytesWritten: number };
    io.writes += 1;
    io.bytes += result.bytesWritten;
    const took = nowMs() - t;
    io.ioMs += took;
    if (writeDurations.length < 1_000_000) writeDurations.push(took);
    return result;
  };
  mod.write = wrappedWrite;
  for (const name of ['fdatasync', 'fsync']) {
    const original = mod[name];
    const originalP = promisify(original) as AnyFn;
    const wrapped: AnyFn & { [promisify.custom]?: AnyFn } = (...args) => {
      io.syncs += 1;
      return original(...args);
    };
    wrapped[promisify.custom] = async (...args: unknown[]) => {
      const t = nowMs();
      if (!skipSync) await originalP(...args);
      const took = nowMs() - t;
      io.syncs += 1;
      io.ioMs += took;
      if (syncDurations.length < 1_000_000) syncDurations.push(took);
    };
    mod[name] = wrapped;
  }
  for (const name of ['fdatasyncSync', 'fsyncSync']) {
    const original = mod[name];
    mod[name] = (...args) => {
      const t = nowMs();
      const r = original(...args);
      io.syncs += 1;
      io.ioMs += nowMs() - t;
      return r;
    };
  }
}
