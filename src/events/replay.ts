/**
 * Replay: send a subscription's events again, from a time or an event id, optionally to a time.
 *
 * Why it re-enqueues rather than delivering itself: the replayed deliveries then go through the
 * same dispatcher, ordering, breaker, rate limit, retry and dead-letter path as live traffic,
 * and survive a crash mid-replay. The notification guard: by default a replay skips events the
 * order's timeline records as already delivered to a guarded subscription (customer
 * notifications), and the unchanged idempotency key makes the destination deduplicate anything
 * the timeline missed. `force` sends them again under a new key.
 */
import { randomUUID } from 'node:crypto';
import { CrossdockError } from '../domain/index.js';
import { type Clock, type Store, type StoredEvent, systemClock } from '../ports/index.js';
import type { Dispatcher } from './dispatcher.js';
import { subscriptionNames } from './subscriptions.js';

/** What a replay needs. */
export interface ReplayDeps {
  store: Store;
  clock?: Clock;
  /** The in-process dispatcher, when there is one: it applies forced replay keys. */
  dispatcher?: Dispatcher;
  /** Subscriptions whose already-delivered events are skipped unless forced. */
  guarded?: readonly string[];
}

/** A replay request. */
export interface ReplayRequest {
  subscription: string;
  /** An ISO time (inclusive) or an event id (that event included). */
  from: string;
  /** ISO time (inclusive). */
  to?: string;
  dryRun?: boolean;
  force?: boolean;
  /** Who asked (audit log). */
  actor: string;
  /** Called as events are scanned and enqueued. */
  onProgress?: (progress: ReplayProgress) => void;
}

/** Progress of a replay, for the CLI's progress bar. */
export interface ReplayProgress {
  phase: 'scan' | 'enqueue';
  done: number;
  total: number | null;
}

/** What a replay did (or, dry, would do). */
export interface ReplayResult {
  replayId: string;
  subscription: string;
  dryRun: boolean;
  force: boolean;
  fromSeq: number | null;
  fromTime: string | null;
  toTime: string | null;
  /** Events in range that match the subscription's filter. */
  matched: number;
  /** Skipped because already delivered to a guarded subscription (and not forced). */
  skippedAlreadyDelivered: number;
  /** Deliveries that will be (dry run: would be) sent. */
  toSend: number;
  /** Deliveries actually created (0 on a dry run). */
  enqueued: number;
}

const page = 1_000;
const isoTime = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;

function matches(types: readonly string[], type: string): boolean {
  return types.length === 0 || types.some((t) => type.startsWith(t));
}

/** Finds the outbox seq of an event id by scanning (the Store has no lookup by id; see report). */
async function seqOfEvent(store: Store, eventId: string): Promise<number> {
  let fromSeq = 0;
  for (;;) {
    const rows = await store.readEvents({ fromSeq, limit: 5_000 });
    for (const r of rows) if (r.event.id === eventId) return r.seq;
    const last = rows.at(-1);
    if (!last || rows.length < 5_000) break;
    fromSeq = last.seq + 1;
  }
  throw CrossdockError.dataQuality(`event ${eventId} not found in the outbox`, { details: { eventId } });
}

/** Replays one subscription; see the module comment for the guard. */
export async function replaySubscription(deps: ReplayDeps, request: ReplayRequest): Promise<ReplayResult> {
  const clock = deps.clock ?? systemClock;
  const def = (await deps.store.listSubscriptions()).find((s) => s.name === request.subscription);
  if (!def) {
    throw CrossdockError.dataQuality(`unknown subscription ${request.subscription}`, {
      details: { subscription: request.subscription },
    });
  }
  const fromIsTime = isoTime.test(request.from) && !Number.isNaN(Date.parse(request.from));
  const fromTime = fromIsTime ? new Date(request.from).toISOString() : null;
  const fromSeq = fromIsTime ? null : await seqOfEvent(deps.store, request.from);
  const toTime = request.to === undefined ? null : new Date(request.to).toISOString();
  if (toTime !== null && Number.isNaN(Date.parse(toTime))) {
    throw CrossdockError.dataQuality(`invalid --to time ${request.to}`, { details: { to: request.to } });
  }
  const guarded = new Set(deps.guarded ?? [subscriptionNames.customerNotifications]);
  const guard = guarded.has(def.name) && !request.force;
  const replayId = randomUUID();

  const seqs: number[] = [];
  let matched = 0;
  let skipped = 0;
  let cursor: { fromSeq?: number; fromTime?: string } =
    fromSeq !== null ? { fromSeq } : { fromTime: fromTime! };
  for (;;) {
    const rows: StoredEvent[] = await deps.store.readEvents({
      ...cursor,
      ...(toTime !== null ? { toTime } : {}),
      limit: page,
      ...(def.types.length > 0 ? { types: def.types } : {}),
    });
    const wanted = rows.filter((r) => matches(def.types, r.event.type));
    matched += wanted.length;
    const delivered = guard ? await deliveredEventIds(deps.store, def.name, wanted) : new Set<string>();
    for (const r of wanted) {
      if (delivered.has(r.event.id)) skipped++;
      else seqs.push(r.seq);
    }
    request.onProgress?.({ phase: 'scan', done: matched, total: null });
    const last = rows.at(-1);
    if (!last || rows.length < page) break;
    cursor = { fromSeq: last.seq + 1 };
  }

  let enqueued = 0;
  if (!request.dryRun && seqs.length > 0) {
    if (request.force && deps.dispatcher?.subscriptions.includes(def.name)) {
      deps.dispatcher.forceReplay(def.name, seqs, replayId);
    }
    for (let i = 0; i < seqs.length; i += page) {
      enqueued += await deps.store.enqueueDeliveries(def.name, seqs.slice(i, i + page));
      request.onProgress?.({ phase: 'enqueue', done: Math.min(i + page, seqs.length), total: seqs.length });
    }
    deps.dispatcher?.notify(def.name);
  }
  const result: ReplayResult = {
    replayId,
    subscription: def.name,
    dryRun: request.dryRun ?? false,
    force: request.force ?? false,
    fromSeq,
    fromTime,
    toTime,
    matched,
    skippedAlreadyDelivered: skipped,
    toSend: seqs.length,
    enqueued,
  };
  if (!request.dryRun) {
    await deps.store.commit({
      audit: [
        {
          actor: request.actor,
          action: 'subscription.replay',
          target: def.name,
          detail: { ...result },
          at: clock.now().toISOString(),
        },
      ],
    });
  }
  return result;
}

/** Event ids of `rows` that the orders' timelines record as delivered to `subscription`. */
async function deliveredEventIds(
  store: Store,
  subscription: string,
  rows: StoredEvent[],
): Promise<Set<string>> {
  const out = new Set<string>();
  const subjects = [...new Set(rows.map((r) => r.event.subject))];
  for (const subject of subjects) {
    for (const entry of await store.getTimeline(subject)) {
      if (
        entry.kind === 'delivery' &&
        entry.name === subscription &&
        typeof entry.summary.eventId === 'string'
      ) {
        out.add(entry.summary.eventId);
      }
    }
  }
  return out;
}
