/**
 * Carries recorded returns through the ERP and the warehouse, behind the request.
 *
 * It runs inside the fulfillment sync's pass (the worker that already holds the ERP and WMS
 * ports) and does two things:
 * 1. It reads the hub's own outbox for `return.requested.v1`, `return.authorized.v1` and
 *    `return.received.v1`, from a durable cursor (`returns.<erp system>`, the last seq handled),
 *    and for each: asks the ERP to authorize the return (`createReturnAuthorization`; an ERP
 *    without it, or refusing, rejects the return), tells the warehouse to expect it
 *    (`expectReturn`), or asks the ERP to credit what inspection accepted (`creditReturn`; the
 *    credit memo lands on the order at once, and again, as a no-op, from the ERP's feed). Each
 *    result commits with the cursor in one unit. A retryable failure (ERP or WMS down) stops the
 *    pass at that event; the next pass starts there again (every call is idempotent by the
 *    return id). A non-retryable one parks an exception for its owner and moves on.
 * 2. It polls the warehouse's return receipts (`returnReceiptsSince`, cursor
 *    `returns.receipts.<wms system>`), each applied once (inbound dedupe by its delivery id) as
 *    the return's inspection.
 *
 * Why the outbox and not a subscription: the subscriptions' dependencies are wired by the
 * composition root, which holds no ERP for them; the outbox is the durable record of what was
 * requested, so a tail over it with a cursor is at-least-once like a subscription, and the
 * idempotent ERP/WMS calls make it exactly-once in effect. Known limit: retention may prune
 * outbox events older than its cutoff that every subscription has delivered; a tail stuck
 * longer than that (an ERP down for the retention period) would skip them. Cost: the tail reads
 * every outbox event once (one more reader like the analytics export), in pages of 1000 per pass.
 */
import {
  type CloudEvent,
  CrossdockError,
  findReturn,
  type SalesOrder,
  toCrossdockError,
} from '../../domain/index.js';
import type { Clock, CommitUnit, ErpPort, ExceptionInput, Store, WmsPort } from '../../ports/index.js';
import {
  type PlanContext,
  planAuthorization,
  planCredit,
  planReceipt,
  type ReturnPlan,
  returnsWorkflowId,
} from './plan.js';

/** What the processor needs. */
export interface ReturnsProcessorDeps {
  store: Store;
  clock: Clock;
  erp: ErpPort;
  wms?: WmsPort;
  /** How old an event must be before the cursor moves past it; see `ReturnsProcessor.settleMs`. */
  settleMs?: number;
  /** Outbox events (and warehouse receipts) read per page. Default 1000. */
  pageSize?: number;
}

/** What one pass did. */
export interface ReturnsPassReport {
  handled: number;
  receipts: number;
  /** True when a retryable failure stopped the pass (it resumes there next time). */
  stopped: boolean;
}

/** The cursor of the outbox tail. Stored: never rename. */
export function returnsCursorName(erpSystem: string): string {
  return `${returnsWorkflowId}.${erpSystem}`;
}

/** The cursor of the warehouse's return receipts. Stored: never rename. */
export function returnReceiptsCursorName(wmsSystem: string): string {
  return `${returnsWorkflowId}.receipts.${wmsSystem}`;
}

const tailTypes = ['return.requested.v1', 'return.authorized.v1', 'return.received.v1'];

const returnIdOf = (event: CloudEvent): string => String(event.data['returnId'] ?? '');

/** See the file comment. */
export class ReturnsProcessor {
  private readonly pageSize: number;
  private readonly cursor: string;
  private readonly eventSource = `/crossdock/${returnsWorkflowId}`;
  /**
   * How old an event must be before the cursor passes it. PostgreSQL hands out outbox seqs before
   * commit, so a lower seq can become visible after a higher one: a tail that moved past the
   * higher one at once would never see it. Five seconds covers a transaction in flight; SQLite
   * commits in seq order (one writer), so there it is 0.
   */
  private readonly settleMs: number;
  /** Return events this process handled while the cursor could not pass them yet. */
  private readonly handled = new Set<string>();

  constructor(private readonly deps: ReturnsProcessorDeps) {
    this.pageSize = deps.pageSize ?? 1000;
    this.cursor = returnsCursorName(deps.erp.system);
    this.settleMs = deps.settleMs ?? (deps.store.backend === 'postgres' ? 5_000 : 0);
  }

