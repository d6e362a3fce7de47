/**
 * Lifecycle sync: ERP, WMS and TMS change feeds into the orders the hub owns.
 *
 * Each feed is read from a durable watermark (`Store.getCursor`) a page at a time. An entry is
 * applied as ONE commit holding the order update (optimistic version; re-read and re-plan on
 * conflict), its timeline entry, its outbox events, the reservations it gives back and the
 * inbound dedupe record (`source`, entry id); several entries of one order in a WMS or TMS page
 * go into one such commit together (`applyTogether`), falling back to one by one. The entries of
 * different orders in a page are applied side by side (group commit takes them in one fsync);
 * one order's entries stay in feed order. The cursor moves past a page in its own commit once every entry of the page is in. So:
 * - a crash inside a page re-reads the page, and the entries already committed come back
 *   `duplicate` from the store and apply nothing;
 * - two hub processes polling the same feed cannot both apply an entry;
 * - nothing is skipped: the cursor never moves past an entry that is not committed.
 * Why per order rather than per page: an entry's plan depends on the order as the previous entry
 * left it, so one order's entries are planned in sequence, each on the last one's result.
 *
 * A report for an order that is still being decided (`received`/`validating`: the ERP answered
 * but the hub has not committed the acceptance yet) waits, up to a grace period, so the
 * acceptance is never skipped over; the feed resumes at that entry on the next poll.
 */
import {
  type CloudEvent,
  type CrossdockError,
  type SalesOrder,
  toCrossdockError,
} from '../../domain/index.js';
import type {
  Clock,
  CommitUnit,
  ErpPort,
  ExceptionInput,
  InventoryDelta,
  Store,
  TimelineInput,
  TmsPort,
  WmsPort,
} from '../../ports/index.js';
import { ReturnsProcessor } from '../returns/processor.js';
import { type ErpDetails, planReport, reportException } from './apply-report.js';
import { commitReport } from './commit-report.js';
import {
  type FeedSource,
  type FulfillmentReport,
  fromErpChange,
  fromTmsMilestone,
  fromWmsMilestone,
} from './milestones.js';

/** Stable id of this workflow (CloudEvents source suffix, cursor prefix). Stored: never rename. */
export const fulfillmentSyncId = 'fulfillment-sync';

/** Ports and settings the sync runs with; any feed left out is not polled. */
export interface FulfillmentSyncDeps {
  store: Store;
  clock: Clock;
  erp?: ErpPort;
  wms?: WmsPort;
  tms?: TmsPort;
  /** Entries read per feed request. Default 100. */
  pageSize?: number;
  /**
   * Orders whose entries of one page are applied side by side (each order's own entries stay in
   * feed order). Default 32. One commit per entry waits for a group commit; applying them one
   * after another capped the sync at roughly one entry per fsync.
   */
  concurrency?: number;
  /** Poll interval of `start()`. Default 1000 ms. */
  intervalMs?: number;
  /** How long a report waits for its order's acceptance before it is applied anyway. Default 60 s. */
  pendingOrderGraceMs?: number;
  /** CloudEvents source of the events emitted. Default `/crossdock/fulfillment-sync`. */
  eventSource?: string;
  /** Called with every feed failure in the poll loop (the feed is retried on the next tick). */
  onError?: (feed: FeedSource, error: CrossdockError) => void;
}

/** What one pass over one feed did. */
export interface FeedPassReport {
  /** Entries read from the feed. */
  read: number;
  /** Entries that moved an order's state. */
  applied: number;
  /** Entries recorded in a timeline without moving the state (late, duplicate, timeline-only). */
  recorded: number;
  /** Entries the store had seen already (inbound dedupe): nothing applied. */
  duplicates: number;
  /** Entries about no known order, or no fulfillment fact: only the cursor moved. */
  skipped: number;
  /**
   * Entries refused as a whole (more shipped than ordered): the order is untouched, the timeline
   * says so, and an exception keeps the raw entry for its owner.
   */
  refused: number;
  /** True when the pass stopped at an order still being decided. */
  deferred: boolean;
}

