/**
 * Store: the hub's own durable state, behind one interface with two implementations
 * (SQLite embedded default, PostgreSQL for several processes) that pass one contract suite.
 *
 * Why a unit-of-work `commit` instead of a transaction callback: better-sqlite3 is synchronous
 * and PostgreSQL is not. A commit described as data runs as one transaction on both, can be
 * group-committed (many units, one fsync) on SQLite, and cannot interleave awaits with a half-
 * open transaction. Everything a decision writes — order state, step journal, timeline, outbox
 * events, inventory reservations, idempotency record — goes into one unit, so it is all
 * committed or none of it is.
 */
import type {
  CloudEvent,
  Customer,
  ErrorKind,
  InventoryPosition,
  PriceAgreement,
  Product,
  SalesOrder,
  TimelineEntry,
} from '../domain/index.js';

export type Backend = 'sqlite' | 'postgres';

/** A step journal entry of a durable workflow run. */
export interface JournalEntry {
  orderId: string;
  /** Stable step id (never renamed; stored). */
  step: string;
  status: 'completed' | 'failed' | 'compensated';
  attempt: number;
  /** What the step needs to resume or compensate (ERP order id, reservation lines). */
  output: Record<string, unknown>;
  error: Record<string, unknown> | null;
  at: string;
  durationMs: number;
}

export type TimelineInput = Omit<TimelineEntry, 'seq'>;

export interface InventoryDelta {
  sku: string;
  warehouseId: string;
  /** Positive reserves, negative releases a soft reservation. */
  reservedDelta: number;
}

export interface IdempotencyRecord {
  /** The client (API key id) the key belongs to. */
  scope: string;
  key: string;
  /** Hash of method, path and body: the same key with another body is refused (422). */
  requestHash: string;
  responseStatus: number;
  responseBody: unknown;
  createdAt: string;
}

export interface ExceptionInput {
  id: string;
  kind: ErrorKind;
  owner: string;
  source: string;
  subscription: string | null;
  deliveryId: string | null;
  eventId: string | null;
  orderId: string | null;
  error: Record<string, unknown>;
  attempts: number;
  /**
   * Coalesce repeats into one record: when an exception with this id is already open, its
   * `attempts` grows by this input's `attempts` and its last error is replaced, instead of the
   * count being overwritten. For refusals counted per source and reason (one open record per
   * cause, not one per refused message).
   */
  coalesce?: boolean;
}

