/**
 * The event backbone: subscriptions, per-subscription deliveries of outbox events, and replay.
 *
 * A delivery row exists only while the event is undelivered: `completeDeliveries` deletes it and
 * bumps the subscription's `delivered_count`. Why delete rather than mark: the claim scan then
 * walks only live rows through the (subscription, event_seq) unique index, and the table stays
 * small however much history the outbox keeps. Replay re-creates rows from the outbox.
 */
import type { CloudEvent } from '../../domain/index.js';
import { CrossdockError } from '../../domain/index.js';
import type {
  ClaimOptions,
  Delivery,
  DeliveryFailure,
  StoredEvent,
  SubscriptionDef,
  SubscriptionStats,
} from '../../ports/index.js';
import { putException, subscriptionFromRow } from './commit.js';
import {
  all,
  type Dialect,
  dueImmediately,
  get,
  num,
  type Param,
  parseJson,
  parseJsonOrNull,
  type Row,
  run,
  type Txn,
  textOrNull,
} from './sql.js';

/** Creates or updates subscriptions; their delivered counters are kept. */
export function* putSubscriptions(subs: readonly SubscriptionDef[]): Txn<void> {
  for (const s of subs) {
    yield* run(
      'INSERT INTO subscriptions (name, types, ordering, active, delivered_count) VALUES (?, ?, ?, ?, 0) ON CONFLICT (name) DO UPDATE SET types = excluded.types, ordering = excluded.ordering, active = excluded.active',
      [s.name, JSON.stringify(s.types), s.ordering, s.active ? 1 : 0],
    );
  }
}

/** All subscriptions by name. */
export function* listSubscriptions(): Txn<SubscriptionDef[]> {
  const rows = yield* all('SELECT name, types, ordering, active FROM subscriptions ORDER BY name');
  return rows.map(subscriptionFromRow);
}

/** Upper bound of rows one claim looks at, so a key blocked by thousands of rows cannot stall it. */
const maxScanRows = 20_000;

/**
 * Claims deliveries (see `Store.claimDeliveries`). Walks the live rows of the subscription in
 * event_seq order, keeps a set of blocked keys and takes a row only when no earlier row of its
 * key was left behind: the first row of a key that is leased, not yet due or (strict) parked
 * blocks the key for the rest of the walk.
 *
 * PostgreSQL: the walk locks rows `FOR UPDATE SKIP LOCKED`, so a concurrent claimer never takes
 * the same row; but a row locked by another claimer is *invisible* to this walk, so a later row
 * of the same key would look like a head. The gap check below re-reads, without locks, the
 * earliest live row of every picked key and drops keys whose head is not ours.
 */
