/**
 * The delivery journal: append-only segment files of one record per line. A line is a small JSON
 * head, optionally followed by a tab and a JSON body (raw tabs and newlines never occur inside
 * JSON text, so both are safe separators). Start-up parses only the heads; bodies (attempt
 * details) are read back by offset when someone asks for them.
 *
 * Writes are group-committed: every record appended during one tick goes out in one write, and
 * everyone waiting on those records resolves together once it is done. A written record survives
 * the process being killed (it is in the kernel's page cache), which is the durability callers
 * wait for: attempts start then, not after the disk sync, whose tail (5–100 ms stalls on virtual
 * disks) would otherwise be every callback's tail. fdatasync follows within SYNC_DELAY_MS, and at
 * close, so a power loss costs at most that window.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../store/private-dir.js';

const write = promisify(fs.write);
const fdatasync = promisify(fs.fdatasync);
const read = promisify(fs.read);

const SEGMENT_NAME = /^(\d{8})\.jsonl$/;
const SYNC_DELAY_MS = 20;
const READ_BLOCK = 1024 * 1024;

export interface RecordRef {
  seg: number;
  off: number;
  len: number;
}

export interface JournalOptions {
  dir: string;
  /** A segment is closed and a new one started once it would grow past this many bytes. */
  segmentBytes: number;
  warn: (message: string) => void;
}

interface Batch {
  seg: number;
  parts: string[];
  bytes: number;
}

export class Journal {
  private readonly dir: string;
  private readonly segmentBytes: number;
  private readonly warn: (message: string) => void;
  private readonly fds = new Map<number, number>();
  private current = 1;
  private size = 0;
  private queue: Batch[] = [];
  private appended = 0;
  private written = 0;
  /** Files written since their last fdatasync, and the pending sync. */
  private readonly unsynced = new Set<number>();
  private syncTimer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> = Promise.resolve();
  private waiters: Array<{ target: number; resolve: () => void; reject: (error: Error) => void }> = [];
  private flushing = false;
  private scheduled = false;
  private failure: Error | null = null;
  private closed = false;
  /** Counters for diagnostics and tests: writes and syncs issued, records written. */
  readonly stats = { writes: 0, syncs: 0, records: 0 };
  /** Called with a closed segment number whenever the journal moves on to a new one. */
  onRotate: (seg: number) => void = () => {};

  constructor(options: JournalOptions) {
    this.dir = options.dir;
    this.segmentBytes = options.segmentBytes;
    this.warn = options.warn;
  }

  get currentSegment(): number {
    return this.current;
  }

  /** Segment numbers present on disk, oldest first. */
  segments(): number[] {
    return [...this.fds.keys()].sort((a, b) => a - b);
  }

  /**
   * Opens every segment and feeds each record's head to `visit`, oldest first. A torn tail of the
   * newest segment (a crash mid-write leaves a last line without its newline) is cut off; a
   * complete line that cannot be read is skipped with a warning, and the records after it are kept.
   */
  open(visit: (head: Record<string, unknown>, ref: RecordRef) => void): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const numbers = fs
      .readdirSync(this.dir)
      .map((name) => SEGMENT_NAME.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    // Segments are read in blocks into one reused buffer: a full log must not cost its size in memory.
    let block = Buffer.allocUnsafe(READ_BLOCK);
    for (const [i, seg] of numbers.entries()) {
      const last = i === numbers.length - 1;
      const file = this.file(seg);
      const fd = fs.openSync(file, 'a+', PRIVATE_FILE_MODE);
      this.fds.set(seg, fd);
      const size = fs.fstatSync(fd).size;
      let fileOffset = 0; // file position of block[0]
      let filled = 0;
      let pos = 0; // start of the next unparsed line, within block
      let bad = 0;
      let view = block.subarray(0, 0);
      for (;;) {
        const end = view.indexOf(10, pos);
        if (end === -1) {
          if (fileOffset + filled >= size) break;
          // Move the partial line to the front (growing the block for a huge line) and read on.
          const rest = filled - pos;
          if (rest * 2 > block.length) {
            const bigger = Buffer.allocUnsafe(block.length * 2);
            block.copy(bigger, 0, pos, filled);
            block = bigger;
          } else block.copy(block, 0, pos, filled);
          fileOffset += pos;
          filled = rest;
          pos = 0;
          const got = fs.readSync(fd, block, filled, block.length - filled, fileOffset + filled);
          if (got === 0) break;
          filled += got;
          view = block.subarray(0, filled);
          continue;
        }
        // Searched within the line only: a run of body-less lines must not scan ahead to the next tab.
        const tab = block.subarray(pos, end).indexOf(9);
        const headEnd = tab === -1 ? end : pos + tab;
        const head = parseHead(block, pos, headEnd);
        if (head === null) {
          bad += 1;
        } else {
          visit(head, { seg, off: fileOffset + pos, len: end + 1 - pos });
        }
        pos = end + 1;
      }
      const good = fileOffset + pos;
      if (bad) this.warn(`delivery journal ${path.basename(file)}: skipped ${bad} unreadable record(s)`);
      if (last) {
        if (good < size) {
          this.warn(
            `delivery journal ${path.basename(file)}: cut ${size - good} byte(s) of an incomplete record left by a crash`,
          );
          fs.ftruncateSync(fd, good);
          fs.fdatasyncSync(fd);
        }
        this.current = seg;
        this.size = good;
      }
    }
    if (numbers.length === 0) {
      this.current = 1;
      this.size = 0;
    }
  }