export interface ExceptionRecord extends ExceptionInput {
  status: 'open' | 'retried' | 'resolved' | 'discarded';
  firstError: Record<string, unknown>;
  lastError: Record<string, unknown>;
  note: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface AuditInput {
  actor: string;
  action: string;
  target: string;
  detail: Record<string, unknown>;
  at: string;
}

/** Everything one decision writes, committed atomically. */
export interface CommitUnit {
  /** Insert (`expectedVersion: null`) or update from that version; mismatch → conflict, nothing written. */
  order?: { next: SalesOrder; expectedVersion: number | null };
  customers?: Customer[];
  journal?: JournalEntry[];
  timeline?: TimelineInput[];
  /** Appended to the outbox and fanned out to every matching subscription. */
  events?: CloudEvent[];
  /** Each applied only while availability stays >= 0; otherwise conflict, nothing written. */
  inventory?: InventoryDelta[];
  /**
   * The answer stored for a client's `Idempotency-Key`, in the same transaction as its effect.
   * Inserted: a key already used is a conflict (`details.scope`/`details.key`), nothing written.
   * With `replace`, it overwrites the record the key holds for the same request (same hash):
   * how an order's provisional 202, written with its decision, becomes the final answer.
   */
  idempotency?: IdempotencyRecord & { replace?: boolean };
  /**
   * Inbound message dedupe: if (source, id) was seen, the unit is not applied (`duplicate`). A
   * list records several messages applied together (one order's feed entries of a page): if any
   * was seen, nothing is applied (`duplicate`; apply them one by one to learn which).
   */
  inbound?: { source: string; id: string } | { source: string; id: string }[];
  exceptions?: ExceptionInput[];
  /** API keys created or revoked, with their audit rows in the same transaction. */
  apiKeys?: ApiKeyRecord[];
  audit?: AuditInput[];
  /**
   * Change-feed watermarks (ERP `write_date`, WMS milestone sequence) advanced in the same
   * transaction as the changes they cover, so a crash never skips or re-applies a change.
   */
  cursors?: { name: string; value: string }[];
}

export type CommitResult = { status: 'committed'; eventSeqs: number[] } | { status: 'duplicate' };

export interface OrderListFilter {
  states?: string[];
  customerId?: string;
  holdReason?: string;
  limit?: number;
  /** Keyset paging: orders created strictly after this order id. */
  afterId?: string;
}

/** A subscription: a named destination with its own cursor and filter. */
export interface SubscriptionDef {
  name: string;
  /** Event type prefixes it receives (`order.`, `shipment.milestone.v1`); empty = all. */
  types: string[];
  /** `strict`: a parked event blocks later events of its key; `skip_parked`: it does not. */
  ordering: 'strict' | 'skip_parked';
  active: boolean;
}

export interface Delivery {
  id: string;
  subscription: string;
  eventSeq: number;
  /** The event's subject: deliveries of one key go out in eventSeq order. */
  key: string;
  event: CloudEvent;
  attempts: number;
  firstError: Record<string, unknown> | null;
  lastError: Record<string, unknown> | null;
  createdAt: string;
}

export interface ClaimOptions {
  limit: number;
  /** Claimed rows are leased; another claimer skips them until this expires. */
  leaseMs: number;
  now: Date;
  /** Identifies the claimer (process id) for lease ownership. */
  owner: string;
}

export interface DeliveryFailure {
  id: string;
  error: Record<string, unknown>;
  /** When to try again; `null` parks the delivery (dead letter) and needs `exception`. */
  nextAttemptAt: Date | null;
  exception?: ExceptionInput;
}

export interface SubscriptionStats {
  name: string;
  pending: number;
  leased: number;
  parked: number;
  delivered: number;
  oldestPendingAt: string | null;
}

export interface ExceptionFilter {
  status?: ExceptionRecord['status'];
  kind?: ErrorKind;
  owner?: string;
  subscription?: string;
  limit?: number;
}

export interface StoredEvent {
  seq: number;
  event: CloudEvent;
}

export interface ApiKeyRecord {
  id: string;
  name: string;
  /** sha256 of the secret; the secret itself is never stored. */
  secretHash: string;
  scopes: string[];
  /** Requests per second allowed for this client; 0 = the server default. */
  rateLimit: number;
  createdAt: string;
  revokedAt: string | null;
  /**
   * The hub customer id a customer's key (a portal's) is bound to; absent for system and staff
   * keys. Stored in `api_keys.customer_id` (schema 7).
   */
  customerId?: string | null;
}

/** The tables retention prunes (`Store.prune`). */
export type RetentionTable = 'idempotency' | 'inbound_messages' | 'outbox' | 'exceptions' | 'audit_log';

/** The tables whose rows are handed to `PruneOptions.archive` before they are deleted. */
export type ArchivedTable = 'exceptions' | 'audit_log';

/** Rows pruned (or, in a dry run, prunable) per table. */
export type PruneCounts = Record<RetentionTable, number>;

export interface PruneOptions {
  /**
   * Per table, rows older than this instant go (a table left out is not pruned): idempotency
   * records by creation, inbound dedupe records by receipt, outbox events by event time and only
   * once every subscription has delivered them, exceptions by their last change and only when
   * resolved or discarded, audit entries by their time.
   */
  before: Partial<Record<RetentionTable, Date>>;
  /** Rows per transaction (default 1,000): bounds how long one batch holds the writer. */
  batchSize?: number;
  /** Count what would go; delete nothing, archive nothing. */
  dryRun?: boolean;
  /**
   * Called with each batch of exceptions (`ExceptionRecord`) or audit entries (`AuditInput` and
   * `id`) before that batch is deleted; the rows are deleted only after it resolved. If it throws,
   * nothing of the batch is deleted and `prune` rejects with its error. A crash between the two
   * hands the same rows over again on the next run: archived twice at worst, never lost.
   */
  archive?: (table: ArchivedTable, rows: readonly Record<string, unknown>[]) => Promise<void>;
  /** After each batch: the table and how many of its rows went (or would go) so far. */
  onProgress?: (table: RetentionTable, done: number) => void;
  /** Stops between batches (what was pruned stays pruned; the counts so far are returned). */
  signal?: AbortSignal;
}

export interface Store {
  readonly backend: Backend;
  /** Applies numbered migrations not applied yet; returns the ones it applied. */
  migrate(): Promise<number[]>;
  /** Reachable and fully migrated. */
  ready(): Promise<{ ok: boolean; schemaVersion: number; latestVersion: number }>;
  close(): Promise<void>;

  // master data (the hub's copies, fed by sync from CRM/ERP/WMS)
  upsertCustomers(customers: Customer[]): Promise<void>;
  getCustomer(id: string): Promise<Customer | null>;
  findCustomerByExternalId(system: string, externalId: string): Promise<Customer | null>;
  upsertProducts(products: Product[]): Promise<void>;
  getProducts(skus: string[]): Promise<Map<string, Product>>;
  upsertPriceAgreements(agreements: PriceAgreement[]): Promise<void>;
  /** Agreements of that customer for those skus valid on `onDate` (YYYY-MM-DD). */
  getPriceAgreements(customerId: string, skus: string[], onDate: string): Promise<PriceAgreement[]>;
  /** Every agreement of that customer valid on `onDate` (YYYY-MM-DD), by sku: its price list. */
  getCustomerPriceAgreements(customerId: string, onDate: string): Promise<PriceAgreement[]>;
  /** Replaces on-hand/allocated/inbound/asOf; keeps the hub's own `reserved`. */
  upsertInventoryPositions(positions: InventoryPosition[]): Promise<void>;
  getInventory(skus: string[]): Promise<InventoryPosition[]>;

