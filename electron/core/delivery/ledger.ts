/**
 * The in-memory index of the delivery log: one row per delivery (no attempt bodies, those stay in
 * the journal and are read by offset), kept in creation order, plus how many live deliveries
 * still have records in each journal segment, so dead segments can be deleted.
 *
 * 100,000 deliveries must fit well inside the memory budget, and an object per delivery costs
 * about 420 bytes of heap and makes V8 grow its heap to a multiple of that. So rows are columns of
 * typed arrays (about 54 bytes a row, outside the garbage-collected heap); what a status change
 * says (event id, device, time: shared by its deliveries, one per webhook) is an index into a
 * refcounted table; the first attempt's position is inline, later ones in a side map. Only pending
 * deliveries, the few the lanes hold, live as `Entry` objects ("hot"); any other delivery is read
 * out into a fresh `Entry` on demand. Every change goes through the ledger, which writes it to the
 * object it is given and to the row, so both always agree.
 */
import type { DeliveryStatus } from '../api/schemas.js';
import { udidKey } from '../devices/udid.js';
import type { RecordRef } from './journal.js';
import type { CallbackEvent } from './payload.js';

export interface Entry {
  /** Strictly increasing across the log: creation order, the id (base 36) and the creation time (n / 1000). */
  n: number;
  id: string;
  eventId: string;
  webhookId: number;
  udid: string;
  event: CallbackEvent;
  deviceName: string;
  sequence: number;
  observedAt: string;
  status: DeliveryStatus;
  /** Attempts made before the current round; a redelivery starts the schedule again. */
  base: number;
  /** When the next attempt is due (pending only). */
  nextAt: number;
  /** Position (seg * 2^32 + offset) and length of each attempt record, two numbers per attempt. Never changed in place. */
  attempts: number[];
  /** The range of journal segments holding this delivery's records. */
  firstSeg: number;
  lastSeg: number;
  test: boolean;
  dropped: boolean;
  /** Where the ledger last saw this delivery's row (rows move when the ledger compacts): a hint, checked before use. */
  row?: number;
}

export interface Bounds {
  maxAttempts: number;
  maxAgeMs: number;
}

export interface PageQuery {
  webhookId?: number;
  udid?: string;
  status?: DeliveryStatus;
}

const SEG_FACTOR = 2 ** 32;
const STATUSES: readonly DeliveryStatus[] = ['pending', 'delivered', 'failed'];
const PENDING = 0;
const TEST = 1;
const DROPPED = 2;
const INITIAL_ROWS = 1024;

export function attemptCount(entry: Entry): number {
  return entry.attempts.length >> 1;
}

export function attemptRef(entry: Entry, i: number): RecordRef {
  const pos = entry.attempts[i * 2];
  const seg = Math.floor(pos / SEG_FACTOR);
  return { seg, off: pos - seg * SEG_FACTOR, len: entry.attempts[i * 2 + 1] };
}

export function createdAt(entry: Entry): number {
  return Math.floor(entry.n / 1000);
}

export function idFromNumber(n: number): string {
  return n.toString(36).padStart(11, '0');
}

export function numberFromId(id: string): number {
  return /^[0-9a-z]{1,11}$/.test(id) ? parseInt(id, 36) : NaN;
}

function statusCode(status: DeliveryStatus): number {
  const code = STATUSES.indexOf(status);
  return code === -1 ? PENDING : code;
}

/** What one status change says: shared by its deliveries (one per webhook). */
interface Facts {
  eventId: string;
  udid: string;
  /** `udidKey(udid)`: what the `udid` filter compares, so any spelling of an iPhone's UDID finds it. */
  key: string;
  deviceName: string;
  event: CallbackEvent;
  sequence: number;
  observedAt: string;
  refs: number;
}

function sameFacts(f: Facts, e: Entry): boolean {
  return (
    f.eventId === e.eventId &&
    f.udid === e.udid &&
    f.deviceName === e.deviceName &&
    f.event === e.event &&
    f.sequence === e.sequence &&
    f.observedAt === e.observedAt
  );
}