  /** Queues one record; returns where it will live. Written once a later `commit()` resolves. */
  append(head: object, body?: string): RecordRef {
    if (this.closed) throw new Error('delivery journal is closed');
    // Head and body are kept as separate strings: concatenating would copy the body once more.
    const headText = body === undefined ? `${JSON.stringify(head)}\n` : `${JSON.stringify(head)}\t`;
    const len = Buffer.byteLength(headText) + (body === undefined ? 0 : Buffer.byteLength(body) + 1);
    if (this.size > 0 && this.size + len > this.segmentBytes) {
      const closed = this.current;
      this.current += 1;
      this.size = 0;
      queueMicrotask(() => this.onRotate(closed));
    }
    const ref = { seg: this.current, off: this.size, len };
    this.size += len;
    // Kept as strings and encoded once per batch: one buffer per write, not one per record.
    let batch = this.queue[this.queue.length - 1];
    if (!batch || batch.seg !== this.current) {
      batch = { seg: this.current, parts: [], bytes: 0 };
      this.queue.push(batch);
    }
    batch.parts.push(headText);
    if (body !== undefined) batch.parts.push(body, '\n');
    batch.bytes += len;
    this.appended += 1;
    if (!this.scheduled && !this.flushing) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
    return ref;
  }

  /** Resolves once every record appended so far is written (it survives the process being killed). */
  commit(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.written >= this.appended) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ target: this.appended, resolve, reject }));
  }

  async read(ref: RecordRef): Promise<Buffer> {
    await this.commit();
    const fd = this.fds.get(ref.seg);
    if (fd === undefined) throw new Error(`delivery journal segment ${ref.seg} is gone`);
    const buf = Buffer.allocUnsafe(ref.len);
    const { bytesRead } = await read(fd, buf, 0, ref.len, ref.off);
    if (bytesRead !== ref.len) throw new Error(`delivery journal segment ${ref.seg}: short read at ${ref.off}`);
    return buf;
  }

  /** Deletes a closed segment whose records nobody needs any more. */
  removeSegment(seg: number): void {
    if (seg === this.current || this.queue.some((b) => b.seg === seg)) return;
    const fd = this.fds.get(seg);
    if (fd === undefined) return;
    this.fds.delete(seg);
    this.unsynced.delete(fd);
    fs.closeSync(fd);
    try {
      fs.unlinkSync(this.file(seg));
    } catch (error) {
      this.warn(`delivery journal: could not remove ${this.file(seg)}: ${(error as Error).message}`);
    }
  }

  segmentSize(seg: number): number {
    if (seg === this.current) return this.size;
    const fd = this.fds.get(seg);
    return fd === undefined ? 0 : fs.fstatSync(fd).size;
  }

  /** Resolves once every record written so far is also synced to the disk. */
  async sync(): Promise<void> {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    const fds = [...this.unsynced];
    this.unsynced.clear();
    this.syncing = this.syncing.then(async () => {
      for (const fd of fds) {
        if (![...this.fds.values()].includes(fd)) continue;
        await fdatasync(fd);
        this.stats.syncs += 1;
      }
    });
    try {
      await this.syncing;
    } catch (error) {
      this.fail(error as Error);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.commit().catch(() => {});
    await this.sync();
    this.closed = true;
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }

  private file(seg: number): string {
    return path.join(this.dir, `${String(seg).padStart(8, '0')}.jsonl`);
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0 && !this.failure) {
        const batches = this.queue;
        const target = this.appended;
        this.queue = [];
        let created = false;
        for (const batch of batches) {
          let fd = this.fds.get(batch.seg);
          if (fd === undefined) {
            fd = fs.openSync(this.file(batch.seg), 'a+', PRIVATE_FILE_MODE);
            this.fds.set(batch.seg, fd);
            created = true;
          }
          const buf = Buffer.allocUnsafe(batch.bytes);
          let at = 0;
          for (const part of batch.parts) at += buf.write(part, at);
          let done = 0;
          while (done < buf.length) {
            done += (await write(fd, buf, done, buf.length - done, null)).bytesWritten;
            this.stats.writes += 1;
          }
          this.unsynced.add(fd);
        }
        this.stats.records += target - this.written;
        if (created) syncDirectory(this.dir);
        this.written = target;
        this.syncTimer ??= setTimeout(() => void this.sync(), SYNC_DELAY_MS);
        const ready = this.waiters.filter((w) => w.target <= target);
        this.waiters = this.waiters.filter((w) => w.target > target);
        for (const w of ready) w.resolve();
      }
    } catch (error) {
      this.fail(error as Error);
    } finally {
      this.flushing = false;
    }
  }

  /**
   * A disk that refuses writes is not retried blindly: what is pending stays pending in memory,
   * and every caller waiting for it learns why it was not written.
   */
  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.warn(`delivery journal write failed: ${error.message}`);
    for (const w of this.waiters) w.reject(error);
    this.waiters = [];
  }
}

