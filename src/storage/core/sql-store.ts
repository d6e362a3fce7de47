/**
 * The `Store` implementation shared by both backends: every method is one generator from the
 * core run by the backend's driver, either as a plain read or inside one transaction.
 */
import type {
  Customer,
  InventoryPosition,
  PriceAgreement,
  Product,
  SalesOrder,
  TimelineEntry,
} from '../../domain/index.js';
import type {
  ApiKeyRecord,
  AuditInput,
  Backend,
  ClaimOptions,
  Clock,
  CommitResult,
  CommitUnit,
  Delivery,
  DeliveryFailure,
  ExceptionFilter,
  ExceptionRecord,
  IdempotencyRecord,
  JournalEntry,
  OrderListFilter,
  PruneCounts,
  PruneOptions,
  RetentionTable,
  Store,
  StoredEvent,
  SubscriptionDef,
  SubscriptionStats,
} from '../../ports/index.js';
import * as deliveries from './deliveries.js';
import * as exceptions from './exceptions.js';
import * as governance from './governance.js';
import * as master from './master-data.js';
import * as orders from './orders.js';
import * as retention from './retention.js';
import type { Dialect, Txn } from './sql.js';
import { type WriteArgs, type WriteOpName, type WriteResult, writeTxn } from './write-ops.js';

/** Base of `SqliteStore` and `PostgresStore`: they supply the driver, this supplies the logic. */
export abstract class SqlStore implements Store {
  abstract readonly backend: Backend;
  protected abstract readonly dialect: Dialect;
  protected readonly clock: Clock;

  protected constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Runs a read-only operation (no transaction needed). */
  protected abstract read<T>(txn: () => Txn<T>): Promise<T>;
  /** Runs an operation as one transaction. */
  protected abstract write<T>(txn: () => Txn<T>): Promise<T>;

  /**
   * Runs one named write operation (`write-ops.ts`) as one transaction. Why by name: a backend may
   * run its writes elsewhere (the SQLite writer thread) and only plain data crosses a thread.
   */
  protected writeOp<K extends WriteOpName>(op: K, args: WriteArgs<K>): Promise<WriteResult<K>> {
    const now = this.clock.now();
    return this.write(() => writeTxn(this.dialect, op, args, now, {}));
  }

  abstract migrate(): Promise<number[]>;
  abstract ready(): Promise<{ ok: boolean; schemaVersion: number; latestVersion: number }>;
  abstract close(): Promise<void>;

  commit(unit: CommitUnit): Promise<CommitResult> {
    return this.writeOp('commit', [unit]);
  }

  upsertCustomers(customers: Customer[]): Promise<void> {
    return this.writeOp('upsertCustomers', [customers]);
  }
  getCustomer(id: string): Promise<Customer | null> {
    return this.read(() => master.getCustomer(id));
  }
  findCustomerByExternalId(system: string, externalId: string): Promise<Customer | null> {
    return this.read(() => master.findCustomerByExternalId(system, externalId));
  }
  upsertProducts(products: Product[]): Promise<void> {
    return this.writeOp('upsertProducts', [products]);
  }
  getProducts(skus: string[]): Promise<Map<string, Product>> {
    return this.read(() => master.getProducts(this.dialect, skus));
  }
  upsertPriceAgreements(agreements: PriceAgreement[]): Promise<void> {
    return this.writeOp('upsertPriceAgreements', [agreements]);
  }
  getPriceAgreements(customerId: string, skus: string[], onDate: string): Promise<PriceAgreement[]> {
    return this.read(() => master.getPriceAgreements(this.dialect, customerId, skus, onDate));
  }
  getCustomerPriceAgreements(customerId: string, onDate: string): Promise<PriceAgreement[]> {
    return this.read(() => master.getCustomerPriceAgreements(customerId, onDate));
  }
  upsertInventoryPositions(positions: InventoryPosition[]): Promise<void> {
    return this.writeOp('upsertInventoryPositions', [positions]);
  }
  getInventory(skus: string[]): Promise<InventoryPosition[]> {
    return this.read(() => master.getInventory(this.dialect, skus));
  }

  getOrder(id: string): Promise<SalesOrder | null> {
    return this.read(() => orders.getOrder(id));
  }
  /** The live (not rejected, not cancelled) order converted from that quote, if any. */
  findOrderBySource(system: string, ref: string): Promise<SalesOrder | null> {
    return this.read(() => orders.findOrderBySource(system, ref));
  }
  /** A customer's orders with that PO number, any state, oldest first. */
  findOrdersByPo(customerId: string, poNumber: string, limit = 20): Promise<SalesOrder[]> {
    return this.read(() => orders.findOrdersByPo(customerId, poNumber, limit));
  }
  listOrders(filter: OrderListFilter): Promise<SalesOrder[]> {
    return this.read(() => orders.listOrders(this.dialect, filter));
  }
  countOrders(): Promise<{ state: string; holdReason: string | null; count: number }[]> {
    return this.read(() => orders.countOrders(this.dialect));
  }
  getTimeline(orderId: string): Promise<TimelineEntry[]> {
    return this.read(() => orders.getTimeline(orderId));
  }
  getJournal(orderId: string): Promise<JournalEntry[]> {
    return this.read(() => orders.getJournal(orderId));
  }
  getIdempotency(scope: string, key: string): Promise<IdempotencyRecord | null> {
    return this.read(() => orders.getIdempotency(scope, key));
  }
  getCursor(name: string): Promise<string | null> {
    return this.read(() => orders.getCursor(name));
  }

