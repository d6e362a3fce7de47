/**
 * Every write operation of the `Store`, as a table from a name to the core generator that does it.
 *
 * Why a table rather than closures: the SQLite store runs its writes on a worker thread, and only
 * plain data crosses a thread. A write travels as `{ op, args, now }` and the writer looks the
 * generator up here, so both threads (and PostgreSQL) run the same SQL, written once in the core.
 */
import type { Customer, InventoryPosition, PriceAgreement, Product } from '../../domain/index.js';
import type {
  ApiKeyRecord,
  ArchivedTable,
  AuditInput,
  CommitUnit,
  DeliveryFailure,
  SubscriptionDef,
} from '../../ports/index.js';
import { type CommitContext, commitUnit } from './commit.js';
import * as deliveries from './deliveries.js';
import * as exceptions from './exceptions.js';
import * as governance from './governance.js';
import * as master from './master-data.js';
import * as retention from './retention.js';
import type { Dialect, Txn } from './sql.js';

/** The write operations by name; `now` is the caller's clock reading, taken when the call was made. */
export const writeOps = {
  commit: (d: Dialect, now: Date, ctx: CommitContext, unit: CommitUnit) => commitUnit(d, unit, now, ctx),
  upsertCustomers: (_d: Dialect, _now: Date, _ctx: CommitContext, customers: Customer[]) =>
    master.upsertCustomers(customers),
  upsertProducts: (_d: Dialect, _now: Date, _ctx: CommitContext, products: Product[]) =>
    master.upsertProducts(products),
  upsertPriceAgreements: (_d: Dialect, _now: Date, _ctx: CommitContext, agreements: PriceAgreement[]) =>
    master.upsertPriceAgreements(agreements),
  upsertInventoryPositions: (_d: Dialect, _now: Date, _ctx: CommitContext, positions: InventoryPosition[]) =>
    master.upsertInventoryPositions(positions),
  putApiKey: (_d: Dialect, _now: Date, _ctx: CommitContext, key: ApiKeyRecord) => governance.putApiKey(key),
  putSubscriptions: (d: Dialect, now: Date, ctx: CommitContext, subs: SubscriptionDef[]) => {
    // The group's memo of active subscriptions is stale once they change.
    ctx.subscriptions = undefined;
    return deliveries.putSubscriptions(d, subs, now);
  },
  claimDeliveries: (
    d: Dialect,
    _now: Date,
    _ctx: CommitContext,
    subscription: string,
    options: deliveries.CoreClaimOptions,
  ) => deliveries.claimDeliveries(d, subscription, options),
  completeDeliveries: (d: Dialect, _now: Date, _ctx: CommitContext, ids: string[]) =>
    deliveries.completeDeliveries(d, ids),
  failDeliveries: (
    _d: Dialect,
    now: Date,
    _ctx: CommitContext,
    failures: DeliveryFailure[],
    owner: string | null,
  ) => deliveries.failDeliveries(failures, now, owner),
  releaseDeliveries: (d: Dialect, _now: Date, _ctx: CommitContext, ids: string[], owner: string | null) =>
    deliveries.releaseDeliveries(d, ids, owner),
  releaseForeignLeases: (d: Dialect, _now: Date, _ctx: CommitContext, owner: string) =>
    deliveries.releaseForeignLeases(d, owner),
  expediteDeliveries: (_d: Dialect, _now: Date, _ctx: CommitContext, subscription: string, now: Date) =>
    deliveries.expediteDeliveries(subscription, now),
  enqueueDeliveries: (
    d: Dialect,
    now: Date,
    _ctx: CommitContext,
    subscription: string,
    eventSeqs: number[],
  ) => deliveries.enqueueDeliveries(d, subscription, eventSeqs, now),
  actOnException: (
    d: Dialect,
    now: Date,
    _ctx: CommitContext,
    id: string,
    action: 'retry' | 'resolve' | 'discard',
    audit: AuditInput,
    note: string | undefined,
  ) => exceptions.actOnException(d, id, action, audit, note, now),
  pruneByAge: (
    _d: Dialect,
    _now: Date,
    _ctx: CommitContext,
    table: 'idempotency' | 'inbound_messages' | 'exceptions' | 'audit_log',
    cutoff: string,
    limit: number,
  ) => retention.pruneByAge(table, cutoff, limit),
  deleteArchived: (
    d: Dialect,
    _now: Date,
    _ctx: CommitContext,
    table: ArchivedTable,
    ids: (string | number)[],
    cutoff: string,
  ) => retention.deleteArchived(d, table, ids, cutoff),
  pruneOutbox: (
    d: Dialect,
    _now: Date,
    _ctx: CommitContext,
    cutoffMs: number,
    after: number,
    hi: number,
    limit: number,
  ) => retention.pruneOutboxBatch(d, cutoffMs, after, hi, limit, false),
} satisfies Record<string, (d: Dialect, now: Date, ctx: CommitContext, ...args: never[]) => Txn<unknown>>;

/** The name of a write operation. */
export type WriteOpName = keyof typeof writeOps;

type Fn<K extends WriteOpName> = (typeof writeOps)[K];

/** The arguments a write operation takes after `(dialect, now, ctx)`. */
export type WriteArgs<K extends WriteOpName> =
  Fn<K> extends (d: Dialect, now: Date, ctx: CommitContext, ...args: infer A) => Txn<unknown> ? A : never;

/** What a write operation returns. */
export type WriteResult<K extends WriteOpName> = ReturnType<Fn<K>> extends Txn<infer R> ? R : never;

/**
 * Delivery bookkeeping that may run with `synchronous=NORMAL` even in a FULL store: delivery is
 * at-least-once, so losing the last leases or completions to a power cut only means a redelivery
 * that idempotency at the destination absorbs (see `SqliteStore`).
 */
export const relaxedWriteOps: ReadonlySet<WriteOpName> = new Set<WriteOpName>([
  'claimDeliveries',
  'completeDeliveries',
  'releaseDeliveries',
  'expediteDeliveries',
]);

/** Runs a write operation by name: the one place that turns `{ op, args }` into a generator. */
export function writeTxn<K extends WriteOpName>(
  d: Dialect,
  op: K,
  args: WriteArgs<K>,
  now: Date,
  ctx: CommitContext,
): Txn<WriteResult<K>> {
  const fn = writeOps[op] as unknown as (
    d: Dialect,
    now: Date,
    ctx: CommitContext,
    ...args: unknown[]
  ) => Txn<WriteResult<K>>;
  return fn(d, now, ctx, ...(args as unknown[]));
}