export function* claimDeliveries(d: Dialect, subscription: string, o: ClaimOptions): Txn<Delivery[]> {
  if (o.limit <= 0) return [];
  const sub = yield* get('SELECT ordering FROM subscriptions WHERE name = ?', [subscription]);
  if (!sub) return [];
  const statuses = sub.ordering === 'skip_parked' ? "status = 'pending'" : "status IN ('pending', 'parked')";
  const nowMs = o.now.getTime();
  if (d.skipLocked !== '') {
    // PostgreSQL: claimers of one subscription take turns (a transaction-scoped advisory lock).
    // Row locks alone let a concurrent walk see a later row of a key as its head while the head
    // is locked by another claim in flight; the contract test "Concurrent claimers never get the
    // same delivery and every key is delivered in order" caught that under load. A claim is one
    // short transaction per batch of up to 500, so taking turns costs little; completions and
    // failures do not take the lock.
    yield* get('SELECT pg_advisory_xact_lock(hashtext(?)) AS locked', [`crossdock:claim:${subscription}`]);
  }
  // One page of `limit` rows is enough when nothing is blocked (the common case); a page of twice
  // that cost ~40% of drain throughput for rows that were scanned and thrown away.
  const page = Math.min(Math.max(o.limit, 64), 5_000);
  const blocked = new Set<string>();
  const firstPicked = new Map<string, number>();
  let picked: Row[] = [];
  let after = -1;
  let scanned = 0;
  while (picked.length < o.limit && scanned < maxScanRows) {
    const rows = yield* all(
      // The CTE limits and locks delivery rows first, so payloads are read only for the page.
      `WITH d AS (SELECT id, event_seq, key, status, attempts, next_attempt_at, lease_until, first_error, last_error, created_at FROM deliveries WHERE subscription = ? AND ${statuses} AND event_seq > ? ORDER BY event_seq LIMIT ?${d.skipLocked}) SELECT d.*, o.payload FROM d JOIN outbox o ON o.seq = d.event_seq ORDER BY d.event_seq`,
      [subscription, after, page],
    );
    for (const r of rows) {
      const seq = num(r.event_seq);
      after = seq;
      const key = String(r.key);
      if (blocked.has(key)) continue;
      const claimable =
        r.status === 'pending' &&
        num(r.next_attempt_at) <= nowMs &&
        (r.lease_until === null || num(r.lease_until) <= nowMs);
      if (!claimable) {
        blocked.add(key);
        continue;
      }
      if (!firstPicked.has(key)) firstPicked.set(key, seq);
      picked.push(r);
      if (picked.length >= o.limit) break;
    }
    scanned += rows.length;
    if (rows.length < page) break;
  }
  if (picked.length === 0) return [];

  if (d.skipLocked !== '') {
    const keys = [...firstPicked.keys()];
    // One index probe per key on (subscription, key, event_seq); PostgreSQL-only SQL, as only the
    // PostgreSQL dialect locks rows.
    const heads = yield* all(
      `SELECT u.k AS key, (SELECT MIN(event_seq) FROM deliveries WHERE subscription = ? AND key = u.k AND ${statuses}) AS head FROM unnest(CAST(? AS text[])) AS u(k)`,
      [subscription, d.list(keys)],
    );
    const dropped = new Set<string>();
    for (const h of heads) {
      const key = String(h.key);
      if (h.head !== null && num(h.head) < (firstPicked.get(key) ?? Number.POSITIVE_INFINITY))
        dropped.add(key);
    }
    if (dropped.size > 0) picked = picked.filter((r) => !dropped.has(String(r.key)));
    if (picked.length === 0) return [];
  }

  const ids = picked.map((r) => num(r.id));
  yield* run(`UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE ${d.inList('id')}`, [
    o.owner,
    nowMs + o.leaseMs,
    d.list(ids),
  ]);
  return picked.map((r) => ({
    id: String(r.id),
    subscription,
    eventSeq: num(r.event_seq),
    key: String(r.key),
    event: parseJson<CloudEvent>(r.payload),
    attempts: num(r.attempts),
    firstError: parseJsonOrNull<Record<string, unknown>>(r.first_error),
    lastError: parseJsonOrNull<Record<string, unknown>>(r.last_error),
    createdAt: String(r.created_at),
  }));
}

/** Deletes delivered rows and counts them per subscription. */
export function* completeDeliveries(d: Dialect, ids: readonly string[]): Txn<void> {
  if (ids.length === 0) return;
  const rows = yield* all(`DELETE FROM deliveries WHERE ${d.inList('id')} RETURNING subscription`, [
    d.list(ids.map(Number)),
  ]);
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(String(r.subscription), (counts.get(String(r.subscription)) ?? 0) + 1);
  for (const [name, n] of counts) {
    yield* run('UPDATE subscriptions SET delivered_count = delivered_count + ? WHERE name = ?', [n, name]);
  }
}

/** Records failures: reschedules, or parks and opens the exception in the same transaction. */
export function* failDeliveries(failures: readonly DeliveryFailure[], now: Date): Txn<void> {
  for (const f of failures) {
    if (f.nextAttemptAt === null && !f.exception) {
      throw CrossdockError.dataQuality(`parking delivery ${f.id} needs an exception`, {
        owner: 'integration',
        details: { deliveryId: f.id },
      });
    }
  }
  const nowIso = now.toISOString();
  for (const f of failures) {
    const error = JSON.stringify(f.error);
    const parked = f.nextAttemptAt === null;
    const changed = yield* run(
      'UPDATE deliveries SET attempts = attempts + 1, first_error = COALESCE(first_error, ?), last_error = ?, status = ?, next_attempt_at = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?',
      [
        error,
        error,
        parked ? 'parked' : 'pending',
        f.nextAttemptAt?.getTime() ?? now.getTime(),
        Number(f.id),
      ],
    );
    // A delivery already completed by someone else (an expired lease) opens no exception.
    if (parked && f.exception && changed > 0) yield* putException(f.exception, nowIso);
  }
}

