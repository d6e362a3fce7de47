/**
 * Bounded containers for the simulators' records, so a long `--demo-traffic` run holds flat
 * memory: the oldest records are evicted past a bound, at O(1) (amortised) per insert.
 *
 * Why hand-written and not a cache library: what is evicted first is a business rule (a
 * warehouse order still in progress outlives a shipped one), logs are read by sequence number,
 * and every container counts what it evicted so inspection routes can say so. `lru-cache` and
 * friends evict by recency of use, which is not what a stand-in for a system of record does.
 *
 * Why explicit queues beside each Map instead of the Map's own insertion order: in V8 both
 * obvious ways to find a Map's oldest entry cost more than they seem. A fresh
 * `map.keys().next()` walks every hole deleted entries left since the last rehash (measured:
 * 14 µs per insert at 50,000 entries, 125 µs at 500,000), and a long-lived iterator that is not
 * advanced keeps every table the Map has been rehashed out of alive (measured: 157 MB retained
 * by a 1,000-entry Map after 3 million set/delete pairs). So eviction order lives in arrays of
 * ids, consumed from the front.
 */

/** A first-in-first-out queue over an array: O(1) amortised push and shift. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head] as T;
    this.items[this.head] = undefined as T;
    this.head++;
    // Drop the consumed front once it is most of the array (amortised O(1)).
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** Replaces the contents (compaction by the owner). */
  reset(items: T[]): void {
    this.items = items;
    this.head = 0;
  }
}

/**
 * A Map that keeps at most `max` entries: inserting a new key past the bound evicts the oldest
 * inserted one (updating an existing key keeps its place). For idempotency indexes. There is
 * no `delete`: each key sits in the eviction ring exactly once, from insertion to eviction.
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();
  /** Keys in insertion order, as a ring of `max` slots; `next` is the oldest once full. */
  private readonly ring: K[] = [];
  private next = 0;
  /** Entries evicted so far. */
  evicted = 0;

  constructor(readonly max: number) {
    if (!(Number.isInteger(max) && max > 0)) throw new RangeError(`bound must be a positive integer: ${max}`);
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): this {
    if (this.map.has(key)) {
      this.map.set(key, value);
      return this;
    }
    if (this.map.size >= this.max) {
      this.map.delete(this.ring[this.next] as K);
      this.evicted++;
    }
    this.map.set(key, value);
    this.ring[this.next] = key;
    this.next = (this.next + 1) % this.max;
    return this;
  }

  get size(): number {
    return this.map.size;
  }
}

/** A kept record and its eviction bookkeeping. */
interface Slot<V> {
  value: V;
  /** Insertion number: tells a queue entry of this record from one of an earlier record with the same id. */
  seq: number;
  settled: boolean;
}

/**
 * Records by id, in creation order, at most `max` of them. A record can be marked done
 * (`settle`): past the bound, the oldest settled record is evicted first, and only when none is
 * settled the oldest record overall (all of which are then open). `onEvict` lets the owner drop
 * its secondary indexes in the same step.
 */
export class BoundedRecords<K, V> {
  /** All kept records, in creation order (lookups and listing). */
  private readonly all = new Map<K, Slot<V>>();
  /** Every added record (id, insertion number), oldest first; entries of records gone since are skipped. */
  private readonly created = new Fifo<K>();
  private readonly createdSeq = new Fifo<number>();
  /** Settled records, oldest settled first. */
  private readonly settled = new Fifo<K>();
  private settledKept = 0;
  private seq = 0;
  /** Records evicted so far. */
  evicted = 0;

  constructor(
    readonly max: number,
    private readonly onEvict?: (id: K, record: V, settled: boolean) => void,
  ) {
    if (!(Number.isInteger(max) && max > 0)) throw new RangeError(`bound must be a positive integer: ${max}`);
  }

  get(id: K): V | undefined {
    return this.all.get(id)?.value;
  }

  has(id: K): boolean {
    return this.all.has(id);
  }

  /** Adds a new record (an existing id is replaced in place) and evicts past the bound. */
  add(id: K, record: V): void {
    const slot = this.all.get(id);
    if (slot) {
      slot.value = record;
      return;
    }
    const seq = ++this.seq;
    this.all.set(id, { value: record, seq, settled: false });
    this.created.push(id);
    this.createdSeq.push(seq);
    if (this.all.size > this.max) this.evictOne();
    // Entries of records evicted as settled stay in `created` until popped; rebuild it from the
    // kept open records once it is twice the bound (O(max) every max inserts: O(1) amortised).
    if (this.created.length > 2 * this.max + 64) this.compact();
  }