  /** One pass: receipts first (they may make credits due), then the outbox tail. */
  async runOnce(): Promise<ReturnsPassReport> {
    const report: ReturnsPassReport = { handled: 0, receipts: 0, stopped: false };
    report.receipts = await this.pollReceipts();
    for (;;) {
      const since = Number((await this.deps.store.getCursor(this.cursor)) ?? '0');
      // Every event is read and the return events picked here: the outbox has no index on type,
      // so a typed read would rescan everything after the cursor on every pass while no return
      // event moves it (the whole outbox, on a hub that never had a return).
      const page = await this.deps.store.readEvents({ fromSeq: since + 1, limit: this.pageSize });
      const settledBefore = this.deps.clock.now().getTime() - this.settleMs;
      let safe = since;
      let contiguous = true;
      for (const { seq, event } of page) {
        if (contiguous && Date.parse(event.time) <= settledBefore) safe = seq;
        else contiguous = false;
        if (!tailTypes.includes(event.type) || this.handled.has(event.id)) continue;
        const ok = await this.handle(event, returnIdOf(event));
        if (!ok) {
          report.stopped = true;
          if (safe > since) await this.moveCursor(safe);
          return report;
        }
        this.handled.add(event.id);
        report.handled++;
      }
      if (safe > since) await this.moveCursor(safe);
      // Events too recent to pass (see `settleMs`) are read again next pass; handled ones are
      // remembered by id, so the ERP and the WMS are not asked twice by this process.
      if (page.length < this.pageSize || safe < (page.at(-1)?.seq ?? safe)) return report;
    }
  }

  private async moveCursor(seq: number): Promise<void> {
    await this.deps.store.commit({ cursors: [{ name: this.cursor, value: String(seq) }] });
    // Forget ids the cursor has passed: bounded memory.
    if (this.handled.size > 10_000) this.handled.clear();
  }

  private ctx(event?: CloudEvent): PlanContext {
    return {
      now: this.deps.clock.now(),
      eventSource: this.eventSource,
      ...(event?.traceparent ? { traceparent: event.traceparent } : {}),
    };
  }

  /** Handles one event; false when a retryable failure must stop the pass here. */
  private async handle(event: CloudEvent, returnId: string): Promise<boolean> {
    try {
      for (let attempt = 1; attempt <= 3; attempt++) {
        const order = await this.deps.store.getOrder(event.subject);
        const ret = order ? findReturn(order, returnId) : undefined;
        if (!order || !ret) return true;
        const plan = await this.step(event.type, order, returnId);
        if (plan === null) return true;
        const unit: CommitUnit = {
          order: { next: plan.next, expectedVersion: plan.expectedVersion },
          timeline: plan.timeline,
          events: plan.events,
        };
        try {
          await this.deps.store.commit(unit);
          return true;
        } catch (err) {
          const e = toCrossdockError(err);
          if (e.kind === 'conflict' && e.details['key'] === undefined && attempt < 3) continue;
          throw e;
        }
      }
      return true;
    } catch (err) {
      const e = toCrossdockError(err);
      if (e.retryable) return false;
      await this.deps.store.commit({ exceptions: [this.exception(event, returnId, e)] });
      return true;
    }
  }