  putApiKey(key: ApiKeyRecord): Promise<void> {
    return this.writeOp('putApiKey', [key]);
  }
  findApiKeyByHash(secretHash: string): Promise<ApiKeyRecord | null> {
    return this.read(() => governance.findApiKeyByHash(secretHash));
  }
  listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.read(() => governance.listApiKeys());
  }
  countApiKeys(): Promise<number> {
    return this.read(() => governance.countApiKeys());
  }

  putSubscriptions(subs: SubscriptionDef[]): Promise<void> {
    return this.writeOp('putSubscriptions', [subs]);
  }
  listSubscriptions(): Promise<SubscriptionDef[]> {
    return this.read(() => deliveries.listSubscriptions());
  }
  claimDeliveries(subscription: string, options: ClaimOptions): Promise<Delivery[]> {
    return this.writeOp('claimDeliveries', [subscription, options]);
  }
  completeDeliveries(ids: string[]): Promise<void> {
    return this.writeOp('completeDeliveries', [ids]);
  }
  failDeliveries(failures: DeliveryFailure[], owner?: string): Promise<void> {
    return this.writeOp('failDeliveries', [failures, owner ?? null]);
  }
  releaseDeliveries(ids: string[], owner?: string): Promise<void> {
    return this.writeOp('releaseDeliveries', [ids, owner ?? null]);
  }
  releaseForeignLeases(owner: string): Promise<number> {
    return this.writeOp('releaseForeignLeases', [owner]);
  }
  expediteDeliveries(subscription: string, now: Date): Promise<number> {
    return this.writeOp('expediteDeliveries', [subscription, now]);
  }
  subscriptionStats(): Promise<SubscriptionStats[]> {
    const now = this.clock.now();
    return this.read(() => deliveries.subscriptionStats(this.dialect, now));
  }
  readEvents(options: {
    fromSeq?: number;
    fromTime?: string;
    toTime?: string;
    limit: number;
    types?: string[];
  }): Promise<StoredEvent[]> {
    return this.read(() => deliveries.readEvents(options));
  }
  enqueueDeliveries(subscription: string, eventSeqs: number[]): Promise<number> {
    return this.writeOp('enqueueDeliveries', [subscription, eventSeqs]);
  }

  listExceptions(filter: ExceptionFilter): Promise<ExceptionRecord[]> {
    return this.read(() => exceptions.listExceptions(filter));
  }
  getException(id: string): Promise<ExceptionRecord | null> {
    return this.read(() => exceptions.getException(id));
  }
  actOnException(
    id: string,
    action: 'retry' | 'resolve' | 'discard',
    audit: AuditInput,
    note?: string,
  ): Promise<ExceptionRecord> {
    return this.writeOp('actOnException', [id, action, audit, note]);
  }
  listAudit(limit: number): Promise<(AuditInput & { id: number })[]> {
    return this.read(() => governance.listAudit(limit));
  }

  /**
   * Table by table, one bounded transaction per batch (`core/retention.ts`), awaiting each before
   * the next so other writes run in between. Archived tables are read, handed to `archive`, and
   * only then deleted by id (each row checked again); without `archive` they go like the others.
   */
  async prune(o: PruneOptions): Promise<PruneCounts> {
    const limit = Math.max(1, Math.trunc(o.batchSize ?? defaultPruneBatch));
    const dry = o.dryRun ?? false;
    const counts: PruneCounts = {
      idempotency: 0,
      inbound_messages: 0,
      outbox: 0,
      exceptions: 0,
      audit_log: 0,
    };
    const stopped = () => o.signal?.aborted === true;
    const progress = (table: RetentionTable, n: number) => {
      counts[table] += n;
      o.onProgress?.(table, counts[table]);
    };
    for (const table of pruneOrder) {
      const before = o.before[table];
      if (before === undefined || stopped()) continue;
      const cutoff = before.toISOString();
      if (table === 'outbox') {
        const cutoffMs = before.getTime();
        const hi = await this.read(() => retention.outboxPruneBound(this.dialect, cutoffMs));
        let after = 0;
        while (after < hi && !stopped()) {
          const batch = dry
            ? await this.read(() =>
                retention.pruneOutboxBatch(this.dialect, cutoffMs, after, hi, limit, true),
              )
            : await this.writeOp('pruneOutbox', [cutoffMs, after, hi, limit]);
          progress(table, batch.pruned);
          if (batch.done) break;
          after = batch.last;
        }
      } else if (dry) {
        progress(table, await this.read(() => retention.countByAge(table, cutoff)));
      } else if ((table === 'exceptions' || table === 'audit_log') && o.archive) {
        for (;;) {
          if (stopped()) break;
          const rows = await this.read(() => retention.readArchiveBatch(table, cutoff, limit));
          if (rows.length === 0) break;
          await o.archive(table, rows);
          const ids = rows.map((r) => r.id as string | number);
          const n = await this.writeOp('deleteArchived', [table, ids, cutoff]);
          progress(table, n);
          // Every row read was changed since (re-opened): nothing left to take in this run.
          if (n === 0 || rows.length < limit) break;
        }
      } else {
        for (;;) {
          if (stopped()) break;
          const n = await this.writeOp('pruneByAge', [table, cutoff, limit]);
          progress(table, n);
          if (n < limit) break;
        }
      }
    }
    return counts;
  }
}

/** Rows per prune transaction unless `PruneOptions.batchSize` says otherwise. */
const defaultPruneBatch = 1_000;

/** The order tables are pruned in (the cheapest, most numerous first). */
const pruneOrder: readonly RetentionTable[] = [
  'idempotency',
  'inbound_messages',
  'outbox',
  'exceptions',
  'audit_log',
];
