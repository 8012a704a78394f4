import { appendFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal, type RecordRef } from '../../electron/core/delivery/journal.js';
import { Ledger, idFromNumber, type Entry } from '../../electron/core/delivery/ledger.js';
import { tempDir } from '../helpers/temp-dir.js';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function open(dir: string, segmentBytes = 1 << 20) {
  const warnings: string[] = [];
  const journal = new Journal({ dir, segmentBytes, warn: (m) => warnings.push(m) });
  const seen: Array<{ head: Record<string, unknown>; ref: RecordRef }> = [];
  journal.open((head, ref) => seen.push({ head, ref }));
  cleanups.push(() => journal.close());
  return { journal, seen, warnings };
}

async function scratch(): Promise<string> {
  const tmp = await tempDir();
  cleanups.push(tmp.remove);
  return path.join(tmp.path, 'deliveries');
}

describe('journal', () => {
  it('group-commits one tick of records in one write, every waiter resolves, and one sync follows', async () => {
    const dir = await scratch();
    const { journal } = open(dir);
    const waits: Array<Promise<void>> = [];
    for (let i = 0; i < 1000; i++) {
      journal.append({ t: 'c', i }, i % 2 ? JSON.stringify({ body: 'x'.repeat(i) }) : undefined);
      waits.push(journal.commit());
    }
    await Promise.all(waits);
    expect(journal.stats).toEqual({ writes: 1, syncs: 0, records: 1000 });
    await journal.sync();
    expect(journal.stats.syncs).toBe(1);
    await journal.commit();
    await journal.sync();
    expect(journal.stats.syncs).toBe(1);
    // Records appended while a flush runs go out together in the next one.
    journal.append({ t: 'c', i: 1000 });
    const a = journal.commit();
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 50; i++) journal.append({ t: 'c', i: 1001 + i });
    await Promise.all([a, journal.commit()]);
    expect(journal.stats.writes).toBeLessThanOrEqual(3);
    // The background sync follows on its own.
    await expect.poll(() => journal.stats.syncs).toBe(2);
    await journal.close();
    const again = open(dir);
    expect(again.seen.map((s) => s.head.i)).toEqual(Array.from({ length: 1051 }, (_, i) => i));
  });

  it('reads a record back by its offset, body included', async () => {
    const dir = await scratch();
    const { journal } = open(dir);
    const body = JSON.stringify({ text: 'tab\there, line\nthere, ünïcödé' });
    journal.append({ t: 'c', n: 1 });
    const ref = journal.append({ t: 'a', n: 2 }, body);
    const line = (await journal.read(ref)).toString('utf8');
    expect(line).toBe(`{"t":"a","n":2}\t${body}\n`);
    await journal.close();
    const again = open(dir);
    expect(again.seen[1].ref).toEqual(ref);
    expect(again.seen.map((s) => s.head)).toEqual([
      { t: 'c', n: 1 },
      { t: 'a', n: 2 },
    ]);
  });

  it('replays attempt heads exactly as written, whichever way they are parsed', async () => {
    const dir = await scratch();
    const { journal } = open(dir);
    const heads = [
      { t: 'a', d: '0hojgr1013c', s: 'pending', x: 1795754883061 },
      { t: 'a', d: '0hojgr1013d', s: 'delivered', x: 0 },
      { t: 'a', d: '0hojgr1013e', s: 'constructor', x: 0 },
      { t: 'a', d: '0hojgr1013f', s: 'failed', x: 0, extra: true },
      { t: 's', d: '0hojgr1013c', s: 'failed', r: 'webhook deleted' },
    ];
    for (const head of heads) journal.append(head, head.t === 'a' ? '{"at":"x"}' : undefined);
    await journal.close();
    expect(open(dir).seen.map((s) => s.head)).toEqual(heads);
  });

  it('cuts a torn last record after a crash and appends after it', async () => {
    const dir = await scratch();
    const first = open(dir);
    for (let i = 0; i < 10; i++) first.journal.append({ t: 'c', i }, JSON.stringify({ pad: 'y'.repeat(300) }));
    await first.journal.close();
    const file = path.join(dir, readdirSync(dir)[0]);
    const intact = readFileSync(file).length;
    appendFileSync(file, '{"t":"a","i":10}\t{"pad":"yyy');
    const second = open(dir);
    expect(second.seen).toHaveLength(10);
    expect(second.warnings.join()).toMatch(/incomplete record/);
    expect(readFileSync(file).length).toBe(intact);
    second.journal.append({ t: 'c', i: 11 });
    await second.journal.close();
    expect(open(dir).seen.map((s) => s.head.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11]);
  });

  it('skips garbage inside an older segment and keeps reading', async () => {
    const dir = await scratch();
    const first = open(dir, 200);
    for (let i = 0; i < 6; i++) first.journal.append({ t: 'c', i, pad: 'z'.repeat(80) });
    await first.journal.close();
    const files = readdirSync(dir).sort();
    expect(files.length).toBeGreaterThan(2);
    const older = path.join(dir, files[0]);
    writeFileSync(older, `not json\n${readFileSync(older, 'utf8')}`);
    const second = open(dir, 200);
    expect(second.seen.map((s) => s.head.i)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(second.warnings.join()).toMatch(/skipped 1 unreadable/);
  });

  it('keeps the records after a damaged line in the newest segment', async () => {
    const dir = await scratch();
    const first = open(dir);
    for (let i = 0; i < 4; i++) first.journal.append({ t: 'c', i });
    await first.journal.close();
    const file = path.join(dir, readdirSync(dir)[0]);
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[1] = '{"t":"c","i":\u0000\u00ff garbage';
    writeFileSync(file, lines.join('\n'));
    const second = open(dir);
    expect(second.seen.map((s) => s.head.i)).toEqual([0, 2, 3]);
    expect(second.warnings.join()).toMatch(/skipped 1 unreadable/);
    second.journal.append({ t: 'c', i: 4 });
    await second.journal.close();
    expect(open(dir).seen.map((s) => s.head.i)).toEqual([0, 2, 3, 4]);
  });

  it('replays records larger than its read block and lines across block boundaries', async () => {
    const dir = await scratch();
    const { journal } = open(dir, 64 << 20);
    const big = JSON.stringify({ pad: 'q'.repeat(3 << 20) });
    const refs: RecordRef[] = [];
    for (let i = 0; i < 400; i++)
      refs.push(journal.append({ t: 'a', i }, i === 200 ? big : JSON.stringify({ pad: 'p'.repeat(7000 + i) })));
    await journal.close();
    const again = open(dir, 64 << 20);
    expect(again.seen.map((s) => s.head.i)).toEqual(Array.from({ length: 400 }, (_, i) => i));
    expect(again.seen.map((s) => s.ref)).toEqual(refs);
    expect(again.warnings).toEqual([]);
  });

  it('rotates segments, reports the closed one, and deletes only closed segments', async () => {
    const dir = await scratch();
    const { journal } = open(dir, 1000);
    const rotated: number[] = [];
    journal.onRotate = (seg) => rotated.push(seg);
    for (let i = 0; i < 30; i++) journal.append({ t: 'c', i, pad: 'r'.repeat(100) });
    await journal.commit();
    await new Promise((r) => setImmediate(r));
    const files = readdirSync(dir).sort();
    expect(files.length).toBeGreaterThan(3);
    expect(rotated).toEqual(Array.from({ length: files.length - 1 }, (_, i) => i + 1));
    journal.removeSegment(1);
    journal.removeSegment(journal.currentSegment);
    expect(readdirSync(dir).sort()).toEqual(files.slice(1));
  });
});