/** The changes the rows point at, stored once, counted by the rows using them, freed with the last. */
class FactsTable {
  private readonly rows: Array<Facts | undefined> = [];
  private readonly byEvent = new Map<string, number>();
  private readonly free: number[] = [];
  // A device's UDID and name recur in every change it makes: one copy each. Cleared when large: that only loses sharing.
  private readonly devices = new Map<string, string>();
  // The deliveries of one change are added one after another: most lookups are this one.
  private last = -1;

  at(i: number): Facts {
    return this.rows[i]!;
  }

  /** The index of `entry`'s facts, counted once more; the entry's strings become the shared copies. */
  ref(entry: Entry): number {
    let i = this.last;
    let f = i === -1 ? undefined : this.rows[i];
    if (f === undefined || !sameFacts(f, entry)) {
      i = this.byEvent.get(entry.eventId) ?? -1;
      f = i === -1 ? undefined : this.rows[i];
      if (f === undefined || !sameFacts(f, entry)) {
        f = {
          eventId: entry.eventId,
          udid: this.device(entry.udid),
          key: this.device(udidKey(entry.udid)),
          deviceName: this.device(entry.deviceName),
          event: entry.event,
          sequence: entry.sequence,
          observedAt: entry.observedAt,
          refs: 0,
        };
        i = this.free.pop() ?? this.rows.length;
        this.rows[i] = f;
        if (!this.byEvent.has(f.eventId)) this.byEvent.set(f.eventId, i);
      }
      this.last = i;
    }
    f.refs += 1;
    entry.eventId = f.eventId;
    entry.udid = f.udid;
    entry.deviceName = f.deviceName;
    entry.observedAt = f.observedAt;
    return i;
  }

  private device(text: string): string {
    const known = this.devices.get(text);
    if (known !== undefined) return known;
    if (this.devices.size > 10_000) this.devices.clear();
    this.devices.set(text, text);
    return text;
  }

  unref(i: number): void {
    const f = this.rows[i]!;
    if (--f.refs > 0) return;
    if (this.byEvent.get(f.eventId) === i) this.byEvent.delete(f.eventId);
    this.rows[i] = undefined;
    this.free.push(i);
    if (this.last === i) this.last = -1;
  }
}

export class Ledger {
  // One row per delivery in [head, tail), in creation order (n increasing).
  private cap = 0;
  private head = 0;
  private tail = 0;
  private dead = 0;
  private nCol = new Float64Array(0);
  private nextAtCol = new Float64Array(0);
  private firstPosCol = new Float64Array(0);
  private firstLenCol = new Int32Array(0);
  private countCol = new Int32Array(0);
  private webhookCol = new Int32Array(0);
  private baseCol = new Int32Array(0);
  private firstSegCol = new Int32Array(0);
  private lastSegCol = new Int32Array(0);
  private factsCol = new Int32Array(0);
  private statusCol = new Uint8Array(0);
  private flagsCol = new Uint8Array(0);
  /** Attempts of deliveries with more than one, by n (the first one is inline in the row). */
  private readonly more = new Map<number, number[]>();
  /** Pending deliveries, by id: the objects the lanes hold. */
  private readonly hot = new Map<string, Entry>();
  private readonly facts = new FactsTable();
  private readonly live = new Map<number, number>();
  private total = 0;
  private count = 0;
  private lastN = 0;

  constructor(
    private readonly bounds: Bounds,
    /** A closed segment that holds no live record any more. */
    private readonly onDeadSegment: (seg: number) => void,
    private readonly currentSegment: () => number,
  ) {
    this.resize(INITIAL_ROWS);
  }

  nextNumber(now: number): number {
    this.lastN = Math.max(now * 1000, this.lastN + 1);
    return this.lastN;
  }

  get(id: string): Entry | undefined {
    const entry = this.hot.get(id);
    if (entry) return entry;
    const row = this.find(numberFromId(id));
    return row === -1 ? undefined : this.read(row, id);
  }

