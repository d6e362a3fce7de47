/**
 * The event backbone: subscriptions, per-subscription deliveries of outbox events, and replay.
 *
 * Two ways to fan out, by dialect (`Dialect.cursorFanout`):
 * - **Rows** (PostgreSQL): the commit writes a `deliveries` row per matching subscription; a claim
 *   leases rows, completion deletes them.
 * - **Cursor** (SQLite): a subscription reads the outbox past its `cursor_seq`. A claim moves the
 *   cursor and records what it handed out as one leased `delivery_blocks` row (the seqs still
 *   unsettled); completing removes seqs from the block, and the block goes when it is empty. A
 *   `deliveries` row exists only for what needs one: a failure (retry or parked), a release, an
 *   event waiting behind a live row or block of its key, a replay, or a block whose lease expired
 *   (its owner died). Why: the row design wrote, leased and deleted ~18 rows per order on the one
 *   writer thread, which capped the whole hub; a block is one row per claim.
 *
 * In both, a delivery row exists only while the event is undelivered: `completeDeliveries`
 * deletes it and bumps the subscription's `delivered_count`. Why delete rather than mark: the
 * claim scan then walks only live rows through the (subscription, event_seq) unique index, and
 * the table stays small however much history the outbox keeps. Replay re-creates rows from the
 * outbox.
 *
 * Per-key order holds across the two: an event of a key with a live row or an unexpired block is
 * not handed out from the cursor but becomes a row behind them, and the row walk hands out a key's
 * rows only as a prefix. Delivery ids are the row id (`"17"`) or block and seq (`"b3:1042"`).
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

/**
 * Creates or updates subscriptions; their delivered counters are kept. Under both fan-outs a
 * subscription receives the events committed while it is active with the types it had then
 * (replay brings others): with the cursor, a new or re-activated subscription starts at the end
 * of the outbox, and one being deactivated, or given other types, first keeps what it had not yet
 * claimed under its old types as rows.
 */
export function* putSubscriptions(d: Dialect, subs: readonly SubscriptionDef[], now: Date): Txn<void> {
  for (const s of subs) {
    if (d.cursorFanout) {
      const before = yield* get('SELECT active, types, cursor_seq FROM subscriptions WHERE name = ?', [
        s.name,
      ]);
      const oldTypes = before ? parseJson<string[]>(before.types) : [];
      const typesChanged = JSON.stringify(oldTypes) !== JSON.stringify(s.types);
      if (before && num(before.active) === 1 && (!s.active || typesChanged)) {
        const f = typeFilter(oldTypes);
        const seqs = yield* all(`SELECT seq FROM outbox WHERE seq > ?${f.sql} ORDER BY seq`, [
          num(before.cursor_seq),
          ...f.params,
        ]);
        yield* eventsToRows(
          d,
          s.name,
          seqs.map((r) => num(r.seq)),
          now.toISOString(),
        );
        yield* run(
          'UPDATE subscriptions SET cursor_seq = (SELECT COALESCE(MAX(seq), 0) FROM outbox) WHERE name = ?',
          [s.name],
        );
      }
    }
    yield* run(
      'INSERT INTO subscriptions (name, types, ordering, active, delivered_count, cursor_seq) VALUES (?, ?, ?, ?, 0, (SELECT COALESCE(MAX(seq), 0) FROM outbox)) ON CONFLICT (name) DO UPDATE SET types = excluded.types, ordering = excluded.ordering, active = excluded.active, cursor_seq = CASE WHEN subscriptions.active = 0 AND excluded.active = 1 THEN excluded.cursor_seq ELSE subscriptions.cursor_seq END',
      [s.name, JSON.stringify(s.types), s.ordering, s.active ? 1 : 0],
    );
  }
}

/** A block delivery's id: which block, which event. */
interface BlockRef {
  block: number;
  seq: number;
}

/** `"b3:1042"` → block 3, seq 1042; a row id (`"17"`) → null. */
function blockRef(id: string): BlockRef | null {
  const m = /^b(\d+):(\d+)$/.exec(id);
  return m ? { block: Number(m[1]), seq: Number(m[2]) } : null;
}