  /** Marks a kept record done: it becomes a candidate for eviction before any open one. */
  settle(id: K): void {
    const slot = this.all.get(id);
    if (!slot || slot.settled) return;
    slot.settled = true;
    this.settledKept++;
    this.settled.push(id);
  }

  /** Kept records in creation order. */
  *values(): IterableIterator<V> {
    for (const slot of this.all.values()) yield slot.value;
  }

  /** Number of kept records. */
  get size(): number {
    return this.all.size;
  }

  /** Number of kept records marked settled. */
  get settledCount(): number {
    return this.settledKept;
  }

  private evictOne(): void {
    let id: K | undefined;
    let slot: Slot<V> | undefined;
    if (this.settledKept > 0) {
      // Settled records leave only through this queue, so its front is always a kept one.
      id = this.settled.shift() as K;
      slot = this.all.get(id) as Slot<V>;
      this.settledKept--;
    } else {
      // Nothing settled: every kept record is open, so the oldest created one still kept goes.
      for (;;) {
        const candidate = this.created.shift();
        const seq = this.createdSeq.shift();
        if (candidate === undefined) return;
        const s = this.all.get(candidate);
        if (s && s.seq === seq) {
          id = candidate;
          slot = s;
          break;
        }
      }
    }
    this.all.delete(id);
    this.evicted++;
    this.onEvict?.(id, slot.value, slot.settled);
  }

  private compact(): void {
    const ids: K[] = [];
    const seqs: number[] = [];
    for (const [id, slot] of this.all) {
      if (slot.settled) continue;
      ids.push(id);
      seqs.push(slot.seq);
    }
    this.created.reset(ids);
    this.createdSeq.reset(seqs);
  }
}

/**
 * An append-only log numbered from 1 (gapless, never reused) that keeps the last `max` entries
 * in a ring: O(1) append, O(1) read by sequence number. `length` is the latest sequence number,
 * `first` the lowest one still kept.
 */
export class BoundedLog<T> {
  private readonly ring: T[] = [];
  private total = 0;

  constructor(
    readonly max: number,
    private readonly onEvict?: (entry: T) => void,
  ) {
    if (!(Number.isInteger(max) && max > 0)) throw new RangeError(`bound must be a positive integer: ${max}`);
  }

  /** Appends an entry; returns its sequence number. */
  push(entry: T): number {
    const slot = this.total % this.max;
    if (this.total >= this.max) this.onEvict?.(this.ring[slot] as T);
    this.ring[slot] = entry;
    this.total++;
    return this.total;
  }

  /** Entries appended so far (the latest sequence number). */
  get length(): number {
    return this.total;
  }

  /** Entries evicted so far (`first - 1`). */
  get evicted(): number {
    return Math.max(0, this.total - this.max);
  }

  /** Sequence number of the oldest kept entry (`length + 1` when empty). */
  get first(): number {
    return this.evicted + 1;
  }

  /** Entries kept. */
  get size(): number {
    return this.total - this.evicted;
  }

  /** The entry with sequence number `seq`, if still kept. */
  get(seq: number): T | undefined {
    if (!Number.isInteger(seq) || seq < this.first || seq > this.total) return undefined;
    return this.ring[(seq - 1) % this.max];
  }

  /**
   * Up to `limit` kept entries after sequence number `after` (0 = from the oldest kept): entries
   * evicted since are skipped. `start` is the sequence number the page actually follows.
   */
  after(after: number, limit: number): { entries: T[]; start: number } {
    const start = Math.max(after, this.evicted);
    const end = Math.min(this.total, start + Math.max(0, limit));
    const entries: T[] = [];
    for (let seq = start + 1; seq <= end; seq++) entries.push(this.ring[(seq - 1) % this.max] as T);
    return { entries, start };
  }

  /** Kept entries from the `offset`-th kept one (0 = the oldest kept), up to `limit`. */
  page(offset: number, limit: number): T[] {
    return this.after(this.evicted + Math.max(0, offset), limit).entries;
  }

  /** Kept entries, oldest first. */
  toArray(): T[] {
    return this.after(0, this.size).entries;
  }
}

/** Items `offset` … `offset + limit - 1` of an iteration, without copying the rest. */
export function pageOf<T>(items: Iterable<T>, offset: number, limit: number): T[] {
  const out: T[] = [];
  if (limit <= 0) return out;
  let i = 0;
  for (const item of items) {
    if (i++ < offset) continue;
    out.push(item);
    if (out.length >= limit) break;
  }
  return out;
}