  get attemptTotal(): number {
    return this.total;
  }

  get size(): number {
    return this.count;
  }

  /** Adds a delivery, or (a relocated copy during replay) replaces what an older record said. */
  add(entry: Entry, ref: RecordRef): void {
    if (Number.isNaN(entry.n)) return;
    const row = this.find(entry.n);
    if (row !== -1) {
      this.total -= this.weight(row);
      this.releaseSegments(row);
      this.facts.unref(this.factsCol[row]);
      const existing = this.hot.get(entry.id);
      const target = existing ?? entry;
      if (existing) Object.assign(existing, entry);
      target.attempts = [];
      target.dropped = false;
      target.firstSeg = ref.seg;
      target.lastSeg = ref.seg;
      this.more.delete(entry.n);
      this.write(row, target);
      this.total += 1;
      this.cover(ref.seg, 1);
      this.track(target);
      return;
    }
    this.lastN = Math.max(this.lastN, entry.n);
    entry.firstSeg = ref.seg;
    entry.lastSeg = ref.seg;
    entry.attempts = [];
    entry.dropped = false;
    this.write(this.insertRow(entry.n), entry);
    this.count += 1;
    this.total += 1;
    this.cover(ref.seg, 1);
    this.track(entry);
  }

  addAttempt(entry: Entry, ref: RecordRef): void {
    const row = this.rowOf(entry);
    const old = row === -1 ? entry.attempts : this.rowAttempts(row);
    // A fresh array of exactly the right size: growing one by push over-allocates. Shared with `more`, never changed in place.
    const next = new Array<number>(old.length + 2);
    for (let i = 0; i < old.length; i++) next[i] = old[i]!;
    next[old.length] = ref.seg * SEG_FACTOR + ref.off;
    next[old.length + 1] = ref.len;
    entry.attempts = next;
    if (row !== -1) {
      this.total -= this.weight(row);
      this.writeAttempts(row, entry);
      this.total += this.weight(row);
    }
    this.extend(entry, row, ref.seg);
    this.mirror(entry);
  }

  /** A record that changes a delivery's state but holds no attempt still keeps its segment alive. */
  addRecord(entry: Entry, ref: RecordRef): void {
    this.extend(entry, this.rowOf(entry), ref.seg);
    this.mirror(entry);
  }

  /** A record's new status (and, when it says so, next due time and round base). */
  setState(entry: Entry, status: DeliveryStatus, nextAt?: number, base?: number): void {
    const live = this.hot.get(entry.id);
    // An older object for the same delivery (a lane's, from before a redelivery): the current one hears it too.
    if (live !== undefined && live !== entry) this.setState(live, status, nextAt, base);
    entry.status = status;
    if (nextAt !== undefined) entry.nextAt = nextAt;
    if (base !== undefined) entry.base = base;
    const row = this.rowOf(entry);
    if (row === -1) return;
    this.statusCol[row] = statusCode(status);
    this.nextAtCol[row] = entry.nextAt;
    this.baseCol[row] = entry.base;
    if (status === 'pending') {
      if (live === undefined) this.hot.set(entry.id, entry);
    } else if (live === entry) this.hot.delete(entry.id);
  }

  /**
   * A delivery's records were copied forward (`snapshot` and one copy per attempt, durable now):
   * its first `copied` attempts now live at the copies, later ones stay where they are.
   */
  relocated(entry: Entry, snapshot: RecordRef, copies: RecordRef[], copied: number): void {
    const row = this.rowOf(entry);
    if (entry.dropped || row === -1) return;
    const newer = entry.attempts.slice(copied * 2);
    const [oldFirst, oldLast] = [entry.firstSeg, entry.lastSeg];
    let last = snapshot.seg;
    for (const ref of copies) last = Math.max(last, ref.seg);
    if (oldLast > last) last = oldLast;
    for (let seg = snapshot.seg; seg <= last; seg++) this.cover(seg, 1);
    const attempts = new Array<number>(copies.length * 2 + newer.length);
    copies.forEach((ref, i) => {
      attempts[i * 2] = ref.seg * SEG_FACTOR + ref.off;
      attempts[i * 2 + 1] = ref.len;
    });
    newer.forEach((v, i) => (attempts[copies.length * 2 + i] = v));
    this.total -= this.weight(row);
    entry.attempts = attempts;
    this.writeAttempts(row, entry);
    this.total += this.weight(row);
    entry.firstSeg = snapshot.seg;
    entry.lastSeg = last;
    this.firstSegCol[row] = snapshot.seg;
    this.lastSegCol[row] = last;
    for (let seg = oldFirst; seg <= oldLast; seg++) this.cover(seg, -1);
    for (let seg = oldFirst; seg <= oldLast; seg++) this.checkSegment(seg);
  }