/** Splits delivery ids into row ids and block refs grouped by block. */
function splitIds(ids: readonly string[]): { rows: number[]; blocks: Map<number, number[]> } {
  const rows: number[] = [];
  const blocks = new Map<number, number[]>();
  for (const id of ids) {
    const ref = blockRef(id);
    if (ref === null) {
      rows.push(Number(id));
      continue;
    }
    const list = blocks.get(ref.block);
    if (list) list.push(ref.seq);
    else blocks.set(ref.block, [ref.seq]);
  }
  return { rows, blocks };
}

/**
 * Takes `seqs` out of block `id` (deleting it when it empties) and returns the block's
 * subscription and which of `seqs` it still held, or null when the block is gone (its lease
 * expired and someone turned it into rows: those rows deliver the events again, at least once)
 * or, given `owner`, is not leased to that owner.
 */
function* takeFromBlock(
  id: number,
  seqs: readonly number[],
  owner: string | null = null,
): Txn<{ subscription: string; taken: number[]; createdAt: string } | null> {
  const row = yield* get(
    'SELECT subscription, seqs, created_at, lease_owner FROM delivery_blocks WHERE id = ?',
    [id],
  );
  if (!row || (owner !== null && row.lease_owner !== owner)) return null;
  const held = parseJson<number[]>(row.seqs);
  const wanted = new Set(seqs);
  const taken = held.filter((s) => wanted.has(s));
  const rest = held.filter((s) => !wanted.has(s));
  if (rest.length === 0) yield* run('DELETE FROM delivery_blocks WHERE id = ?', [id]);
  else if (taken.length > 0)
    yield* run('UPDATE delivery_blocks SET seqs = ? WHERE id = ?', [JSON.stringify(rest), id]);
  return { subscription: String(row.subscription), taken, createdAt: String(row.created_at) };
}

/**
 * Makes pending rows (due now) for events of a subscription; an event that already has a row keeps
 * it. `createdAt` is when the delivery first existed for us (the claim that handed it out, or
 * now): the delivery policy's maximum age counts from it, never from the producer's event time.
 * The events read are locked against a concurrent prune (`Dialect.keyShare`): a row is never made
 * for an event being deleted.
 */
function* eventsToRows(
  d: Dialect,
  subscription: string,
  seqs: readonly number[],
  createdAt: string,
): Txn<number> {
  if (seqs.length === 0) return 0;
  return yield* run(
    `INSERT INTO deliveries (subscription, event_seq, key, status, attempts, next_attempt_at, created_at) SELECT ?, seq, subject, 'pending', 0, CAST(? AS BIGINT), ? FROM outbox WHERE ${d.inList('seq')} ORDER BY seq${d.keyShare} ON CONFLICT (subscription, event_seq) DO NOTHING`,
    [subscription, dueImmediately, createdAt, d.list([...seqs])],
  );
}

/** Turns whole blocks into pending rows (expired leases, a dead owner's blocks); returns events. */
function* blocksToRows(d: Dialect, blocks: readonly Row[]): Txn<number> {
  let n = 0;
  for (const b of blocks) {
    const seqs = parseJson<number[]>(b.seqs);
    yield* eventsToRows(d, String(b.subscription), seqs, String(b.created_at));
    yield* run('DELETE FROM delivery_blocks WHERE id = ?', [num(b.id)]);
    n += seqs.length;
  }
  return n;
}

/** Seqs held in the subscription's blocks (expired or not). */
function* blockSeqs(subscription: string): Txn<number[]> {
  const blocks = yield* all('SELECT seqs FROM delivery_blocks WHERE subscription = ?', [subscription]);
  return blocks.flatMap((b) => parseJson<number[]>(b.seqs));
}

