/**
 * The in-memory index of the delivery log: one compact entry per delivery (no attempt bodies,
 * those stay in the journal and are read by offset), kept in creation order, plus how many live
 * deliveries still have records in each journal segment, so dead segments can be deleted.
 * Entries are kept small on purpose: 100,000 of them must fit well inside the memory budget.
 */
import type { DeliveryStatus, WebhookEvent } from '../api/schemas.js';
import type { RecordRef } from './journal.js';

export interface Entry {
  /** Strictly increasing across the log: creation order, the id (base 36) and the creation time (n / 1000). */
  n: number;
  id: string;
  eventId: string;
  webhookId: number;
  udid: string;
  event: WebhookEvent;
  deviceName: string;
  sequence: number;
  observedAt: string;
  status: DeliveryStatus;
  /** Attempts made before the current round; a redelivery starts the schedule again. */
  base: number;
  /** When the next attempt is due (pending only). */
  nextAt: number;
  /** Position (seg * 2^32 + offset) and length of each attempt record, two numbers per attempt. */
  attempts: number[];
  /** The range of journal segments holding this delivery's records. */
  firstSeg: number;
  lastSeg: number;
  test: boolean;
  dropped: boolean;
}

export interface Bounds {
  maxAttempts: number;
  maxAgeMs: number;
}

const SEG_FACTOR = 2 ** 32;

export function attemptCount(entry: Entry): number {
  return entry.attempts.length >> 1;
}

export function attemptRef(entry: Entry, i: number): RecordRef {
  const pos = entry.attempts[i * 2]!;
  const seg = Math.floor(pos / SEG_FACTOR);
  return { seg, off: pos - seg * SEG_FACTOR, len: entry.attempts[i * 2 + 1]! };
}

export function createdAt(entry: Entry): number {
  return Math.floor(entry.n / 1000);
}

/** What a delivery weighs against the count bound: its attempts, and at least one so a never-tried delivery still counts. */
function weight(entry: Entry): number {
  return Math.max(1, entry.attempts.length >> 1);
}

export function idFromNumber(n: number): string {
  return n.toString(36).padStart(11, '0');
}

export function numberFromId(id: string): number {
  return /^[0-9a-z]{1,11}$/.test(id) ? parseInt(id, 36) : NaN;
}

export class Ledger {
  private entries: Entry[] = [];
  private head = 0;
  private droppedInArray = 0;
  private readonly byId = new Map<string, Entry>();
  private readonly live = new Map<number, number>();
  private total = 0;
  private lastN = 0;
  // Repeated strings (UDIDs, names) are shared, not one copy per delivery.
  private readonly strings = new Map<string, string>();

  constructor(
    private readonly bounds: Bounds,
    /** A closed segment that holds no live record any more. */
    private readonly onDeadSegment: (seg: number) => void,
    private readonly currentSegment: () => number,
  ) {}

  nextNumber(now: number): number {
    this.lastN = Math.max(now * 1000, this.lastN + 1);
    return this.lastN;
  }

  intern(text: string): string {
    const known = this.strings.get(text);
    if (known !== undefined) return known;
    if (this.strings.size > 50_000) this.strings.clear();
    this.strings.set(text, text);
    return text;
  }

  get(id: string): Entry | undefined {
    return this.byId.get(id);
  }

  get attemptTotal(): number {
    return this.total;
  }

  get size(): number {
    return this.byId.size;
  }

  /** Adds a delivery, or (a relocated copy during replay) replaces what an older record said. */
  add(entry: Entry, ref: RecordRef): void {
    const existing = this.byId.get(entry.id);
    if (existing) {
      this.total -= weight(existing);
      this.releaseSegments(existing);
      Object.assign(existing, entry, { attempts: [], dropped: false, firstSeg: ref.seg, lastSeg: ref.seg });
      this.total += weight(existing);
      this.cover(ref.seg, 1);
      return;
    }
    this.lastN = Math.max(this.lastN, entry.n);
    entry.firstSeg = ref.seg;
    entry.lastSeg = ref.seg;
    this.byId.set(entry.id, entry);
    this.entries.push(entry);
    this.total += 1;
    this.cover(ref.seg, 1);
  }