  /** Pending deliveries in creation order. */
  pending(): Entry[] {
    return [...this.hot.values()].sort((a, b) => a.n - b.n);
  }

  /**
   * Newest first, after `cursor` (an id), matching `query`; at most `limit`, and whether more exist.
   * A query object is matched on the rows; a function costs an object per row it looks at.
   */
  page(
    query: PageQuery | ((entry: Entry) => boolean),
    limit: number,
    cursor?: string,
  ): { items: Entry[]; more: boolean } {
    let i = this.tail - 1;
    if (cursor !== undefined) {
      const n = numberFromId(cursor);
      if (Number.isNaN(n)) return { items: [], more: false };
      i = this.lowerBound(n) - 1;
    }
    const items: Entry[] = [];
    if (typeof query === 'function') {
      for (; i >= this.head; i--) {
        if (this.flagsCol[i] & DROPPED) continue;
        const entry = this.entryAt(i);
        if (!query(entry)) continue;
        if (items.length === limit) return { items, more: true };
        items.push(entry);
      }
      return { items, more: false };
    }
    const udid = query.udid === undefined ? undefined : udidKey(query.udid);
    const webhookId = query.webhookId;
    const status = query.status === undefined ? -1 : statusCode(query.status);
    for (; i >= this.head; i--) {
      if (this.flagsCol[i] & DROPPED) continue;
      if (webhookId !== undefined && this.webhookCol[i] !== webhookId) continue;
      if (udid !== undefined && this.facts.at(this.factsCol[i]).key !== udid) continue;
      if (status !== -1 && this.statusCol[i] !== status) continue;
      if (items.length === limit) return { items, more: true };
      items.push(this.entryAt(i));
    }
    return { items, more: false };
  }

  /**
   * Drops the oldest finished deliveries beyond the bounds. Pending ones are never dropped. Once
   * over the count bound it drops 1% below it, so the scan runs once per many deliveries.
   */
  prune(now: number): void {
    const cutoff = (now - this.bounds.maxAgeMs) * 1000;
    const slack = Math.floor(this.bounds.maxAttempts / 100);
    const oldest = this.oldestLive();
    if (this.total <= this.bounds.maxAttempts && (oldest === -1 || this.nCol[oldest] >= cutoff)) return;
    const target = this.total > this.bounds.maxAttempts ? this.bounds.maxAttempts - slack : this.total;
    for (let i = this.head; i < this.tail; i++) {
      if (this.flagsCol[i] & DROPPED) continue;
      const old = this.nCol[i] < cutoff;
      if (this.total <= target && !old) break;
      if (this.statusCol[i] !== PENDING) this.drop(i);
    }
    while (this.head < this.tail && this.flagsCol[this.head] & DROPPED) {
      this.head += 1;
      this.dead -= 1;
    }
  }

  /** After rotation: a just-closed segment may already be dead. */
  checkSegment(seg: number): void {
    if ((this.live.get(seg) ?? 0) <= 0 && seg !== this.currentSegment()) {
      this.live.delete(seg);
      this.onDeadSegment(seg);
    }
  }

  // ---- rows ----

  /** The row of a live delivery with number `n`, or -1. */
  private find(n: number): number {
    if (Number.isNaN(n)) return -1;
    const row = this.lowerBound(n);
    return row < this.tail && this.nCol[row] === n && !(this.flagsCol[row] & DROPPED) ? row : -1;
  }

