/**
 * Order reads: the document by id, lists on the indexed columns, timeline, step journal and
 * idempotency records. Writes go through `commit` only.
 */
import type { SalesOrder, TimelineEntry } from '../../domain/index.js';
import type { IdempotencyRecord, JournalEntry, OrderListFilter } from '../../ports/index.js';
import { liveSourcePredicate } from './commit.js';
import {
  all,
  type Dialect,
  get,
  num,
  type Param,
  parseJson,
  parseJsonOrNull,
  type Txn,
  textOrNull,
} from './sql.js';

/** One order document. */
export function* getOrder(id: string): Txn<SalesOrder | null> {
  const row = yield* get('SELECT doc FROM orders WHERE id = ?', [id]);
  return row ? parseJson<SalesOrder>(row.doc) : null;
}

/**
 * The live (not rejected, not cancelled) order converted from a quote, if any: at most one, since
 * `orders_source_live` is unique (migration 6).
 */
export function* findOrderBySource(system: string, ref: string): Txn<SalesOrder | null> {
  const row = yield* get(`SELECT doc FROM orders WHERE source_key = ? AND ${liveSourcePredicate}`, [
    `${system}:${ref}`,
  ]);
  return row ? parseJson<SalesOrder>(row.doc) : null;
}

/** A customer's orders with this PO number, in any state, oldest first (at most `limit`). */
export function* findOrdersByPo(customerId: string, poNumber: string, limit: number): Txn<SalesOrder[]> {
  const rows = yield* all(
    'SELECT doc FROM orders WHERE customer_id = ? AND po_number = ? ORDER BY created_at, id LIMIT ?',
    [customerId, poNumber, Math.max(1, Math.min(limit, 1000))],
  );
  return rows.map((r) => parseJson<SalesOrder>(r.doc));
}

/** Orders in (createdAt, id) order, keyset-paged by `afterId`. */
export function* listOrders(d: Dialect, filter: OrderListFilter): Txn<SalesOrder[]> {
  const where: string[] = [];
  const params: Param[] = [];
  if (filter.states?.length) {
    where.push(d.inList('state'));
    params.push(d.list(filter.states));
  }
  if (filter.customerId !== undefined) {
    where.push('customer_id = ?');
    params.push(filter.customerId);
  }
  if (filter.holdReason !== undefined) {
    where.push('hold_reason = ?');
    params.push(filter.holdReason);
  }
  if (filter.afterId !== undefined) {
    where.push('(created_at, id) > (SELECT created_at, id FROM orders WHERE id = ?)');
    params.push(filter.afterId);
  }
  params.push(Math.max(1, Math.min(filter.limit ?? 100, 1000)));
  const sql = `SELECT doc FROM orders${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id LIMIT ?`;
  const rows = yield* all(sql, params);
  return rows.map((r) => parseJson<SalesOrder>(r.doc));
}

/** Order counts by state and hold reason (dashboards). */
export function* countOrders(d: Dialect): Txn<{ state: string; holdReason: string | null; count: number }[]> {
  const rows = yield* all(d.orderCountsSql);
  return rows.map((r) => ({
    state: String(r.state),
    holdReason: textOrNull(r.hold_reason),
    count: num(r.n),
  }));
}

/** An order's timeline in `seq` order. */
export function* getTimeline(orderId: string): Txn<TimelineEntry[]> {
  const rows = yield* all(
    'SELECT order_id, seq, at, kind, name, system, outcome, duration_ms, summary, correlation_id FROM timeline WHERE order_id = ? ORDER BY seq',
    [orderId],
  );
  return rows.map((r) => ({
    seq: num(r.seq),
    orderId: String(r.order_id),
    at: String(r.at),
    kind: String(r.kind) as TimelineEntry['kind'],
    name: String(r.name),
    system: String(r.system),
    outcome: String(r.outcome),
    durationMs: r.duration_ms === null ? null : num(r.duration_ms),
    summary: parseJson<Record<string, unknown>>(r.summary),
    correlationId: String(r.correlation_id),
  }));
}

/** An order's step journal in write order. */
export function* getJournal(orderId: string): Txn<JournalEntry[]> {
  const rows = yield* all(
    'SELECT order_id, step, status, attempt, output, error, at, duration_ms FROM step_journal WHERE order_id = ? ORDER BY id',
    [orderId],
  );
  return rows.map((r) => ({
    orderId: String(r.order_id),
    step: String(r.step),
    status: String(r.status) as JournalEntry['status'],
    attempt: num(r.attempt),
    output: parseJson<Record<string, unknown>>(r.output),
    error: parseJsonOrNull<Record<string, unknown>>(r.error),
    at: String(r.at),
    durationMs: num(r.duration_ms),
  }));
}

/** The stored answer to an idempotent request, if any. */
export function* getIdempotency(scope: string, key: string): Txn<IdempotencyRecord | null> {
  const r = yield* get(
    'SELECT scope, key, request_hash, response_status, response_body, created_at FROM idempotency WHERE scope = ? AND key = ?',
    [scope, key],
  );
  if (!r) return null;
  return {
    scope: String(r.scope),
    key: String(r.key),
    requestHash: String(r.request_hash),
    responseStatus: num(r.response_status),
    responseBody: parseJson<unknown>(r.response_body),
    createdAt: String(r.created_at),
  };
}

/** A change-feed watermark, or null before the first commit that set it. */
export function* getCursor(name: string): Txn<string | null> {
  const r = yield* get('SELECT value FROM cursors WHERE name = ?', [name]);
  return r ? String(r.value) : null;
}