/** What `syncOnce()` did, per feed polled. */
export type SyncPassReport = Partial<Record<FeedSource, FeedPassReport>>;

type EntryOutcome = 'applied' | 'recorded' | 'duplicates' | 'skipped' | 'refused' | 'deferred';

interface Feed {
  source: FeedSource;
  system: string;
  cursor: string;
  read(
    since: string | null,
    limit: number,
  ): Promise<{ reports: (FulfillmentReport | null)[]; watermark: string }>;
}

/** Polls the fulfillment feeds and applies them to orders; see the file comment for the rules. */
export class FulfillmentSync {
  private readonly feeds: Feed[] = [];
  private readonly pageSize: number;
  private readonly intervalMs: number;
  private readonly concurrency: number;
  private readonly graceMs: number;
  private readonly eventSource: string;
  private readonly deferredSince = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<SyncPassReport> | null = null;
  /** Carries recorded returns to the ERP and the warehouse (see `returns/processor.ts`). */
  private readonly returns: ReturnsProcessor | null;

  constructor(private readonly deps: FulfillmentSyncDeps) {
    this.pageSize = deps.pageSize ?? 100;
    this.intervalMs = deps.intervalMs ?? 1000;
    this.concurrency = Math.max(1, deps.concurrency ?? 32);
    this.graceMs = deps.pendingOrderGraceMs ?? 60_000;
    this.eventSource = deps.eventSource ?? `/crossdock/${fulfillmentSyncId}`;
    const { erp, wms, tms } = deps;
    this.returns = erp
      ? new ReturnsProcessor({ store: deps.store, clock: deps.clock, erp, ...(wms ? { wms } : {}) })
      : null;
    if (erp) {
      this.feeds.push({
        source: 'erp',
        system: erp.system,
        cursor: fulfillmentCursorName('erp', erp.system),
        read: async (since, limit) => {
          const page = await erp.changesSince(since, limit);
          return {
            reports: page.changes.map((c) => fromErpChange(erp.system, c)),
            watermark: page.watermark,
          };
        },
      });
    }
    if (wms) {
      this.feeds.push({
        source: 'wms',
        system: wms.system,
        cursor: fulfillmentCursorName('wms', wms.system),
        read: async (since, limit) => {
          const page = await wms.milestonesSince(since, limit);
          return {
            reports: page.milestones.map((m) => fromWmsMilestone(wms.system, m)),
            watermark: page.watermark,
          };
        },
      });
    }
    if (tms) {
      this.feeds.push({
        source: 'tms',
        system: tms.system,
        cursor: fulfillmentCursorName('tms', tms.system),
        read: async (since, limit) => {
          const page = await tms.milestonesSince(since, limit);
          return {
            reports: page.milestones.map((m) => fromTmsMilestone(tms.system, m)),
            watermark: page.watermark,
          };
        },
      });
    }
  }

  /**
   * One pass over every feed until each is drained (or deferred). Feeds are independent: one
   * failing feed is reported (thrown after the others ran) and does not hold up the others.
   */
  async syncOnce(): Promise<SyncPassReport> {
    if (this.running) return this.running;
    const run = this.pass().finally(() => {
      this.running = null;
    });
    this.running = run;
    return run;
  }

