/**
 * Retention: the SQL that prunes what the hub no longer needs, one bounded batch per call.
 *
 * Why batches: a prune of millions of rows in one transaction would hold SQLite's one writer (and
 * every commit queued behind it) for seconds, and PostgreSQL's row locks as long. Each function
 * here is one transaction of at most `limit` rows; `SqlStore.prune` loops over them, so other
 * writes interleave between batches (on SQLite they share the writer's group commits).
 *
 * What is safe to delete:
 * - idempotency records, inbound dedupe records and audit entries: by age alone;
 * - exceptions: by age of their last change, and only resolved or discarded (the delete checks
 *   again, so one re-opened between an archive read and its delete stays);
 * - outbox events: by event time, and only when no subscription still owes the event. Under the
 *   cursor fan-out (SQLite) that means at or before every active subscription's `cursor_seq`, in
 *   no delivery block, and without a delivery row; under the row fan-out (PostgreSQL), without a
 *   delivery row. Delivery rows exist only while a delivery is undelivered (pending, leased,
 *   retrying, parked; see `deliveries.ts`), so "no row" is "delivered, or never for anyone".
 *   Outbox seqs are never reused (AUTOINCREMENT on SQLite, an identity on PostgreSQL), so cursors
 *   keep working when the events behind them are gone.
 *
 * Indexes behind the age scans: migration 5 (`idempotency_created`, `inbound_messages_received`,
 * `exceptions_closed`, `audit_log_at`); the outbox walks its primary key.
 */
import type { ArchivedTable } from '../../ports/index.js';
import { exceptionColumns, exceptionFromRow } from './exceptions.js';
import { all, type Dialect, get, num, type Param, parseJson, type Row, run, type Txn } from './sql.js';

/** Tables pruned by age alone, with what identifies a row and the column holding its age. */
const byAge = {
  idempotency: { key: '(scope, key)', select: 'scope, key', age: 'created_at' },
  inbound_messages: { key: '(source, id)', select: 'source, id', age: 'received_at' },
  audit_log: { key: 'id', select: 'id', age: 'at' },
} as const;

/** The statuses of an exception that is closed, and so may be pruned once old. */
export const closedStatuses = ['resolved', 'discarded'] as const;

/**
 * Deletes up to `limit` rows of a table pruned by age (no archive) older than `cutoff` (ISO
 * text, as those columns hold), oldest first; returns how many went.
 */
export function* pruneByAge(
  table: keyof typeof byAge | 'exceptions',
  cutoff: string,
  limit: number,
): Txn<number> {
  if (table === 'exceptions') {
    let n = 0;
    // One status at a time, so each scan is a range of the (status, updated_at) index.
    for (const status of closedStatuses) {
      n += yield* run(
        'DELETE FROM exceptions WHERE id IN (SELECT id FROM exceptions WHERE status = ? AND updated_at < ? ORDER BY updated_at LIMIT ?)',
        [status, cutoff, limit - n],
      );
      if (n >= limit) break;
    }
    return n;
  }
  const t = byAge[table];
  return yield* run(
    `DELETE FROM ${table} WHERE ${t.key} IN (SELECT ${t.select} FROM ${table} WHERE ${t.age} < ? ORDER BY ${t.age} LIMIT ?)`,
    [cutoff, limit],
  );
}

/** How many rows `pruneByAge` would delete in all. */
export function* countByAge(table: keyof typeof byAge | 'exceptions', cutoff: string): Txn<number> {
  if (table === 'exceptions') {
    let n = 0;
    for (const status of closedStatuses) {
      const r = yield* get('SELECT COUNT(*) AS n FROM exceptions WHERE status = ? AND updated_at < ?', [
        status,
        cutoff,
      ]);
      n += num(r?.n ?? 0);
    }
    return n;
  }
  const t = byAge[table];
  const r = yield* get(`SELECT COUNT(*) AS n FROM ${table} WHERE ${t.age} < ?`, [cutoff]);
  return num(r?.n ?? 0);
}

const auditColumns = 'id, actor, action, target, detail, at';

/**
 * Up to `limit` rows of an archived table that are due, as the archive keeps them (an
 * `ExceptionRecord`, or an audit entry with its id). A plain read: the caller archives them, then
 * deletes them with `deleteArchived`, which checks again that each is still due.
 */
export function* readArchiveBatch(
  table: ArchivedTable,
  cutoff: string,
  limit: number,
): Txn<Record<string, unknown>[]> {
  if (table === 'audit_log') {
    const rows = yield* all(`SELECT ${auditColumns} FROM audit_log WHERE at < ? ORDER BY at LIMIT ?`, [
      cutoff,
      limit,
    ]);
    return rows.map((r) => ({
      id: num(r.id),
      actor: String(r.actor),
      action: String(r.action),
      target: String(r.target),
      detail: parseJson<Record<string, unknown>>(r.detail),
      at: String(r.at),
    }));
  }
  const out: Record<string, unknown>[] = [];
  for (const status of closedStatuses) {
    if (out.length >= limit) break;
    const rows = yield* all(
      `SELECT ${exceptionColumns} FROM exceptions WHERE status = ? AND updated_at < ? ORDER BY updated_at LIMIT ?`,
      [status, cutoff, limit - out.length],
    );
    for (const r of rows) out.push({ ...exceptionFromRow(r) });
  }
  return out;
}