  private rowOf(entry: Entry): number {
    if (entry.dropped) return -1;
    const hint = entry.row;
    let row =
      hint !== undefined && hint >= this.head && hint < this.tail && this.nCol[hint] === entry.n
        ? hint
        : this.lowerBound(entry.n);
    if (row >= this.tail || this.nCol[row] !== entry.n) row = -1;
    else if (this.flagsCol[row] & DROPPED) {
      // A copy read out before its delivery left the log.
      entry.dropped = true;
      row = -1;
    }
    entry.row = row;
    return row;
  }

  /** The first row in [head, tail) whose number is >= n. */
  private lowerBound(n: number): number {
    let lo = this.head;
    let hi = this.tail;
    if (lo < hi && this.nCol[hi - 1] < n) return hi;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.nCol[mid] < n) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** A fresh row for number `n`, kept in order (an out-of-order one only comes from replaying a relocated copy). */
  private insertRow(n: number): number {
    if (this.tail === this.cap) {
      if (this.head + this.dead >= this.cap / 8) this.compact();
      else this.resize(this.cap * 2);
    }
    const at = this.lowerBound(n);
    if (at < this.tail) for (const col of this.columns()) col.copyWithin(at + 1, at, this.tail);
    this.tail += 1;
    return at;
  }

  private columns(): Array<Float64Array | Int32Array | Uint8Array> {
    return [
      this.nCol,
      this.nextAtCol,
      this.firstPosCol,
      this.firstLenCol,
      this.countCol,
      this.webhookCol,
      this.baseCol,
      this.firstSegCol,
      this.lastSegCol,
      this.factsCol,
      this.statusCol,
      this.flagsCol,
    ];
  }

  private resize(cap: number): void {
    const grow = <T extends Float64Array | Int32Array | Uint8Array>(col: T, make: (size: number) => T): T => {
      const next = make(cap);
      next.set(col.subarray(0, this.tail));
      return next;
    };
    const f64 = (size: number) => new Float64Array(size);
    const i32 = (size: number) => new Int32Array(size);
    const u8 = (size: number) => new Uint8Array(size);
    this.nCol = grow(this.nCol, f64);
    this.nextAtCol = grow(this.nextAtCol, f64);
    this.firstPosCol = grow(this.firstPosCol, f64);
    this.firstLenCol = grow(this.firstLenCol, i32);
    this.countCol = grow(this.countCol, i32);
    this.webhookCol = grow(this.webhookCol, i32);
    this.baseCol = grow(this.baseCol, i32);
    this.firstSegCol = grow(this.firstSegCol, i32);
    this.lastSegCol = grow(this.lastSegCol, i32);
    this.factsCol = grow(this.factsCol, i32);
    this.statusCol = grow(this.statusCol, u8);
    this.flagsCol = grow(this.flagsCol, u8);
    this.cap = cap;
  }

  /** Moves the live rows to the front, in order, over the dropped ones. */
  private compact(): void {
    const cols = this.columns();
    let w = 0;
    for (let r = this.head; r < this.tail; r++) {
      if (this.flagsCol[r] & DROPPED) continue;
      if (w !== r) for (const col of cols) col[w] = col[r]!;
      w += 1;
    }
    this.head = 0;
    this.tail = w;
    this.dead = 0;
  }

  private write(row: number, entry: Entry): void {
    entry.row = row;
    this.nCol[row] = entry.n;
    this.nextAtCol[row] = entry.nextAt;
    this.webhookCol[row] = entry.webhookId;
    this.baseCol[row] = entry.base;
    this.firstSegCol[row] = entry.firstSeg;
    this.lastSegCol[row] = entry.lastSeg;
    this.factsCol[row] = this.facts.ref(entry);
    this.statusCol[row] = statusCode(entry.status);
    this.flagsCol[row] = entry.test ? TEST : 0;
    this.writeAttempts(row, entry);
  }