/** Keys (event subjects) with events in a block of the subscription. */
function* blockKeys(d: Dialect, subscription: string): Txn<Set<string>> {
  const seqs = yield* blockSeqs(subscription);
  if (seqs.length === 0) return new Set();
  const rows = yield* all(`SELECT DISTINCT subject FROM outbox WHERE ${d.inList('seq')}`, [d.list(seqs)]);
  return new Set(rows.map((r) => String(r.subject)));
}

/** SQL filter of a subscription's type prefixes (empty = everything) and its parameters. */
function typeFilter(types: readonly string[]): { sql: string; params: Param[] } {
  if (types.length === 0) return { sql: '', params: [] };
  return {
    sql: ` AND (${types.map(() => 'substr(type, 1, ?) = ?').join(' OR ')})`,
    params: types.flatMap((t) => [t.length, t]),
  };
}

/** All subscriptions by name. */
export function* listSubscriptions(): Txn<SubscriptionDef[]> {
  const rows = yield* all('SELECT name, types, ordering, active FROM subscriptions ORDER BY name');
  return rows.map(subscriptionFromRow);
}

/** Upper bound of rows one claim looks at, so a key blocked by thousands of rows cannot stall it. */
const maxScanRows = 20_000;

/**
 * Claim options as the core takes them. `omitPayloads`: cursor deliveries come back with `event`
 * null and the caller fills it in (the SQLite store keeps the events it just committed, so the
 * writer thread neither reads nor ships payloads it already has; see `SqliteStore`).
 */