  /** The external call an event asks for, and the plan of its answer (null: nothing to commit). */
  private async step(type: string, order: SalesOrder, returnId: string): Promise<ReturnPlan | null> {
    const { erp, wms } = this.deps;
    const ret = findReturn(order, returnId)!;
    if (type === 'return.requested.v1') {
      if (ret.state !== 'requested') return null;
      const answer = erp.createReturnAuthorization
        ? await erp.createReturnAuthorization({
            returnId,
            hubOrderId: order.id,
            ...(order.externalIds['erpOrderId'] ? { erpOrderId: order.externalIds['erpOrderId'] } : {}),
            orderIdempotencyKey: order.id,
            lines: ret.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, reason: l.reason })),
          })
        : {
            outcome: 'refused' as const,
            reason: 'unsupported' as const,
            detail: `${erp.system} cannot authorize returns through the hub`,
          };
      return planAuthorization(order, returnId, answer, erp.system, this.ctx());
    }
    if (type === 'return.authorized.v1') {
      if (ret.state !== 'authorized' || !wms?.expectReturn) return null;
      const shippedFrom = order.shipments.find((s) =>
        s.lines.some((l) => ret.lines.some((r) => r.sku === l.sku)),
      );
      await wms.expectReturn({
        returnId,
        hubOrderId: order.id,
        rmaNumber: ret.rmaNumber ?? returnId,
        warehouseId: shippedFrom?.warehouseId ?? order.shipments[0]?.warehouseId ?? 'unknown',
        lines: ret.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
      });
      return null;
    }
    if (type === 'return.received.v1') {
      if (ret.state !== 'inspected') return null;
      if (!erp.creditReturn) {
        throw CrossdockError.policyViolation(
          `${erp.system} cannot credit returns through the hub: credit ${returnId} there`,
          {
            owner: 'credit',
            details: { reason: 'unsupported', returnId, orderId: order.id },
          },
        );
      }
      const memo = await erp.creditReturn({
        returnId,
        erpReturnId: ret.externalIds['erp'] ?? '',
        lines: ret.lines
          .filter((l) => (l.acceptedQuantity ?? 0) > 0)
          .map((l) => ({ sku: l.sku, quantity: l.acceptedQuantity ?? 0 })),
      });
      return planCredit(order, { ...memo, kind: 'credit_memo', returnId }, erp.system, this.ctx());
    }
    return null;
  }

  private exception(event: CloudEvent, returnId: string, e: CrossdockError): ExceptionInput {
    return {
      id: `return:${returnId}:${event.type}`,
      kind: e.kind,
      owner: e.owner,
      source: `workflow.${returnsWorkflowId}`,
      subscription: null,
      deliveryId: null,
      eventId: event.id,
      orderId: event.subject,
      error: { ...e.toJSON(), returnId, at: this.deps.clock.now().toISOString() },
      attempts: 1,
      coalesce: true,
    };
  }

  /** Applies the warehouse's return receipts (each once), as inspections of their returns. */
  private async pollReceipts(): Promise<number> {
    const { wms, store } = this.deps;
    if (!wms?.returnReceiptsSince) return 0;
    const cursor = returnReceiptsCursorName(wms.system);
    let applied = 0;
    for (;;) {
      const since = await store.getCursor(cursor);
      const page = await wms.returnReceiptsSince(since, this.pageSize);
      for (const receipt of page.receipts) {
        const inbound = { source: `${returnsWorkflowId}.wms.${wms.system}`, id: receipt.deliveryId };
        for (let attempt = 1; attempt <= 3; attempt++) {
          const order = await store.getOrder(receipt.hubOrderId);
          let plan: ReturnPlan | null = null;
          let refusal: CrossdockError | null = null;
          try {
            plan = order ? planReceipt(order, receipt.returnId, receipt.lines, wms.system, this.ctx()) : null;
          } catch (err) {
            refusal = toCrossdockError(err);
          }
          const unit: CommitUnit = { inbound };
          if (plan) {
            unit.order = { next: plan.next, expectedVersion: plan.expectedVersion };
            unit.timeline = plan.timeline;
            unit.events = plan.events;
          }
          if (refusal) {
            unit.exceptions = [
              {
                id: `return:${receipt.returnId}:receipt`,
                kind: refusal.kind,
                owner: refusal.owner,
                source: `${returnsWorkflowId}.wms.${wms.system}`,
                subscription: null,
                deliveryId: receipt.deliveryId,
                eventId: null,
                orderId: receipt.hubOrderId,
                error: { ...refusal.toJSON(), raw: receipt },
                attempts: 1,
                coalesce: true,
              },
            ];
          }
          try {
            const r = await store.commit(unit);
            if (r.status === 'committed' && plan) applied++;
            break;
          } catch (err) {
            const e = toCrossdockError(err);
            if (e.kind === 'conflict' && e.details['key'] === undefined && attempt < 3) continue;
            throw e;
          }
        }
      }
      if (page.watermark !== (since ?? ''))
        await store.commit({ cursors: [{ name: cursor, value: page.watermark }] });
      if (page.receipts.length < this.pageSize) return applied;
    }
  }
}