  private writeAttempts(row: number, entry: Entry): void {
    const attempts = entry.attempts;
    const count = attempts.length >> 1;
    const before = this.countCol[row];
    this.countCol[row] = count;
    this.firstPosCol[row] = count > 0 ? attempts[0] : 0;
    this.firstLenCol[row] = count > 0 ? attempts[1] : 0;
    if (count > 1) this.more.set(this.nCol[row], attempts);
    else if (before > 1) this.more.delete(this.nCol[row]);
  }

  private entryAt(row: number): Entry {
    const id = idFromNumber(this.nCol[row]);
    return this.hot.get(id) ?? this.read(row, id);
  }

  /** A fresh object for a row that is not hot. */
  private read(row: number, id: string): Entry {
    const f = this.facts.at(this.factsCol[row]);
    return {
      n: this.nCol[row],
      id,
      eventId: f.eventId,
      webhookId: this.webhookCol[row],
      udid: f.udid,
      event: f.event,
      deviceName: f.deviceName,
      sequence: f.sequence,
      observedAt: f.observedAt,
      status: STATUSES[this.statusCol[row]],
      base: this.baseCol[row],
      nextAt: this.nextAtCol[row],
      attempts: this.rowAttempts(row),
      firstSeg: this.firstSegCol[row],
      lastSeg: this.lastSegCol[row],
      test: (this.flagsCol[row] & TEST) !== 0,
      dropped: false,
      row,
    };
  }

  private rowAttempts(row: number): number[] {
    const count = this.countCol[row];
    return count === 0
      ? []
      : count === 1
        ? [this.firstPosCol[row], this.firstLenCol[row]]
        : this.more.get(this.nCol[row])!;
  }

  /** An older object for the same delivery was changed (a lane's, from before a redelivery): the current one hears it too. */
  private mirror(entry: Entry): void {
    const live = this.hot.get(entry.id);
    if (live === undefined || live === entry) return;
    live.attempts = entry.attempts;
    live.lastSeg = entry.lastSeg;
  }

  /** Pending deliveries stay objects (one identity for the lanes); finished ones live in their row only. */
  private track(entry: Entry): void {
    if (entry.status === 'pending') {
      if (!this.hot.has(entry.id)) this.hot.set(entry.id, entry);
    } else if (this.hot.get(entry.id) === entry) this.hot.delete(entry.id);
  }

  /** What a delivery weighs against the count bound: its attempts, and at least one so a never-tried delivery still counts. */
  private weight(row: number): number {
    return Math.max(1, this.countCol[row]);
  }

  private oldestLive(): number {
    for (let i = this.head; i < this.tail; i++) if (!(this.flagsCol[i] & DROPPED)) return i;
    return -1;
  }

  private drop(row: number): void {
    this.flagsCol[row] |= DROPPED;
    this.dead += 1;
    this.count -= 1;
    this.total -= this.weight(row);
    // Only finished deliveries are dropped, and those are never hot.
    this.more.delete(this.nCol[row]);
    this.releaseSegments(row);
    this.facts.unref(this.factsCol[row]);
  }

  private releaseSegments(row: number): void {
    const first = this.firstSegCol[row];
    const last = this.lastSegCol[row];
    for (let seg = first; seg <= last; seg++) this.cover(seg, -1);
    for (let seg = first; seg <= last; seg++) this.checkSegment(seg);
  }

  private extend(entry: Entry, row: number, seg: number): void {
    // A delivery no longer in the log keeps no segment alive: nothing would ever release it.
    if (row === -1) return;
    // The row, not the object, knows the range (the object may be an older copy).
    const lastSeg = this.lastSegCol[row];
    entry.lastSeg = lastSeg;
    if (seg <= lastSeg) return;
    for (let s = lastSeg + 1; s <= seg; s++) this.cover(s, 1);
    entry.lastSeg = seg;
    this.lastSegCol[row] = seg;
  }

  private cover(seg: number, delta: number): void {
    this.live.set(seg, (this.live.get(seg) ?? 0) + delta);
  }
}