export type CoreClaimOptions = ClaimOptions & { omitPayloads?: boolean };

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
export function* claimDeliveries(d: Dialect, subscription: string, o: CoreClaimOptions): Txn<Delivery[]> {
  if (o.limit <= 0) return [];
  const sub = yield* get('SELECT ordering, types, active, cursor_seq FROM subscriptions WHERE name = ?', [
    subscription,
  ]);
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
  if (d.cursorFanout) {
    // Blocks whose lease ran out (their owner died or hung): their events become rows, so the
    // walk below hands them out again, in order, before anything later of their keys.
    const expired = yield* all(
      'SELECT id, subscription, seqs, created_at FROM delivery_blocks WHERE subscription = ? AND lease_until <= ?',
      [subscription, nowMs],
    );
    if (expired.length > 0) yield* blocksToRows(d, expired);
  }
  // Keys with events in a live block (leased by anyone) wait: rows of them are not handed out.
  const inBlocks = d.cursorFanout ? yield* blockKeys(d, subscription) : new Set<string>();
  // One page of `limit` rows is enough when nothing is blocked (the common case); a page of twice
  // that cost ~40% of drain throughput for rows that were scanned and thrown away.
  const page = Math.min(Math.max(o.limit, 64), 5_000);
  const blocked = new Set<string>(inBlocks);
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
  }

  if (picked.length > 0) {
    yield* run(`UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE ${d.inList('id')}`, [
      o.owner,
      nowMs + o.leaseMs,
      d.list(picked.map((r) => num(r.id))),
    ]);
  }
  const claimed: Delivery[] = picked.map((r) => ({
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
  // An inactive subscription gets nothing from the cursor (events committed while it is inactive
  // are not its), only rows it still has, as under the row fan-out.
  if (d.cursorFanout && num(sub.active) === 1 && claimed.length < o.limit) {
    claimed.push(
      ...(yield* claimFromCursor(d, subscription, sub, statuses, inBlocks, o, o.limit - claimed.length)),
    );
  }
  return claimed;
}

/**
 * The cursor half of a claim: up to `room` matching events past the subscription's cursor. Events
 * whose key has a live row (under the ordering's statuses) or sits in an unexpired block become
 * rows behind those; the rest are handed out as one new block leased to the claimer. The cursor
 * moves past everything read, in the same transaction.
 */
function* claimFromCursor(
  d: Dialect,
  subscription: string,
  sub: Row,
  statuses: string,
  inBlocks: ReadonlySet<string>,
  o: CoreClaimOptions,
  room: number,
): Txn<Delivery[]> {
  const cursor = num(sub.cursor_seq);
  const f = typeFilter(parseJson<string[]>(sub.types));
  const rows = yield* all(
    `SELECT seq, subject${o.omitPayloads ? '' : ', payload'} FROM outbox WHERE seq > ?${f.sql} ORDER BY seq LIMIT ?`,
    [cursor, ...f.params, room],
  );
  let to: number;
  if (rows.length === room) to = num(rows[rows.length - 1]!.seq);
  else {
    // Fewer matches than room: everything up to the end of the outbox has been looked at.
    const end = yield* get('SELECT MAX(seq) AS m FROM outbox');
    to = Math.max(cursor, num(end?.m ?? 0));
  }
  if (to === cursor) return [];
  yield* run('UPDATE subscriptions SET cursor_seq = ? WHERE name = ?', [to, subscription]);
  if (rows.length === 0) return [];

  const waiting = new Set<string>(inBlocks);
  const keys = [...new Set(rows.map((r) => String(r.subject)))];
  const live = yield* all(
    `SELECT DISTINCT key FROM deliveries WHERE subscription = ? AND ${statuses} AND ${d.inList('key')}`,
    [subscription, d.list(keys)],
  );
  for (const r of live) waiting.add(String(r.key));
  const behind: number[] = [];
  const taken: Row[] = [];
  for (const r of rows) {
    if (waiting.has(String(r.subject))) behind.push(num(r.seq));
    else taken.push(r);
  }
  yield* eventsToRows(d, subscription, behind, o.now.toISOString());
  if (taken.length === 0) return [];
  const block = yield* get(
    'INSERT INTO delivery_blocks (subscription, seqs, lease_owner, lease_until, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id',
    [
      subscription,
      JSON.stringify(taken.map((r) => num(r.seq))),
      o.owner,
      o.now.getTime() + o.leaseMs,
      o.now.toISOString(),
    ],
  );
  const id = num(block?.id);
  return taken.map((r) => ({
    id: `b${id}:${num(r.seq)}`,
    subscription,
    eventSeq: num(r.seq),
    key: String(r.subject),
    event: o.omitPayloads ? (null as unknown as CloudEvent) : parseJson<CloudEvent>(r.payload),
    attempts: 0,
    firstError: null,
    lastError: null,
    createdAt: o.now.toISOString(),
  }));
}

/** Deletes delivered rows and counts them per subscription. */
export function* completeDeliveries(d: Dialect, ids: readonly string[]): Txn<void> {
  if (ids.length === 0) return;
  const split = splitIds(ids);
  const counts = new Map<string, number>();
  if (split.rows.length > 0) {
    const rows = yield* all(`DELETE FROM deliveries WHERE ${d.inList('id')} RETURNING subscription`, [
      d.list(split.rows),
    ]);
    for (const r of rows) counts.set(String(r.subscription), (counts.get(String(r.subscription)) ?? 0) + 1);
  }
  for (const [block, seqs] of split.blocks) {
    const t = yield* takeFromBlock(block, seqs);
    if (t && t.taken.length > 0)
      counts.set(t.subscription, (counts.get(t.subscription) ?? 0) + t.taken.length);
  }
  for (const [name, n] of counts) {
    yield* run('UPDATE subscriptions SET delivered_count = delivered_count + ? WHERE name = ?', [n, name]);
  }
}

/** Appended to a row update by a claimer (`owner` given): rows leased to someone else stay as they are. */
const stillOurs = ' AND (lease_owner = ? OR lease_owner IS NULL)';

/** Records failures: reschedules, or parks and opens the exception in the same transaction. */
export function* failDeliveries(
  failures: readonly DeliveryFailure[],
  now: Date,
  owner: string | null = null,
): Txn<void> {
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
    const ref = blockRef(f.id);
    if (ref !== null) {
      // A block delivery that failed becomes a row carrying its first attempt.
      const t = yield* takeFromBlock(ref.block, [ref.seq], owner);
      if (!t || t.taken.length === 0) continue; // the block was taken over: its rows retry it
      const row = yield* get(
        'INSERT INTO deliveries (subscription, event_seq, key, status, attempts, next_attempt_at, first_error, last_error, created_at) SELECT ?, seq, subject, ?, 1, ?, ?, ?, ? FROM outbox WHERE seq = ? ON CONFLICT (subscription, event_seq) DO NOTHING RETURNING id',
        [
          t.subscription,
          parked ? 'parked' : 'pending',
          f.nextAttemptAt?.getTime() ?? now.getTime(),
          error,
          error,
          t.createdAt,
          ref.seq,
        ],
      );
      if (row && parked && f.exception) {
        yield* putException({ ...f.exception, deliveryId: String(row.id) }, nowIso);
      }
      continue;
    }
    const params: Param[] = [
      error,
      error,
      parked ? 'parked' : 'pending',
      f.nextAttemptAt?.getTime() ?? now.getTime(),
      Number(f.id),
    ];
    if (owner !== null) params.push(owner);
    const changed = yield* run(
      `UPDATE deliveries SET attempts = attempts + 1, first_error = COALESCE(first_error, ?), last_error = ?, status = ?, next_attempt_at = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?${owner === null ? '' : stillOurs}`,
      params,
    );
    // A delivery completed by someone else, or leased to another claimer now (ours expired),
    // opens no exception.
    if (parked && f.exception && changed > 0) yield* putException(f.exception, nowIso);
  }
}

/** Drops leases so the rows can be claimed again at once. */
export function* releaseDeliveries(
  d: Dialect,
  ids: readonly string[],
  owner: string | null = null,
): Txn<void> {
  if (ids.length === 0) return;
  const split = splitIds(ids);
  if (split.rows.length > 0) {
    yield* run(
      `UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE ${d.inList('id')}${owner === null ? '' : stillOurs}`,
      owner === null ? [d.list(split.rows)] : [d.list(split.rows), owner],
    );
  }
  // A released block delivery becomes a pending row, claimable at once.
  for (const [block, seqs] of split.blocks) {
    const t = yield* takeFromBlock(block, seqs, owner);
    if (t) yield* eventsToRows(d, t.subscription, t.taken, t.createdAt);
  }
}

/** Drops every lease whose owner is not `owner` (see `Store.releaseForeignLeases`). */
export function* releaseForeignLeases(d: Dialect, owner: string): Txn<number> {
  const rows = yield* run(
    'UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_until IS NOT NULL AND (lease_owner IS NULL OR lease_owner <> ?)',
    [owner],
  );
  const blocks = yield* all(
    'SELECT id, subscription, seqs, created_at FROM delivery_blocks WHERE lease_owner <> ?',
    [owner],
  );
  return rows + (yield* blocksToRows(d, blocks));
}

/**
 * Makes the subscription's pending, unleased rows that wait for a later retry due now (see
 * `Store.expediteDeliveries`). Only rows can wait: cursor events and blocks are never delayed.
 */
export function* expediteDeliveries(subscription: string, now: Date): Txn<number> {
  const nowMs = now.getTime();
  return yield* run(
    "UPDATE deliveries SET next_attempt_at = CAST(? AS BIGINT) WHERE subscription = ? AND status = 'pending' AND next_attempt_at > ? AND (lease_until IS NULL OR lease_until <= ?)",
    [nowMs, subscription, nowMs, nowMs],
  );
}

/** Backlog per subscription (a lease counts only while it has not expired). */
export function* subscriptionStats(d: Dialect, now: Date): Txn<SubscriptionStats[]> {
  const nowMs = now.getTime();
  const subs = yield* all(
    'SELECT name, delivered_count, types, active, cursor_seq FROM subscriptions ORDER BY name',
  );
  const rows = yield* all(
    "SELECT subscription, SUM(CASE WHEN status = 'pending' AND (lease_until IS NULL OR lease_until <= ?) THEN 1 ELSE 0 END) AS pending, SUM(CASE WHEN status = 'pending' AND lease_until > ? THEN 1 ELSE 0 END) AS leased, SUM(CASE WHEN status = 'parked' THEN 1 ELSE 0 END) AS parked, MIN(CASE WHEN status = 'pending' THEN created_at END) AS oldest FROM deliveries GROUP BY subscription",
    [nowMs, nowMs],
  );
  const stats = new Map<string, SubscriptionStats>();
  const older = (a: string | null, b: string | null): string | null =>
    a === null ? b : b === null ? a : Date.parse(b) < Date.parse(a) ? b : a;
  for (const s of subs) {
    stats.set(String(s.name), {
      name: String(s.name),
      pending: 0,
      leased: 0,
      parked: 0,
      delivered: num(s.delivered_count),
      oldestPendingAt: null,
    });
  }
  for (const r of rows) {
    const s = stats.get(String(r.subscription));
    if (!s) continue;
    s.pending = num(r.pending ?? 0);
    s.leased = num(r.leased ?? 0);
    s.parked = num(r.parked ?? 0);
    s.oldestPendingAt = textOrNull(r.oldest);
  }
  if (d.cursorFanout) {
    // Blocks count as leased until their lease runs out; the outbox past an active subscription's
    // cursor is pending (its oldest event gives the lag).
    for (const b of yield* all('SELECT subscription, seqs, lease_until, created_at FROM delivery_blocks')) {
      const s = stats.get(String(b.subscription));
      if (!s) continue;
      const n = parseJson<number[]>(b.seqs).length;
      if (num(b.lease_until) > nowMs) s.leased += n;
      else {
        s.pending += n;
        s.oldestPendingAt = older(s.oldestPendingAt, String(b.created_at));
      }
    }
    for (const sub of subs) {
      if (num(sub.active) !== 1) continue;
      const f = typeFilter(parseJson<string[]>(sub.types));
      const r = yield* get(`SELECT COUNT(*) AS n, MIN(time_ms) AS t FROM outbox WHERE seq > ?${f.sql}`, [
        num(sub.cursor_seq),
        ...f.params,
      ]);
      const s = stats.get(String(sub.name));
      if (!s || !r || num(r.n) === 0) continue;
      s.pending += num(r.n);
      s.oldestPendingAt = older(s.oldestPendingAt, new Date(num(r.t)).toISOString());
    }
  }
  return [...stats.values()];
}

/** Outbox events by seq (those that exist). */
export function* eventsBySeq(d: Dialect, seqs: readonly number[]): Txn<Map<number, CloudEvent>> {
  const out = new Map<number, CloudEvent>();
  if (seqs.length === 0) return out;
  const rows = yield* all(`SELECT seq, payload FROM outbox WHERE ${d.inList('seq')}`, [d.list(seqs)]);
  for (const r of rows) out.set(num(r.seq), parseJson<CloudEvent>(r.payload));
  return out;
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
  const f = typeFilter(o.types ?? []);
  params.push(...f.params, Math.max(1, o.limit));
  const rows = yield* all(
    `SELECT seq, payload FROM outbox WHERE ${where.join(' AND ')}${f.sql} ORDER BY seq LIMIT ?`,
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
  const sub = yield* get('SELECT name, active, cursor_seq FROM subscriptions WHERE name = ?', [subscription]);
  if (!sub) {
    throw CrossdockError.dataQuality(`unknown subscription ${subscription}`, {
      owner: 'integration',
      details: { subscription },
    });
  }
  let seqs = [...eventSeqs];
  if (d.cursorFanout) {
    // Events past the cursor or in a block are still live deliveries: not doubled.
    const inBlocks = new Set(yield* blockSeqs(subscription));
    // Past an inactive subscription's cursor nothing is live (re-activation skips those events).
    const cursor = num(sub.active) === 1 ? num(sub.cursor_seq) : Number.POSITIVE_INFINITY;
    seqs = seqs.filter((s) => s <= cursor && !inBlocks.has(s));
  }
  return yield* eventsToRows(d, subscription, seqs, now.toISOString());
}