/**
 * Deletes archived rows by id, each only if it is still due (an exception re-opened or changed
 * since it was read stays; it is archived again when it is due again). Returns how many went.
 */
export function* deleteArchived(
  d: Dialect,
  table: ArchivedTable,
  ids: readonly (string | number)[],
  cutoff: string,
): Txn<number> {
  if (ids.length === 0) return 0;
  if (table === 'audit_log') {
    return yield* run(`DELETE FROM audit_log WHERE ${d.inList('id')} AND at < ?`, [
      d.list(ids.map(Number)),
      cutoff,
    ]);
  }
  return yield* run(
    `DELETE FROM exceptions WHERE ${d.inList('id')} AND status IN ('resolved', 'discarded') AND updated_at < ?`,
    [d.list(ids.map(String)), cutoff],
  );
}

/**
 * The highest outbox seq a prune run may look at: the seq of the newest event older than the cutoff
 * and, with cursors, no further than the slowest active subscription's cursor (past it, events are
 * still owed). Taken once per run: cursors only move forward (a new or re-activated subscription
 * starts at the end of the outbox), so a bound taken earlier stays safe. An old event with a
 * higher seq (a producer's time out of order) waits for a later run; it is never pruned early.
 *
 * Why `ORDER BY time_ms DESC LIMIT 1` and not `MAX(seq) … WHERE time_ms < ?`: SQLite answers the
 * MAX by walking seqs down from the newest until one is old, i.e. through every young event (days
 * of traffic) on the reading thread; this form is one probe of the time index on both databases.
 */
export function* outboxPruneBound(d: Dialect, cutoffMs: number): Txn<number> {
  const old = yield* get('SELECT seq FROM outbox WHERE time_ms < ? ORDER BY time_ms DESC LIMIT 1', [
    cutoffMs,
  ]);
  let hi = old === undefined ? 0 : num(old.seq);
  if (d.cursorFanout && hi > 0) {
    const c = yield* get('SELECT MIN(cursor_seq) AS c FROM subscriptions WHERE active = 1');
    if (c?.c !== null && c?.c !== undefined) hi = Math.min(hi, num(c.c));
  }
  return hi;
}

/** What one outbox batch did: rows removed (or removable, dry), how far it looked, whether that was all. */
export interface OutboxBatch {
  pruned: number;
  /** The last seq looked at: the next batch starts after it. */
  last: number;
  done: boolean;
}

/**
 * One outbox batch: up to `limit` events with seq in (`after`, `hi`] older than `cutoffMs`, of
 * which those no subscription owes are deleted (or only counted, `dryRun`). On PostgreSQL the
 * candidates are locked first (`FOR UPDATE SKIP LOCKED`), and a replay's insert of delivery rows
 * locks the events it reads (`FOR KEY SHARE`, `deliveries.ts`), so a replay and a prune of the
 * same event never both succeed: the replay's row would point at a deleted event. The delivery
 * check is a later statement, so under READ COMMITTED it sees every row committed before it.
 */
export function* pruneOutboxBatch(
  d: Dialect,
  cutoffMs: number,
  after: number,
  hi: number,
  limit: number,
  dryRun: boolean,
): Txn<OutboxBatch> {
  // `+time_ms`: a filter, not an index choice. The walk must follow the primary key from `after`
  // (seq order, bounded by LIMIT); the time index would scan every old event for each batch.
  const candidates = yield* all(
    `SELECT seq FROM outbox WHERE seq > ? AND seq <= ? AND +time_ms < ? ORDER BY seq LIMIT ?${dryRun ? '' : d.skipLocked}`,
    [after, hi, cutoffMs, limit],
  );
  if (candidates.length === 0) return { pruned: 0, last: hi, done: true };
  const last = num(candidates[candidates.length - 1]!.seq);
  const done = candidates.length < limit;
  let seqs = candidates.map((r) => num(r.seq));
  if (d.cursorFanout) {
    // Events handed out in a block (leased, or expired and not yet turned into rows) are owed.
    const held = new Set<number>();
    for (const b of yield* all('SELECT seqs FROM delivery_blocks')) {
      for (const s of parseJson<number[]>(b.seqs)) held.add(s);
    }
    if (held.size > 0) seqs = seqs.filter((s) => !held.has(s));
  }
  if (seqs.length === 0) return { pruned: 0, last, done };
  const subs = (yield* all('SELECT name FROM subscriptions')).map((r: Row) => String(r.name));
  // An event with a delivery row of any subscription is owed. One probe per subscription on the
  // (subscription, event_seq) unique index; with no subscription at all nothing is owed.
  const owed =
    subs.length === 0
      ? ''
      : ` AND NOT EXISTS (SELECT 1 FROM deliveries dl WHERE ${d.inList('dl.subscription')} AND dl.event_seq = outbox.seq)`;
  const params: Param[] = subs.length === 0 ? [d.list(seqs)] : [d.list(seqs), d.list(subs)];
  if (dryRun) {
    const r = yield* get(`SELECT COUNT(*) AS n FROM outbox WHERE ${d.inList('seq')}${owed}`, params);
    return { pruned: num(r?.n ?? 0), last, done };
  }
  const pruned = yield* run(`DELETE FROM outbox WHERE ${d.inList('seq')}${owed}`, params);
  return { pruned, last, done };
}