  addAttempt(entry: Entry, ref: RecordRef): void {
    this.total -= weight(entry);
    // A fresh array of exactly the right size: growing one by push over-allocates.
    const next = new Array<number>(entry.attempts.length + 2);
    for (let i = 0; i < entry.attempts.length; i++) next[i] = entry.attempts[i]!;
    next[entry.attempts.length] = ref.seg * SEG_FACTOR + ref.off;
    next[entry.attempts.length + 1] = ref.len;
    entry.attempts = next;
    this.total += weight(entry);
    this.extend(entry, ref.seg);
  }

  /** A record that changes a delivery's state but holds no attempt still keeps its segment alive. */
  addRecord(entry: Entry, ref: RecordRef): void {
    this.extend(entry, ref.seg);
  }

  /**
   * A delivery's records were copied forward (`snapshot` and one copy per attempt, durable now):
   * its first `copied` attempts now live at the copies, later ones stay where they are.
   */
  relocated(entry: Entry, snapshot: RecordRef, copies: RecordRef[], copied: number): void {
    if (entry.dropped) return;
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
    entry.attempts = attempts;
    entry.firstSeg = snapshot.seg;
    entry.lastSeg = last;
    for (let seg = oldFirst; seg <= oldLast; seg++) this.cover(seg, -1);
    for (let seg = oldFirst; seg <= oldLast; seg++) this.checkSegment(seg);
  }

  /** Live deliveries in creation order. */
  *all(): Iterable<Entry> {
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (!entry.dropped) yield entry;
    }
  }

  /** Newest first, after `cursor` (an id), matching `filter`; at most `limit`, and whether more exist. */
  page(filter: (entry: Entry) => boolean, limit: number, cursor?: string): { items: Entry[]; more: boolean } {
    let i = this.entries.length - 1;
    if (cursor !== undefined) {
      const n = numberFromId(cursor);
      if (Number.isNaN(n)) return { items: [], more: false };
      // First index whose number is >= n; start just below it.
      let lo = this.head;
      let hi = this.entries.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.entries[mid]!.n < n) lo = mid + 1;
        else hi = mid;
      }
      i = lo - 1;
    }
    const items: Entry[] = [];
    for (; i >= this.head; i--) {
      const entry = this.entries[i]!;
      if (entry.dropped || !filter(entry)) continue;
      if (items.length === limit) return { items, more: true };
      items.push(entry);
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
    if (this.total <= this.bounds.maxAttempts && (oldest === undefined || oldest.n >= cutoff)) return;
    const target = this.total > this.bounds.maxAttempts ? this.bounds.maxAttempts - slack : this.total;
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (entry.dropped) continue;
      const old = entry.n < cutoff;
      if (this.total <= target && !old) break;
      if (entry.status !== 'pending') this.drop(entry);
    }
    while (this.head < this.entries.length && this.entries[this.head]!.dropped) {
      this.head += 1;
      this.droppedInArray -= 1;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    if (this.droppedInArray > 1024 && this.droppedInArray * 2 > this.entries.length - this.head) {
      this.entries = this.entries.slice(this.head).filter((e) => !e.dropped);
      this.head = 0;
      this.droppedInArray = 0;
    }
  }

  /** After rotation: a just-closed segment may already be dead. */
  checkSegment(seg: number): void {
    if ((this.live.get(seg) ?? 0) <= 0 && seg !== this.currentSegment()) {
      this.live.delete(seg);
      this.onDeadSegment(seg);
    }
  }

  private oldestLive(): Entry | undefined {
    for (let i = this.head; i < this.entries.length; i++) if (!this.entries[i]!.dropped) return this.entries[i];
    return undefined;
  }

  private drop(entry: Entry): void {
    entry.dropped = true;
    this.droppedInArray += 1;
    this.byId.delete(entry.id);
    this.total -= weight(entry);
    this.releaseSegments(entry);
    entry.attempts = [];
  }

  private releaseSegments(entry: Entry): void {
    for (let seg = entry.firstSeg; seg <= entry.lastSeg; seg++) this.cover(seg, -1);
    for (let seg = entry.firstSeg; seg <= entry.lastSeg; seg++) this.checkSegment(seg);
  }

  private extend(entry: Entry, seg: number): void {
    for (let s = entry.lastSeg + 1; s <= seg; s++) this.cover(s, 1);
    if (seg > entry.lastSeg) entry.lastSeg = seg;
  }

  private cover(seg: number, delta: number): void {
    this.live.set(seg, (this.live.get(seg) ?? 0) + delta);
  }
}