/** Drops leases so the rows can be claimed again at once. */
export function* releaseDeliveries(d: Dialect, ids: readonly string[]): Txn<void> {
  if (ids.length === 0) return;
  yield* run(`UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE ${d.inList('id')}`, [
    d.list(ids.map(Number)),
  ]);
}

/** Drops every lease whose owner is not `owner` (see `Store.releaseForeignLeases`). */
export function* releaseForeignLeases(owner: string): Txn<number> {
  return yield* run(
    'UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_until IS NOT NULL AND (lease_owner IS NULL OR lease_owner <> ?)',
    [owner],
  );
}

/** Backlog per subscription (a lease counts only while it has not expired). */
export function* subscriptionStats(now: Date): Txn<SubscriptionStats[]> {
  const nowMs = now.getTime();
  const subs = yield* all('SELECT name, delivered_count FROM subscriptions ORDER BY name');
  const rows = yield* all(
    "SELECT subscription, SUM(CASE WHEN status = 'pending' AND (lease_until IS NULL OR lease_until <= ?) THEN 1 ELSE 0 END) AS pending, SUM(CASE WHEN status = 'pending' AND lease_until > ? THEN 1 ELSE 0 END) AS leased, SUM(CASE WHEN status = 'parked' THEN 1 ELSE 0 END) AS parked, MIN(CASE WHEN status = 'pending' THEN created_at END) AS oldest FROM deliveries GROUP BY subscription",
    [nowMs, nowMs],
  );
  const bySub = new Map<string, Row>();
  for (const r of rows) bySub.set(String(r.subscription), r);
  return subs.map((s) => {
    const r = bySub.get(String(s.name));
    return {
      name: String(s.name),
      pending: num(r?.pending ?? 0),
      leased: num(r?.leased ?? 0),
      parked: num(r?.parked ?? 0),
      delivered: num(s.delivered_count),
      oldestPendingAt: textOrNull(r?.oldest),
    };
  });
}

/** Outbox events in seq order for replay. */
export function* readEvents(o: {
  fromSeq?: number;
  fromTime?: string;
  toTime?: string;
  limit: number;
  types?: string[];
}): Txn<StoredEvent[]> {
  const where: string[] = ['seq >= ?'];
  const params: Param[] = [o.fromSeq ?? 0];
  if (o.fromTime !== undefined) {
    where.push('time_ms >= ?');
    params.push(Date.parse(o.fromTime));
  }
  if (o.toTime !== undefined) {
    where.push('time_ms <= ?');
    params.push(Date.parse(o.toTime));
  }
  if (o.types?.length) {
    where.push(`(${o.types.map(() => 'substr(type, 1, ?) = ?').join(' OR ')})`);
    for (const t of o.types) params.push(t.length, t);
  }
  params.push(Math.max(1, o.limit));
  const rows = yield* all(
    `SELECT seq, payload FROM outbox WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`,
    params,
  );
  return rows.map((r) => ({ seq: num(r.seq), event: parseJson<CloudEvent>(r.payload) }));
}

/** Re-creates pending deliveries for existing events; a still-live delivery is not doubled. */
export function* enqueueDeliveries(
  d: Dialect,
  subscription: string,
  eventSeqs: readonly number[],
  now: Date,
): Txn<number> {
  const sub = yield* get('SELECT name FROM subscriptions WHERE name = ?', [subscription]);
  if (!sub) {
    throw CrossdockError.dataQuality(`unknown subscription ${subscription}`, {
      owner: 'integration',
      details: { subscription },
    });
  }
  if (eventSeqs.length === 0) return 0;
  return yield* run(
    `INSERT INTO deliveries (subscription, event_seq, key, status, attempts, next_attempt_at, created_at) SELECT ?, seq, subject, 'pending', 0, CAST(? AS BIGINT), ? FROM outbox WHERE ${d.inList('seq')} ORDER BY seq ON CONFLICT (subscription, event_seq) DO NOTHING`,
    [subscription, dueImmediately, now.toISOString(), d.list([...eventSeqs])],
  );
}