function entry(n: number, status: Entry['status'] = 'delivered'): Entry {
  return {
    n,
    id: idFromNumber(n),
    eventId: `e${n}`,
    webhookId: 1,
    udid: 'D',
    event: 'online',
    deviceName: 'Phone',
    sequence: 1,
    observedAt: '',
    status,
    base: 0,
    nextAt: 0,
    attempts: [],
    firstSeg: 0,
    lastSeg: 0,
    test: false,
    dropped: false,
  };
}

describe('ledger', () => {
  it('drops the oldest finished deliveries past the count bound, never a pending one, and frees dead segments', () => {
    const dead: number[] = [];
    let current = 1;
    const ledger = new Ledger(
      { maxAttempts: 100, maxAgeMs: 1e12 },
      (seg) => dead.push(seg),
      () => current,
    );
    const now = Date.now();
    for (let i = 0; i < 150; i++) {
      const seg = 1 + Math.floor(i / 10);
      current = seg;
      const e = entry(now * 1000 + i, i === 3 ? 'pending' : 'delivered');
      ledger.add(e, { seg, off: 0, len: 1 });
      ledger.addAttempt(e, { seg, off: 1, len: 1 });
      ledger.prune(now);
    }
    expect(ledger.attemptTotal).toBeLessThanOrEqual(100);
    expect(ledger.get(idFromNumber(now * 1000 + 3))?.status).toBe('pending');
    expect(ledger.get(idFromNumber(now * 1000 + 4))).toBeUndefined();
    expect(ledger.get(idFromNumber(now * 1000 + 149))).toBeDefined();
    // Segment 1 holds the pending one; later fully dropped segments are gone.
    expect(dead).not.toContain(1);
    expect(dead).toContain(2);
    expect(dead).not.toContain(current);
  });

  it('pages newest first with a cursor and filter', () => {
    const ledger = new Ledger(
      { maxAttempts: 1000, maxAgeMs: 1e12 },
      () => {},
      () => 1,
    );
    const base = Date.now() * 1000;
    for (let i = 0; i < 25; i++)
      ledger.add({ ...entry(base + i), udid: i % 2 ? 'odd' : 'even' }, { seg: 1, off: i, len: 1 });
    const odd = (e: Entry) => e.udid === 'odd';
    const first = ledger.page(odd, 5);
    expect(first.items.map((e) => e.n - base)).toEqual([23, 21, 19, 17, 15]);
    expect(first.more).toBe(true);
    const second = ledger.page(odd, 10, first.items[4].id);
    expect(second.items.map((e) => e.n - base)).toEqual([13, 11, 9, 7, 5, 3, 1]);
    expect(second.more).toBe(false);
    expect(ledger.page(odd, 5, 'not a cursor!').items).toEqual([]);
  });
});
