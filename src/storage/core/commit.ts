/**
 * `commit(unit)`: everything one decision writes, as one transaction body shared by both backends.
 *
 * Checks that can refuse the unit (inbound dedupe, order version, idempotency key, inventory) run
 * first, so a refused unit does as little work as possible before its rollback. The caller wraps
 * this in a transaction (PostgreSQL) or a savepoint inside a group commit (SQLite); throwing here
 * is what makes "nothing written" true.
 */
import { CrossdockError, type SalesOrder } from '../../domain/index.js';
import type { CommitResult, CommitUnit, ExceptionInput, SubscriptionDef } from '../../ports/index.js';
import { putApiKey } from './governance.js';
import { upsertCustomers } from './master-data.js';
import { all, type Dialect, dueImmediately, get, num, type Param, parseJson, run, type Txn } from './sql.js';

/**
 * `CommitUnit.cursors` is being added to the port in the same change set; reading it through this
 * type keeps storage compiling whether or not that port edit has been committed yet.
 */
type WithCursors = CommitUnit & { cursors?: { name: string; value: string }[] };

/** Per-transaction memo shared by the units of one group commit. */
export interface CommitContext {
  /** Active subscriptions, read once per transaction. */
  subscriptions?: { name: string; types: string[] }[];
}

/** Whether an event type passes a subscription's prefix filter (empty = everything). */
export function matchesTypes(types: readonly string[], type: string): boolean {
  return types.length === 0 || types.some((prefix) => type.startsWith(prefix));
}

/** The reason of the first open hold: the indexed column behind "orders held for credit". */
export function holdReasonOf(order: SalesOrder): string | null {
  const open = (order.holds ?? []).find((h) => h.resolvedAt === null || h.resolvedAt === undefined);
  return open ? open.reason : null;
}

/**
 * The quote an order was converted from, as the unique `orders.source_key` (`<system>:<ref>`), or
 * null for an order posted without a quote reference (its `source.ref` is its own id). Only orders
 * not rejected or cancelled hold their key (`orders_source_live`, migration 6): one live order
 * per quote, checked in the transaction that commits the decision.
 */
export function sourceKeyOf(order: Pick<SalesOrder, 'id' | 'source'>): string | null {
  return order.source.ref === order.id ? null : `${order.source.system}:${order.source.ref}`;
}

/** The predicate of `orders_source_live`, written the same way in queries so they can use the index. */
export const liveSourcePredicate = "source_key IS NOT NULL AND state NOT IN ('rejected', 'cancelled')";

/** The conflict of an order whose quote already has the live order `existingOrderId`. */
function duplicateSource(next: SalesOrder, existingOrderId: string): CrossdockError {
  return CrossdockError.conflict(
    `quote ${next.source.system}:${next.source.ref} is already order ${existingOrderId}`,
    {
      details: {
        reason: 'duplicate_source',
        orderId: next.id,
        existingOrderId,
        source: { system: next.source.system, ref: next.source.ref },
      },
    },
  );
}

const valueRowsCache = new Map<number, string>();

/**
 * `(?, …), (?, …)` for a multi-row INSERT. Why: one statement per table instead of one per row
 * saves a round trip per row on PostgreSQL and a statement step per row on SQLite; the text is
 * cached per shape so prepared-statement caches see a handful of variants.
 */
export function valueRows(rows: number, columns: number): string {
  const cacheKey = rows * 1000 + columns;
  let text = valueRowsCache.get(cacheKey);
  if (text === undefined) {
    const row = `(${Array.from({ length: columns }, () => '?').join(', ')})`;
    text = Array.from({ length: rows }, () => row).join(', ');
    valueRowsCache.set(cacheKey, text);
  }
  return text;
}

function* activeSubscriptions(ctx: CommitContext): Txn<{ name: string; types: string[] }[]> {
  if (!ctx.subscriptions) {
    const rows = yield* all('SELECT name, types FROM subscriptions WHERE active = 1 ORDER BY name');
    ctx.subscriptions = rows.map((r) => ({ name: String(r.name), types: parseJson<string[]>(r.types) }));
  }
  return ctx.subscriptions;
}

/** Inserts or re-opens an exception (a delivery parked again re-opens its exception). */
export function* putException(e: ExceptionInput, nowIso: string): Txn<void> {
  const error = JSON.stringify(e.error);
  yield* run(
    `INSERT INTO exceptions (id, kind, owner, source, subscription, delivery_id, event_id, order_id, status, attempts, first_error, last_error, note, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, NULL, ?, ?) ON CONFLICT (id) DO UPDATE SET attempts = ${e.coalesce ? "CASE WHEN exceptions.status = 'open' THEN exceptions.attempts + excluded.attempts ELSE excluded.attempts END" : 'excluded.attempts'}, status = 'open', last_error = excluded.last_error, updated_at = excluded.updated_at`,
    [
      e.id,
      e.kind,
      e.owner,
      e.source,
      e.subscription,
      e.deliveryId,
      e.eventId,
      e.orderId,
      e.attempts,
      error,
      error,
      nowIso,
      nowIso,
    ],
  );
}