  /** Polls every `intervalMs` until `stop()`; failures go to `onError` and are retried next tick. */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.syncOnce()
        .catch(() => undefined)
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
    this.timer.unref?.();
  }

  /** Stops polling and waits for a pass in flight to finish. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  private async pass(): Promise<SyncPassReport> {
    const out: SyncPassReport = {};
    const failures: CrossdockError[] = [];
    for (const feed of this.feeds) {
      try {
        out[feed.source] = await this.drain(feed);
      } catch (err) {
        const e = toCrossdockError(err);
        failures.push(e);
        this.deps.onError?.(feed.source, e);
      }
    }
    // Returns after the feeds: a credit memo the ERP feed brought is then on the order already.
    if (this.returns) {
      try {
        await this.returns.runOnce();
      } catch (err) {
        const e = toCrossdockError(err);
        failures.push(e);
        this.deps.onError?.('erp', e);
      }
    }
    if (failures.length > 0) throw failures[0];
    return out;
  }

  private async drain(feed: Feed): Promise<FeedPassReport> {
    const report: FeedPassReport = {
      read: 0,
      applied: 0,
      recorded: 0,
      duplicates: 0,
      skipped: 0,
      refused: 0,
      deferred: false,
    };
    const { store } = this.deps;
    for (;;) {
      const since = await store.getCursor(feed.cursor);
      const page = await feed.read(since, this.pageSize);
      report.read += page.reports.length;
      // One chain per order, in feed order; chains of different orders run side by side.
      const chains = new Map<string, FulfillmentReport[]>();
      for (const entry of page.reports) {
        if (!entry?.hubOrderId) {
          report.skipped++;
          continue;
        }
        const chain = chains.get(entry.hubOrderId);
        if (chain) chain.push(entry);
        else chains.set(entry.hubOrderId, [entry]);
      }
      let deferred = false;
      await forEachBounded([...chains.values()], this.concurrency, async (entries) => {
        let known: SalesOrder | null = null;
        if (entries.length > 1 && feed.source !== 'erp') {
          const together = await this.applyTogether(entries);
          if (Array.isArray(together)) {
            for (const outcome of together) report[outcome]++;
            return;
          }
          known = together;
        }
        for (const entry of entries) {
          const { outcome, order } = await this.applyEntry(entry, known);
          if (outcome === 'deferred') {
            // The rest of this order's entries wait behind it; the page is read again next time.
            deferred = true;
            return;
          }
          report[outcome]++;
          known = order;
        }
      });
      if (deferred) {
        report.deferred = true;
        return report;
      }
      // Only once every entry of the page is committed (a crash before this re-reads the page,
      // and the entries already applied come back `duplicate`).
      if (page.watermark !== (since ?? '')) {
        await store.commit({ cursors: [{ name: feed.cursor, value: page.watermark }] });
      }
      if (page.reports.length < this.pageSize) return report;
    }
  }

  /**
   * Applies one entry as one commit, through `commitReport` (the path signed webhooks take
   * too). `known` is the order as this pass last committed it (saves
   * a read when an order has several entries in a page; a stale one only costs a conflict and a
   * re-read). Returns the order as committed, or null when the next entry must read it afresh.
   */
  private async applyEntry(
    report: FulfillmentReport,
    known: SalesOrder | null,
  ): Promise<{ outcome: EntryOutcome; order: SalesOrder | null }> {
    const { store } = this.deps;
    const hubOrderId = report.hubOrderId!;
    const order = known ?? (await store.getOrder(hubOrderId));
    if (!order) return { outcome: 'skipped', order: null };
    if (order.state === 'received' || order.state === 'validating') {
      const key = `${report.source}:${report.deliveryId}`;
      const now = this.deps.clock.now().getTime();
      const since = this.deferredSince.get(key) ?? now;
      this.deferredSince.set(key, since);
      if (now - since < this.graceMs) return { outcome: 'deferred', order: null };
      this.deferredSince.delete(key);
    }
    const details = await this.erpDetails(
      report,
      order.shipments.some((s) => s.id === report.shipmentId),
    );
    const result = await commitReport(
      { store, clock: this.deps.clock, eventSource: this.eventSource },
      report,
      { order, details, inbound: { source: inboundSource(report), id: report.deliveryId } },
    );
    if (result.outcome === 'duplicate') return { outcome: 'duplicates', order: null };
    // A refused entry left the order as it was: the next entry plans on that same version.
    return { outcome: result.outcome, order: result.order };
  }

  /**
   * Applies several entries of one order (in feed order) as ONE commit: each planned on the order
   * as the previous left it, one order update, every timeline entry, event, reservation release
   * and inbound id in one unit. Why: the warehouse reports allocation and release of an order
   * together, and a commit per entry rewrote the order and its pages once per entry (measured:
   * three feed commits per order against two for the decision itself).
   *
   * Returns the outcomes, or the order as read (or null) when the entries must go one by one
   * instead: the order is still being decided (deferral is per entry), one of them is refused
   * (its refusal commits on its own, without the order; the others still apply), one of the entries was
   * applied before (a crash inside a page; the store refuses the whole unit as `duplicate`), or
   * the commit conflicted (a concurrent change or a reservation not there to give back, which
   * the one-by-one path re-reads and re-plans for). ERP entries never come here: some need the
   * ERP record read first (`erpDetails`).
   */
  private async applyTogether(entries: FulfillmentReport[]): Promise<EntryOutcome[] | SalesOrder | null> {
    const { store } = this.deps;
    const order = await store.getOrder(entries[0]!.hubOrderId!);
    if (!order || order.state === 'received' || order.state === 'validating') return order;
    const now = this.deps.clock.now();
    const timeline: TimelineInput[] = [];
    const events: CloudEvent[] = [];
    const inventory: InventoryDelta[] = [];
    const inbound: { source: string; id: string }[] = [];
    const cursors: { name: string; value: string }[] = [];
    const exceptions: ExceptionInput[] = [];
    const outcomes: EntryOutcome[] = [];
    let next = order;
    for (const entry of entries) {
      const plan = planReport(next, entry, {}, { now, eventSource: this.eventSource, skipRelease: false });
      if (plan.refusal) return order;
      timeline.push(plan.timeline);
      events.push(...plan.events);
      inventory.push(...plan.inventory);
      cursors.push(...plan.cursors);
      if (plan.notice) exceptions.push(reportException(next, entry, plan.notice, now));
      inbound.push({ source: inboundSource(entry), id: entry.deliveryId });
      outcomes.push(plan.applied ? 'applied' : 'recorded');
      next = plan.next;
    }
    const unit: CommitUnit = { order: { next, expectedVersion: order.version }, timeline, events, inbound };
    if (inventory.length > 0) unit.inventory = inventory;
    if (cursors.length > 0) unit.cursors = cursors;
    if (exceptions.length > 0) unit.exceptions = exceptions;
    try {
      const result = await store.commit(unit);
      return result.status === 'duplicate' ? order : outcomes;
    } catch (err) {
      const e = toCrossdockError(err);
      if (e.kind === 'conflict') return null;
      throw e;
    }
  }

  /** The ERP record a report names, when the change alone lacks lines, amounts or numbers. */
  private async erpDetails(report: FulfillmentReport, knownShipment: boolean): Promise<ErpDetails> {
    const erp = this.deps.erp;
    if (report.source !== 'erp' || !erp || !report.erpOrderId) return {};
    const needsShipment = report.kind === 'shipment' && (!knownShipment || report.native === 'assigned');
    const needsInvoice = report.kind === 'invoice';
    if (!needsShipment && !needsInvoice) return {};
    const status = await erp.getSalesOrder(report.erpOrderId);
    const recordId = report.kind === 'shipment' ? report.shipmentId?.replace(/^erp:/, '') : report.invoiceId;
    const out: ErpDetails = {};
    const shipment = status.shipments.find((s) => s.erpShipmentId === recordId);
    const invoice = status.invoices.find((i) => i.erpInvoiceId === recordId);
    if (needsShipment && shipment) out.shipment = shipment;
    if (needsInvoice && invoice) out.invoice = invoice;
    return out;
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects with the first failure after all settle. */
async function forEachBounded<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failures.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failures.length > 0) throw failures[0];
}

/** The cursor name of a feed: `fulfillment.<source>.<system>`. Stored: never rename. */
export function fulfillmentCursorName(source: FeedSource, system: string): string {
  return `fulfillment.${source}.${system}`;
}

/** The inbound dedupe source of a feed's entries. Stored: never rename. */
function inboundSource(report: FulfillmentReport): string {
  return `fulfillment.${report.source}.${report.system}`;
}
