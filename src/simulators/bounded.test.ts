import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { BoundedLog, BoundedMap, BoundedRecords, pageOf } from './bounded.js';

/** Heap in use after a full collection (gc exposed at run time, as `--expose-gc` would). */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('BoundedMap', () => {
  test('keeps the newest max keys, evicting the oldest inserted; an update keeps its place', () => {
    const m = new BoundedMap<string, number>(3);
    for (const k of ['a', 'b', 'c']) m.set(k, 1);
    m.set('a', 2); // an update: no eviction, 'a' stays the oldest
    expect(m.size).toBe(3);
    m.set('d', 1);
    expect([m.has('a'), m.has('b'), m.has('c'), m.has('d')]).toEqual([false, true, true, true]);
    for (let i = 0; i < 10_000; i++) m.set(`k${i}`, i);
    expect(m.size).toBe(3);
    expect([m.get('k9997'), m.get('k9998'), m.get('k9999')]).toEqual([9997, 9998, 9999]);
    expect(m.evicted).toBe(10_001);
  });

  test('an evicted key inserted again counts as new and is evicted in its new turn', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1).set('b', 2).set('c', 3); // evicts a
    m.set('a', 4); // evicts b
    expect([m.has('a'), m.has('b'), m.has('c')]).toEqual([true, false, true]);
    m.set('d', 5); // evicts c, not the re-inserted a
    expect([m.get('a'), m.has('c'), m.get('d')]).toEqual([4, false, 5]);
  });

  test('refuses a bound that is not a positive integer', () => {
    expect(() => new BoundedMap(0)).toThrow(RangeError);
    expect(() => new BoundedLog(1.5)).toThrow(RangeError);
    expect(() => new BoundedRecords(-1)).toThrow(RangeError);
  });
});

describe('BoundedRecords', () => {
  test('evicts the oldest settled record first, and the oldest open one only when none is settled', () => {
    const evicted: string[] = [];
    const r = new BoundedRecords<string, { id: string }>(3, (id, _v, settled) =>
      evicted.push(`${id}:${settled ? 'settled' : 'open'}`),
    );
    for (const id of ['o1', 'o2', 'o3']) r.add(id, { id });
    r.settle('o3');
    r.settle('o2');
    r.add('o4', { id: 'o4' }); // o3 settled first, so it goes before o2
    r.add('o5', { id: 'o5' });
    r.add('o6', { id: 'o6' }); // nothing settled left: the oldest open, o1
    r.add('o7', { id: 'o7' });
    expect(evicted).toEqual(['o3:settled', 'o2:settled', 'o1:open', 'o4:open']);
    expect([...r.values()].map((v) => v.id)).toEqual(['o5', 'o6', 'o7']);
    expect(r.size).toBe(3);
    expect(r.evicted).toBe(4);
  });

  test('a record added again after its eviction is evicted in its new turn, not its old one', () => {
    const evicted: string[] = [];
    const r = new BoundedRecords<string, number>(2, (id, v) => evicted.push(`${id}=${v}`));
    r.add('a', 1);
    r.add('b', 2);
    r.settle('a');
    r.add('c', 3); // a goes (settled); its creation entry stays behind in the queue
    r.add('a', 4); // nothing settled: b, the oldest open
    r.add('d', 5); // c, not the new a
    expect(evicted).toEqual(['a=1', 'b=2', 'c=3']);
    expect([...r.values()]).toEqual([4, 5]);
  });

  test('stays at its bound through many inserts with a mix of settled and open records', () => {
    const r = new BoundedRecords<number, number>(100);
    for (let i = 0; i < 20_000; i++) {
      r.add(i, i);
      if (i % 3 === 0) r.settle(i);
    }
    expect(r.size).toBe(100);
    expect(r.has(19_999)).toBe(true);
    // Only open records survive the settled-first rule once enough newer ones arrive.
    expect([...r.values()].every((v) => v % 3 !== 0 || v > 19_800)).toBe(true);
  });
});

describe('flat memory under churn', () => {
  test('a million records through a bound of 1,000 retain no more than a few MB', () => {
    // Regression: a kept-but-idle Map iterator retains every table the Map is rehashed out of
    // (157 MB after 3 million set/delete pairs), which is why eviction order lives in arrays.
    const records = new BoundedRecords<number, number>(1_000);
    const keys = new BoundedMap<number, number>(1_000);
    for (let i = 0; i < 10_000; i++) {
      records.add(i, i);
      records.settle(i);
      keys.set(i, i);
    }
    const before = heapAfterGc();
    // Every record settled (as every confirmed ERP order is): eviction never needs the oldest
    // open record, so nothing walks the creation order while the Map is rehashed over and over.
    for (let i = 10_000; i < 1_000_000; i++) {
      records.add(i, i);
      records.settle(i);
      keys.set(i, i);
    }
    const grownMb = (heapAfterGc() - before) / 1_048_576;
    expect(records.size).toBe(1_000);
    expect(keys.size).toBe(1_000);
    expect(grownMb).toBeLessThan(8);
  });
});

describe('BoundedLog', () => {
  test('numbers entries from 1, keeps the last max, and reads by sequence number', () => {
    const seen: number[] = [];
    const log = new BoundedLog<number>(4, (e) => seen.push(e));
    for (let i = 1; i <= 10; i++) expect(log.push(i * 10)).toBe(i);
    expect(log.length).toBe(10);
    expect(log.size).toBe(4);
    expect(log.first).toBe(7);
    expect(log.evicted).toBe(6);
    expect(seen).toEqual([10, 20, 30, 40, 50, 60]);
    expect([log.get(6), log.get(7), log.get(10), log.get(11)]).toEqual([undefined, 70, 100, undefined]);
    expect(log.toArray()).toEqual([70, 80, 90, 100]);
    expect(log.page(1, 2)).toEqual([80, 90]);
  });

  test('a page after an evicted sequence number starts at the oldest kept entry', () => {
    const log = new BoundedLog<number>(3);
    for (let i = 1; i <= 8; i++) log.push(i);
    expect(log.after(2, 10)).toEqual({ entries: [6, 7, 8], start: 5 });
    expect(log.after(6, 1)).toEqual({ entries: [7], start: 6 });
    expect(log.after(8, 5)).toEqual({ entries: [], start: 8 });
  });
});

test('pageOf takes a window of an iteration', () => {
  expect(pageOf([1, 2, 3, 4, 5], 1, 2)).toEqual([2, 3]);
  expect(pageOf(new Set([1, 2]), 5, 2)).toEqual([]);
  expect(pageOf([1, 2], 0, 0)).toEqual([]);
});
