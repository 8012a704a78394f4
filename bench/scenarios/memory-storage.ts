/**
 * Memory, storage and start-up, all around a full log:
 *  - a child process logs `total` attempts (batches of `batch` deliveries to 20 fast receivers);
 *    its RSS at the end is the memory figure;
 *  - another does the same after a warm-up in a scratch directory; each batch's cost is the
 *    storage figure;
 *  - that log then starts `serve` (launch → listening line), against an empty data directory, and
 *    a bare DeliveryService in a fresh process (journal replay alone).
 */
import { fork, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../harness.js';
import type { BatchCost, MemoryReport } from '../memory-child.js';
import { median, nowMs } from '../stats.js';

const MEMORY_CHILD = fileURLToPath(new URL('../memory-child.js', import.meta.url));
const BOOT_CHILD = fileURLToPath(new URL('../boot-child.js', import.meta.url));
export const CLI = fileURLToPath(new URL('../../electron/server/cli.js', import.meta.url));

export function fillLog(
  dataDir: string,
  urls: readonly string[],
  total: number,
  batch: number,
  execArgv: string[] = [],
  warmup = 0,
): Promise<MemoryReport> {
  return new Promise((resolve, reject) => {
    const child = fork(MEMORY_CHILD, [JSON.stringify({ dataDir, urls, total, batch, warmup })], {
      execArgv: ['--expose-gc', ...execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let report: MemoryReport | null = null;
    child.on('message', (m) => (report = m as MemoryReport));
    child.on('exit', (code) =>
      report ? resolve(report) : reject(new Error(`memory child exited (${code}) without a report`)),
    );
  });
}

/** The batches whose log size before them is nearest to `size`, `count` of them, as medians per delivery. */
export function costAt(batches: readonly BatchCost[], size: number, batchSize: number, count = 5) {
  const start = batches.findIndex((b) => b.logged >= size);
  const picked = batches.slice(
    start < 0 ? Math.max(0, batches.length - count) : start,
    (start < 0 ? batches.length : start) + count,
  );
  const per = (f: (b: BatchCost) => number) => median(picked.map((b) => f(b) / batchSize));
  return {
    logged: picked[0]?.logged ?? NaN,
    msPerDelivery: per((b) => b.ms),
    cpuMsPerDelivery: per((b) => b.cpuMs),
    gcMsPerDelivery: per((b) => b.gcMs),
    // Until the whole batch (50 changes × 20 webhooks) was durable in the outbox and its first attempts dispatched.
    enqueueMsPerBatch: median(picked.map((b) => b.enqueueMs)),
    bytesPerDelivery: per((b) => b.io.bytes),
    syncsPerDelivery: per((b) => b.io.syncs),
    ioMsPerDelivery: per((b) => b.io.ioMs),
  };
}

export interface LaunchResult {
  ms: number;
  /** VmRSS of the serve process right after its listening line, MB. */
  rssMb: number;
  output: string;
}

function rssOf(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
  } catch {
    return NaN;
  }
}

/** Launch of the compiled CLI → its listening line, then SIGTERM and wait for exit. */
export function launchServe(dataDir: string): Promise<LaunchResult> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const child = spawn(
      process.execPath,
      [CLI, '--data-dir', dataDir, '--port', '0', '--adb', 'off', '--appium', 'off', '--usb', 'off', '--usbmux', 'off'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LABHOOK_ADMIN_TOKEN: '' },
      },
    );
    let output = '';
    let ms = NaN;
    let rssMb = NaN;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (Number.isNaN(ms) && /Labhook listening on http/.test(output)) {
        ms = nowMs() - t0;
        rssMb = rssOf(child.pid);
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', () => {
      clearTimeout(timer);
      if (Number.isNaN(ms)) reject(new Error(`serve did not print its listening line:\n${output}`));
      else resolve({ ms, rssMb, output });
    });
  });
}

export interface BootResult {
  launchMs: number;
  bootMs: number;
  rssMb: number;
  rssAfterGcMb: number;
}

/** A fresh process that only opens the DeliveryService on `dataDir`. */
export function bootService(dataDir: string): Promise<BootResult> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const child = fork(BOOT_CHILD, [dataDir], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: BootResult | null = null;
    child.on('message', (m) => (result = { launchMs: nowMs() - t0, ...(m as Omit<BootResult, 'launchMs'>) }));
    child.on('exit', (code) => (result ? resolve(result) : reject(new Error(`boot child exited (${code})`))));
  });
}

/** A data directory holding the filled log (and whatever `serve` adds on its first start). */
export function fullDataDir(logDir: string): { dir: string; remove: () => void } {
  const target = tempDir('full');
  mkdirSync(target.dir, { recursive: true });
  cpSync(path.join(logDir, 'deliveries'), path.join(target.dir, 'deliveries'), { recursive: true });
  return target;
}