  // orders
  commit(unit: CommitUnit): Promise<CommitResult>;
  getOrder(id: string): Promise<SalesOrder | null>;
  /** The live (not rejected, not cancelled) order converted from that quote, if any. */
  findOrderBySource(system: string, ref: string): Promise<SalesOrder | null>;
  /** A customer's orders with that PO number, any state, oldest first (at most `limit`, default 20). */
  findOrdersByPo(customerId: string, poNumber: string, limit?: number): Promise<SalesOrder[]>;
  listOrders(filter: OrderListFilter): Promise<SalesOrder[]>;
  countOrders(): Promise<{ state: string; holdReason: string | null; count: number }[]>;
  getTimeline(orderId: string): Promise<TimelineEntry[]>;
  getJournal(orderId: string): Promise<JournalEntry[]>;
  getIdempotency(scope: string, key: string): Promise<IdempotencyRecord | null>;
  /** A change-feed watermark written by `CommitUnit.cursors`; null before the first. */
  getCursor(name: string): Promise<string | null>;

  // governance
  putApiKey(key: ApiKeyRecord): Promise<void>;
  findApiKeyByHash(secretHash: string): Promise<ApiKeyRecord | null>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  countApiKeys(): Promise<number>;

  // event backbone
  putSubscriptions(subs: SubscriptionDef[]): Promise<void>;
  listSubscriptions(): Promise<SubscriptionDef[]>;
  /**
   * Up to `limit` due, unleased, pending deliveries in eventSeq order such that every earlier
   * undelivered delivery of the same key (and subscription) is in the same batch, before it.
   * Under `strict` ordering a parked delivery blocks its key.
   */
  claimDeliveries(subscription: string, options: ClaimOptions): Promise<Delivery[]>;
  /** Marks delivered (and drops the payload copy). */
  completeDeliveries(ids: string[]): Promise<void>;
  /**
   * With `owner`, only deliveries still leased to `owner` (or unleased) are changed: a claimer
   * whose lease ran out must not reschedule or free a delivery another claimer holds now.
   */
  failDeliveries(failures: DeliveryFailure[], owner?: string): Promise<void>;
  /** Drops the lease so the delivery can be claimed again at once (a batch cut short). */
  releaseDeliveries(ids: string[], owner?: string): Promise<void>;
  /**
   * Drops every delivery lease not held by `owner` and returns how many. For a store only one
   * process uses (embedded SQLite), every such lease at start belongs to a dead process, so its
   * work resumes at once instead of after the lease. Never call it where other live processes claim.
   */
  releaseForeignLeases(owner: string): Promise<number>;
  /**
   * Makes every pending, unleased delivery of `subscription` that waits for a later retry due
   * at `now`, and returns how many. The dispatcher calls it when the subscription's breaker
   * closes after a successful probe: backoffs earned against a down destination are void once it
   * is back. Parked and leased deliveries are untouched, and claims still hand out each key in
   * seq order, so per-key order holds.
   */
  expediteDeliveries(subscription: string, now: Date): Promise<number>;
  subscriptionStats(): Promise<SubscriptionStats[]>;
  /** Events in seq order for replay, from `fromSeq` (inclusive), optionally up to a time. */
  readEvents(options: {
    fromSeq?: number;
    fromTime?: string;
    toTime?: string;
    limit: number;
    types?: string[];
  }): Promise<StoredEvent[]>;
  /** Re-enqueues events for one subscription (replay); returns how many deliveries it made. */
  enqueueDeliveries(subscription: string, eventSeqs: number[]): Promise<number>;

  // exceptions and audit
  listExceptions(filter: ExceptionFilter): Promise<ExceptionRecord[]>;
  getException(id: string): Promise<ExceptionRecord | null>;
  /** retry: the parked delivery becomes pending again (due now); resolve/discard close it. */
  actOnException(
    id: string,
    action: 'retry' | 'resolve' | 'discard',
    audit: AuditInput,
    note?: string,
  ): Promise<ExceptionRecord>;
  listAudit(limit: number): Promise<(AuditInput & { id: number })[]>;

  // retention
  /**
   * Deletes what retention no longer needs, in bounded batches (one transaction each), and
   * returns how many rows went per table. An outbox event goes only when no subscription still
   * owes it: not past an active subscription's cursor, not in a claimed block, and without a
   * delivery row (pending, leased, retrying or parked). Open exceptions are never pruned.
   */
  prune(options: PruneOptions): Promise<PruneCounts>;
}
