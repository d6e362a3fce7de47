/**
 * The exception queue: dead letters and other failures that need a person, with their owner.
 * Operator actions are a public API and write the audit row in the same transaction.
 */
import { CrossdockError, type ErrorKind } from '../../domain/index.js';
import type { AuditInput, ExceptionFilter, ExceptionRecord } from '../../ports/index.js';
import { putAudit } from './commit.js';
import {
  all,
  type Dialect,
  dueImmediately,
  get,
  num,
  type Param,
  parseJson,
  type Row,
  run,
  type Txn,
  textOrNull,
} from './sql.js';

/** The columns of an exception row, in the order `exceptionFromRow` reads them. */
export const exceptionColumns =
  'id, kind, owner, source, subscription, delivery_id, event_id, order_id, status, attempts, first_error, last_error, note, created_at, updated_at';

/** An exception row as the port's record. */
export function exceptionFromRow(r: Row): ExceptionRecord {
  const lastError = parseJson<Record<string, unknown>>(r.last_error);
  return {
    id: String(r.id),
    kind: String(r.kind) as ErrorKind,
    owner: String(r.owner),
    source: String(r.source),
    subscription: textOrNull(r.subscription),
    deliveryId: textOrNull(r.delivery_id),
    eventId: textOrNull(r.event_id),
    orderId: textOrNull(r.order_id),
    error: lastError,
    attempts: num(r.attempts),
    status: String(r.status) as ExceptionRecord['status'],
    firstError: parseJson<Record<string, unknown>>(r.first_error),
    lastError,
    note: textOrNull(r.note),
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
  };
}

/** Exceptions matching the filter, newest first. */
export function* listExceptions(f: ExceptionFilter): Txn<ExceptionRecord[]> {
  const where: string[] = [];
  const params: Param[] = [];
  for (const [column, value] of [
    ['status', f.status],
    ['kind', f.kind],
    ['owner', f.owner],
    ['subscription', f.subscription],
  ] as const) {
    if (value === undefined) continue;
    where.push(`${column} = ?`);
    params.push(value);
  }
  params.push(Math.max(1, Math.min(f.limit ?? 100, 1000)));
  const rows = yield* all(
    `SELECT ${exceptionColumns} FROM exceptions${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`,
    params,
  );
  return rows.map(exceptionFromRow);
}

/** One exception. */
export function* getException(id: string): Txn<ExceptionRecord | null> {
  const r = yield* get(`SELECT ${exceptionColumns} FROM exceptions WHERE id = ?`, [id]);
  return r ? exceptionFromRow(r) : null;
}

const nextStatus = { retry: 'retried', resolve: 'resolved', discard: 'discarded' } as const;

/**
 * retry: the parked delivery becomes pending and due now. resolve / discard: the exception is
 * closed and its parked delivery removed (otherwise it would block its key under strict ordering
 * forever); neither counts as delivered. Only an open exception can be acted on (else conflict).
 */
export function* actOnException(
  d: Dialect,
  id: string,
  action: 'retry' | 'resolve' | 'discard',
  audit: AuditInput,
  note: string | undefined,
  now: Date,
): Txn<ExceptionRecord> {
  const r = yield* get(`SELECT ${exceptionColumns} FROM exceptions WHERE id = ?${d.forUpdate}`, [id]);
  if (!r) {
    throw CrossdockError.dataQuality(`exception ${id} not found`, { details: { id, notFound: true } });
  }
  const current = exceptionFromRow(r);
  if (current.status !== 'open') {
    throw CrossdockError.conflict(`exception ${id} is ${current.status}, not open`, {
      details: { id, status: current.status },
    });
  }
  const deliveryId =
    current.deliveryId !== null && /^\d+$/.test(current.deliveryId) ? Number(current.deliveryId) : null;
  if (deliveryId !== null) {
    if (action === 'retry') {
      yield* run(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, lease_owner = NULL, lease_until = NULL WHERE id = ? AND status = 'parked'",
        [dueImmediately, deliveryId],
      );
    } else {
      yield* run("DELETE FROM deliveries WHERE id = ? AND status = 'parked'", [deliveryId]);
    }
  }
  const nowIso = now.toISOString();
  yield* run('UPDATE exceptions SET status = ?, note = COALESCE(?, note), updated_at = ? WHERE id = ?', [
    nextStatus[action],
    note ?? null,
    nowIso,
    id,
  ]);
  yield* putAudit(audit);
  return { ...current, status: nextStatus[action], note: note ?? current.note, updatedAt: nowIso };
}