/** Appends one audit row. */
export function* putAudit(a: {
  actor: string;
  action: string;
  target: string;
  detail: unknown;
  at: string;
}): Txn<void> {
  yield* run('INSERT INTO audit_log (actor, action, target, detail, at) VALUES (?, ?, ?, ?, ?)', [
    a.actor,
    a.action,
    a.target,
    JSON.stringify(a.detail),
    a.at,
  ]);
}

/** The transaction body of one commit unit. */
export function* commitUnit(d: Dialect, unit: CommitUnit, now: Date, ctx: CommitContext): Txn<CommitResult> {
  const nowIso = now.toISOString();

  if (unit.inbound) {
    const messages = Array.isArray(unit.inbound) ? unit.inbound : [unit.inbound];
    if (messages.length > 1) {
      // All checked before any is recorded, so a duplicate unit writes nothing at all.
      for (const m of messages) {
        const seen = yield* get('SELECT 1 AS seen FROM inbound_messages WHERE source = ? AND id = ?', [
          m.source,
          m.id,
        ]);
        if (seen) return { status: 'duplicate' };
      }
    }
    for (const m of messages) {
      const inserted = yield* run(
        'INSERT INTO inbound_messages (source, id, received_at) VALUES (?, ?, ?) ON CONFLICT (source, id) DO NOTHING',
        [m.source, m.id, nowIso],
      );
      if (inserted === 0 && messages.length === 1) return { status: 'duplicate' };
      if (inserted === 0) {
        // Recorded by a concurrent transaction since the check (PostgreSQL): roll this one back.
        throw CrossdockError.conflict(`inbound message ${m.source}/${m.id} was recorded concurrently`, {
          details: { source: m.source, id: m.id },
        });
      }
    }
  }

  if (unit.order) {
    const { next, expectedVersion } = unit.order;
    const doc = JSON.stringify(next);
    const hold = holdReasonOf(next);
    if (expectedVersion === null) {
      const sourceKey = sourceKeyOf(next);
      if (sourceKey !== null && (next.state === 'rejected' || next.state === 'cancelled')) {
        // A rejected (or cancelled) order is outside the unique index, so the index alone would
        // let a repost decided as rejected sit next to the quote's live order (and tell the
        // customer "rejected" about a quote that is accepted). Checked here; with several writers
        // (PostgreSQL) an order of the same quote committing at this very moment is not seen.
        const live = yield* get(`SELECT id FROM orders WHERE source_key = ? AND ${liveSourcePredicate}`, [
          sourceKey,
        ]);
        if (live) throw duplicateSource(next, String(live.id));
      }
      // No conflict target: a taken id and a quote that already has a live order both insert
      // nothing (PostgreSQL waits for a concurrent inserter of either and then sees its row).
      const inserted = yield* run(
        'INSERT INTO orders (id, version, state, customer_id, hold_reason, created_at, updated_at, doc, source_key, po_number) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
        [
          next.id,
          next.version,
          next.state,
          next.customerId,
          hold,
          next.createdAt,
          next.updatedAt,
          doc,
          sourceKey,
          next.poNumber ?? null,
        ],
      );
      if (inserted === 0) {
        const live =
          sourceKey === null
            ? undefined
            : yield* get(`SELECT id FROM orders WHERE source_key = ? AND ${liveSourcePredicate}`, [
                sourceKey,
              ]);
        if (live && String(live.id) !== next.id) throw duplicateSource(next, String(live.id));
        throw CrossdockError.conflict(`order ${next.id} already exists`, { details: { orderId: next.id } });
      }
    } else {
      if (next.version <= expectedVersion) {
        throw CrossdockError.dataQuality(
          `order ${next.id}: next.version must be greater than expectedVersion`,
          {
            owner: 'integration',
            details: { orderId: next.id, version: next.version, expectedVersion },
          },
        );
      }
      const updated = yield* run(
        'UPDATE orders SET version = ?, state = ?, customer_id = ?, hold_reason = ?, updated_at = ?, doc = ? WHERE id = ? AND version = ?',
        [next.version, next.state, next.customerId, hold, next.updatedAt, doc, next.id, expectedVersion],
      );
      if (updated === 0) {
        throw CrossdockError.conflict(`order ${next.id} is not at version ${expectedVersion}`, {
          details: { orderId: next.id, expectedVersion },
        });
      }
    }
  }

  if (unit.idempotency) {
    const i = unit.idempotency;
    const inserted = yield* run(
      i.replace
        ? 'INSERT INTO idempotency (scope, key, request_hash, response_status, response_body, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO UPDATE SET response_status = excluded.response_status, response_body = excluded.response_body WHERE idempotency.request_hash = excluded.request_hash'
        : 'INSERT INTO idempotency (scope, key, request_hash, response_status, response_body, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING',
      [i.scope, i.key, i.requestHash, i.responseStatus, JSON.stringify(i.responseBody ?? null), i.createdAt],
    );
    if (inserted === 0) {
      throw CrossdockError.conflict(`idempotency key ${i.key} already used`, {
        details: { scope: i.scope, key: i.key },
      });
    }
  }

  for (const delta of unit.inventory ?? []) {
    const changed = yield* run(
      // A release (delta <= 0) only has to keep reserved >= 0; a reservation must keep available >= 0.
      'UPDATE inventory_positions SET reserved = reserved + ? WHERE sku = ? AND warehouse_id = ? AND reserved + ? >= 0 AND (reserved + ? <= reserved OR on_hand - allocated - reserved - ? >= 0)',
      [
        delta.reservedDelta,
        delta.sku,
        delta.warehouseId,
        delta.reservedDelta,
        delta.reservedDelta,
        delta.reservedDelta,
      ],
    );
    if (changed === 0) {
      throw CrossdockError.conflict(
        `inventory ${delta.sku}@${delta.warehouseId} cannot take ${delta.reservedDelta}`,
        {
          owner: 'inventory',
          details: { sku: delta.sku, warehouseId: delta.warehouseId, reservedDelta: delta.reservedDelta },
        },
      );
    }
  }

  if (unit.customers?.length) yield* upsertCustomers(unit.customers);

  if (unit.journal?.length) {
    yield* run(
      `INSERT INTO step_journal (order_id, step, status, attempt, output, error, at, duration_ms) VALUES ${valueRows(unit.journal.length, 8)}`,
      unit.journal.flatMap((j) => [
        j.orderId,
        j.step,
        j.status,
        j.attempt,
        JSON.stringify(j.output),
        j.error === null ? null : JSON.stringify(j.error),
        j.at,
        j.durationMs,
      ]),
    );
  }

  if (unit.timeline?.length) {
    const nextSeq = new Map<string, number>();
    const params: Param[] = [];
    for (const t of unit.timeline) {
      let seq = nextSeq.get(t.orderId);
      if (seq === undefined) {
        const row = yield* get('SELECT COALESCE(MAX(seq), 0) AS s FROM timeline WHERE order_id = ?', [
          t.orderId,
        ]);
        seq = num(row?.s ?? 0) + 1;
      }
      nextSeq.set(t.orderId, seq + 1);
      params.push(
        t.orderId,
        seq,
        t.at,
        t.kind,
        t.name,
        t.system,
        t.outcome,
        t.durationMs,
        JSON.stringify(t.summary),
        t.correlationId,
      );
    }
    yield* run(
      `INSERT INTO timeline (order_id, seq, at, kind, name, system, outcome, duration_ms, summary, correlation_id) VALUES ${valueRows(unit.timeline.length, 10)}`,
      params,
    );
  }

  const eventSeqs: number[] = [];
  if (unit.events?.length) {
    // Cursor fan-out: subscriptions read the outbox themselves (see deliveries.ts).
    const subs = d.cursorFanout ? [] : yield* activeSubscriptions(ctx);
    // With several writers (PostgreSQL), outbox seqs come from a sequence, so two transactions
    // emitting events of the same subject could commit in the other order than their seqs and a
    // claimer could deliver seq 11 before seq 10 exists. Locking each subject (sorted, so two
    // units cannot deadlock) until commit makes seq order = commit order per subject.
    if (d.subjectLock) {
      for (const subject of [...new Set(unit.events.map((e) => e.subject))].sort()) {
        yield* get(d.subjectLock, [subject]);
      }
    }
    for (const e of unit.events) {
      const row = yield* get(
        'INSERT INTO outbox (event_id, type, subject, time, time_ms, payload) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq',
        [e.id, e.type, e.subject, e.time, Date.parse(e.time), JSON.stringify(e)],
      );
      const seq = num(row?.seq);
      eventSeqs.push(seq);
      const targets = subs.filter((s) => matchesTypes(s.types, e.type));
      if (targets.length > 0) {
        yield* run(
          `INSERT INTO deliveries (subscription, event_seq, key, status, attempts, next_attempt_at, created_at) VALUES ${valueRows(targets.length, 7)}`,
          targets.flatMap((s) => [s.name, seq, e.subject, 'pending', 0, dueImmediately, nowIso]),
        );
      }
    }
  }

  for (const c of (unit as WithCursors).cursors ?? []) {
    yield* run(
      'INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
      [c.name, c.value, nowIso],
    );
  }

  for (const e of unit.exceptions ?? []) yield* putException(e, nowIso);
  for (const k of unit.apiKeys ?? []) yield* putApiKey(k);
  for (const a of unit.audit ?? []) yield* putAudit(a);

  return { status: 'committed', eventSeqs };
}

/** Active flag and types of one subscription, as stored. */
export function subscriptionFromRow(r: Record<string, unknown>): SubscriptionDef {
  return {
    name: String(r.name),
    types: parseJson<string[]>(r.types),
    ordering: r.ordering === 'skip_parked' ? 'skip_parked' : 'strict',
    active: num(r.active) === 1,
  };
}