/** A new file's directory entry must be durable too, or a crash can lose the whole file. */
function syncDirectory(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some platforms (Windows) cannot open directories; their file systems order this themselves.
  }
}

const ATTEMPT_PREFIX = Buffer.from('{"t":"a","d":"');
const STATUS_KEY = Buffer.from('","s":"');
const NEXT_KEY = Buffer.from('","x":');
const STATUSES = new Map(['pending', 'delivered', 'failed'].map((s) => [s, s]));

/**
 * Parses a record head. Attempt heads (half of all records, always written by us in one shape)
 * take a fast path that spares start-up a JSON.parse and its garbage; anything else, or any
 * surprise, goes through JSON.parse. Null when the text is not a JSON object.
 */
function parseHead(buf: Buffer, start: number, end: number): Record<string, unknown> | null {
  if (buf.compare(ATTEMPT_PREFIX, 0, ATTEMPT_PREFIX.length, start, start + ATTEMPT_PREFIX.length) === 0) {
    const idStart = start + ATTEMPT_PREFIX.length;
    const idEnd = buf.indexOf(STATUS_KEY, idStart);
    if (idEnd !== -1 && idEnd < end) {
      const statusStart = idEnd + STATUS_KEY.length;
      const statusEnd = buf.indexOf(NEXT_KEY, statusStart);
      if (statusEnd !== -1 && statusEnd < end && buf[end - 1] === 0x7d) {
        const status = STATUSES.get(buf.toString('latin1', statusStart, statusEnd));
        const next = Number(buf.toString('latin1', statusEnd + NEXT_KEY.length, end - 1));
        if (status && Number.isFinite(next))
          return { t: 'a', d: buf.toString('latin1', idStart, idEnd), s: status, x: next };
      }
    }
  }
  try {
    const head: unknown = JSON.parse(buf.toString('utf8', start, end));
    return head !== null && typeof head === 'object' ? (head as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
