/**
 * The governed quote-to-order flow.
 *
 * Two commits per accepted order, by design:
 *  1. the *decision* (steps 1–6) commits the order in `validating`, its reservations, the step
 *     timeline and a `decide` journal entry — from then on the order survives a crash;
 *  2. after the ERP answers, the order becomes `accepted`/`backordered` with its ERP number and
 *     `order.accepted.v1` goes to the outbox in the same transaction.
 * The ERP call between them is idempotent by the hub order id, so a crash after the ERP created
 * the order but before commit 2 is repaired by `resumePending()` without a second ERP order.
 * Held and rejected orders need no ERP and commit once.
 */
import {
  backoffDelay,
  CrossdockError,
  type Customer,
  customerStatus,
  type EventData,
  type Hold,
  holdOwners,
  newEvent,
  type OrderDecision,
  type OrderState,
  type OrderSubmission,
  type SalesOrder,
  toCrossdockError,
  transition,
} from '../../domain/index.js';
import type {
  CommitUnit,
  ErpCancelResult,
  IdempotencyRecord,
  InventoryDelta,
  JournalEntry,
  TimelineInput,
} from '../../ports/index.js';
import { runStep, type StepReport, stepTimelineEntry } from '../engine/index.js';
import { customerStatusFor, fulfillmentProgress } from '../fulfillment/shipment-progress.js';
import { type CancelRequest, cancelRequestException, cancelRequestQueue } from './cancel-requests.js';
import { planCancellation } from './cancellation.js';
import type { QuoteToOrderDeps, RunContext } from './context.js';
import {
  type ActionResult,
  actionAudit,
  actionEntry,
  actionStatus,
  approvedReasons,
  type CancelInput,
  type HoldActionInput,
  holdReleasedEvent,
  holdsToWork,
  resolveHolds,
  stateConflict,
  submissionOf,
  unknownOrder,
} from './order-actions.js';
import { applyTaxShippingRules, applyTaxShippingRulesStepId } from './steps/apply-tax-shipping-rules.js';
import { checkAvailability, checkAvailabilityStepId } from './steps/check-availability.js';
import { checkCredit, checkCreditStepId } from './steps/check-credit.js';
import { checkDuplicatePo, checkDuplicatePoStepId, checksDuplicatePo } from './steps/check-duplicate-po.js';
import { confirmPricing, confirmPricingStepId } from './steps/confirm-pricing.js';
import { createErpOrder, createErpOrderStepId } from './steps/create-erp-order.js';
import { routeFulfillment, routeFulfillmentStepId } from './steps/route-fulfillment.js';
import { validateCustomer, validateCustomerStepId } from './steps/validate-customer.js';
import { validateLines } from './validate-lines.js';

export const quoteToOrderWorkflowId = 'quote-to-order';
/** Journal id of the committed decision (steps 1–6). Stored: never rename. */
export const decideStepId = 'decide';
/** Journal id of the compensation that gives reservations back. Stored: never rename. */
export const releaseReservationsStepId = 'release-reservations';
/** Journal id of a decision made again after a hold's release. Stored: never rename. */
export const redecideStepId = 'redecide';
/** Journal id of the compensation that cancels the ERP order. Stored: never rename. */
export const cancelErpOrderStepId = 'cancel-erp-order';

export interface SubmitInput {
  orderId: string;
  correlationId: string;
  traceparent?: string;
  submission: OrderSubmission;
  /**
   * When the request carried an Idempotency-Key: its record is committed with the decision (the
   * final answer, or a provisional 202 that the ERP step's commit replaces); a key already used
   * makes `submit` throw the commit's `conflict` (with `details.key`) for the caller to answer.
   */
  idempotency?: { scope: string; key: string; requestHash: string };
}

export interface SubmitResult {
  httpStatus: 200 | 201 | 202;
  decision: OrderDecision;
  order: SalesOrder;
  /** True when the order existed already (a repeat of an earlier submission). */
  existing: boolean;
  /**
   * `source`: the quote (source system and reference) already has a live order, which this is;
   * nothing was decided or written for the repeat. Answered 200 with that order's decision.
   */
  duplicateOf?: 'source';
}

/** How the answer to a caller reaches it: inline, or the caller got 202 and we finish behind. */
interface Answer {
  mode: 'inline' | 'background';
  idempotency: SubmitInput['idempotency'];
  /** The caller acted on an existing order (a hold release): its answer is 200, or 202 while pending. */
  action?: boolean;
}

const source = '/crossdock/quote-to-order';

/**
 * Longest wait before an order whose ERP step failed is tried again. Short, because the backoff
 * is per order while the cause (an outage) is shared, and any success clears every backoff.
 */
const maxResumeBackoffMs = 15_000;
/** The resume backoff: 1 s doubling to 15 s, equal jitter (the code base's one backoff function). */
const resumeBackoff = { baseMs: 1000, maxMs: maxResumeBackoffMs, jitter: 'equal' } as const;

/** Pages of `validating` orders one resume pass walks at most (100 each). */
const maxResumePages = 50;

export class QuoteToOrder {
  private readonly erpRuns = new Map<string, Promise<SalesOrder>>();
  private readonly resumeAttempts = new Map<string, { attempts: number; nextAt: number }>();

  constructor(private readonly deps: QuoteToOrderDeps) {}

  /** Decide an order; answers 201 (accepted), 200 (held/rejected) or 202 (ERP still pending). */
  async submit(input: SubmitInput): Promise<SubmitResult> {
    const { store } = this.deps;
    const skus = input.submission.lines.map((l) => l.sku);
    const products = await store.getProducts(skus);
    const lines = validateLines(input.submission, products);

    for (let attempt = 1; ; attempt++) {
      const ctx = this.newContext(
        input,
        products,
        lines.map((l) => ({ ...l })),
      );
      const credit = await this.decide(ctx);
      const order = this.buildOrder(ctx, input);
      const answer: Answer = { mode: 'inline', idempotency: input.idempotency };
      const final = order.state !== 'validating';
      const unit: CommitUnit = {
        order: { next: order, expectedVersion: null },
        timeline: ctx.timeline,
        journal: [
          this.journal(order.id, decideStepId, 'completed', {
            outcome: order.state,
            credit,
            plan: ctx.plan ?? null,
          }),
        ],
      };
      if (ctx.customerWrites.length > 0) unit.customers = ctx.customerWrites;
      if (ctx.plan && !final) unit.inventory = ctx.plan.reservations;
      if (final) unit.events = [this.decisionEvent(order, input.traceparent)];
      // The key's record goes in with the decision: the final answer of a held or rejected
      // order, else the provisional 202 (what a repeat gets should we crash before the ERP
      // step), which commit 2 replaces with the final answer. A used key fails this commit.
      if (input.idempotency) unit.idempotency = this.idempotencyRecord(input.idempotency, order);
      try {
        await store.commit(unit);
      } catch (err) {
        if (credit) this.deps.credit.add(credit.erpCustomerId, -credit.amount);
        if (err instanceof CrossdockError && err.kind === 'conflict') {
          // The quote already has a live order (a repost without the key, a double click, two
          // processes at once): the store's unique quote key refused this decision as a whole,
          // and the answer is that order. Why no read before deciding: a repost is rare, and a
          // read per order costs every order (as the Idempotency-Key is looked up on conflict).
          if (err.code === 'duplicate_source') {
            const winner = await store.getOrder(String(err.details['existingOrderId']));
            if (winner) return this.duplicateResult(winner);
          }
          // The Idempotency-Key was used already: the caller answers from its record.
          if (input.idempotency && err.details['key'] !== undefined) throw err;
          // Same order id committed by a concurrent request (same idempotency key): answer as it did.
          const raced = await store.getOrder(input.orderId);
          if (raced) return this.result(raced, true);
          // Stock moved under us (a reservation would oversell): decide again on fresh figures.
          if (attempt < 3) continue;
        }
        throw err;
      }
      if (final) {
        if (credit) this.deps.credit.add(credit.erpCustomerId, -credit.amount);
        return this.result(order, false);
      }
      return this.finishInline(order, ctx.customer!, answer, credit);
    }
  }

  /**
   * A hold's owner releases (approves) the order's open holds of one reason. While other holds
   * stay open the order stays on hold. Once none is open the order is decided again from its
   * lines against current master data, prices, stock and credit (`on_hold -> validating`), with
   * every reason its owners released so far let through: it is held anew, rejected, or goes on
   * to the ERP step and `accepted`/`backordered` like a fresh decision (reservations taken, the
   * credit counted, the ERP order created idempotently by the hub order id). The release, its
   * timeline entry, audit row and `order.hold_released.v1` commit with that decision.
   */
  async releaseHold(input: HoldActionInput): Promise<ActionResult> {
    const { store, clock } = this.deps;
    for (let attempt = 1; ; attempt++) {
      const order = await this.orderForAction(input.orderId);
      const released = holdsToWork(order, input.reason);
      const now = clock.now();
      const holds = resolveHolds(
        order.holds,
        input.reason,
        'released',
        input.actor,
        input.note,
        now.toISOString(),
      );
      const entry = actionEntry(order, 'hold.release', 'released', input.actor, input.note, now, {
        reason: input.reason,
        holds: released.map((h) => h.detail),
      });
      const audit = actionAudit(order, 'order.hold.release', input.actor, input.note, now, {
        reason: input.reason,
      });
      const opts = this.eventOptions(input.traceparent);
      if (holds.some((h) => !h.resolvedAt)) {
        // Other holds stay open: recorded, and the order waits for their owners.
        const next: SalesOrder = {
          ...order,
          version: order.version + 1,
          holds,
          updatedAt: now.toISOString(),
        };
        const unit: CommitUnit = {
          order: { next, expectedVersion: order.version },
          timeline: [entry],
          audit: [audit],
          events: [holdReleasedEvent(next, input.reason, input.actor, input.note, opts)],
        };
        if (input.idempotency)
          unit.idempotency = this.idempotencyRecord(input.idempotency, next, false, true);
        if (await this.commitAction(unit, attempt)) return this.actionResult(next);
        continue;
      }

      // No hold left: decide again, on what is true now.
      const submission = submissionOf(order);
      const products = await store.getProducts(submission.lines.map((l) => l.sku));
      let lines: RunContext['lines'];
      try {
        lines = validateLines(submission, products);
      } catch (err) {
        const e = toCrossdockError(err);
        throw stateConflict(
          order,
          'lines_invalid',
          `order ${order.id} cannot be decided again: ${e.message}`,
          {
            fields: e.details['fields'],
          },
        );
      }
      const ctx = this.newContext(
        { orderId: order.id, correlationId: order.correlationId, submission },
        products,
        lines,
        approvedReasons(holds),
      );
      const credit = await this.decide(ctx);
      const fresh = this.buildOrder(ctx, order);
      const next: SalesOrder = {
        ...order,
        version: order.version + 1,
        state: fresh.state,
        customerStatus: fresh.customerStatus,
        customerId: fresh.customerId ?? order.customerId,
        lines: fresh.lines,
        total: fresh.total,
        holds: [...holds, ...fresh.holds],
        rejection: fresh.rejection,
        fulfillmentPlan: fresh.fulfillmentPlan,
        updatedAt: now.toISOString(),
      };
      if (fresh.customerName !== undefined) next.customerName = fresh.customerName;
      if (fresh.segment !== undefined) next.segment = fresh.segment;
      const final = next.state !== 'validating';
      const events = [holdReleasedEvent(next, input.reason, input.actor, input.note, opts)];
      if (final) events.push(this.decisionEvent(next, input.traceparent));
      const unit: CommitUnit = {
        order: { next, expectedVersion: order.version },
        timeline: [entry, ...ctx.timeline],
        journal: [
          this.journal(order.id, redecideStepId, 'completed', {
            outcome: next.state,
            released: input.reason,
            approved: [...ctx.approved],
            credit,
            plan: ctx.plan ?? null,
          }),
        ],
        audit: [{ ...audit, detail: { ...audit.detail, outcome: next.state } }],
        events,
      };
      if (ctx.customerWrites.length > 0) unit.customers = ctx.customerWrites;
      if (ctx.plan && !final) unit.inventory = ctx.plan.reservations;
      if (input.idempotency) unit.idempotency = this.idempotencyRecord(input.idempotency, next, false, true);
      let committed: boolean;
      try {
        committed = await this.commitAction(unit, attempt);
      } catch (err) {
        if (credit) this.deps.credit.add(credit.erpCustomerId, -credit.amount);
        throw err;
      }
      if (!committed) {
        if (credit) this.deps.credit.add(credit.erpCustomerId, -credit.amount);
        continue;
      }
      if (final) {
        if (credit) this.deps.credit.add(credit.erpCustomerId, -credit.amount);
        return this.actionResult(next);
      }
      const answer: Answer = { mode: 'inline', idempotency: input.idempotency, action: true };
      const r = await this.finishInline(next, ctx.customer!, answer, credit);
      return { httpStatus: actionStatus(r.order), decision: r.decision, order: r.order };
    }
  }

  /**
   * A hold's owner rejects the order over its open holds of one reason: `on_hold -> rejected`,
   * the rejection naming the reason and the owner's note, every other open hold closed with it.
   * An on-hold order has no reservations to give back (a hold commits none, and the ERP's
   * refusal gave them back).
   */
  async rejectHold(input: HoldActionInput): Promise<ActionResult> {
    const { clock } = this.deps;
    for (let attempt = 1; ; attempt++) {
      const order = await this.orderForAction(input.orderId);
      const rejected = holdsToWork(order, input.reason);
      // A refused confirmation left a quotation in the ERP: it goes with the order.
      const erpResult = await this.cancelInErp(order, 'order', [], `${input.reason}_hold_rejected`);
      const now = clock.now();
      const next: SalesOrder = {
        ...order,
        version: order.version + 1,
        state: 'rejected',
        customerStatus: customerStatus('rejected'),
        holds: resolveHolds(
          order.holds,
          input.reason,
          'rejected',
          input.actor,
          input.note,
          now.toISOString(),
          true,
        ),
        rejection: {
          code: `${input.reason}_hold_rejected`,
          detail: `${holdOwners[input.reason]} rejected the order: ${input.note}`,
        },
        updatedAt: now.toISOString(),
      };
      const unit: CommitUnit = {
        order: { next, expectedVersion: order.version },
        timeline: [
          actionEntry(order, 'hold.reject', 'rejected', input.actor, input.note, now, {
            reason: input.reason,
            holds: rejected.map((h) => h.detail),
          }),
        ],
        audit: [
          actionAudit(order, 'order.hold.reject', input.actor, input.note, now, { reason: input.reason }),
        ],
        events: [this.decisionEvent(next, input.traceparent)],
      };
      if (erpResult) {
        unit.timeline!.push(
          this.stepEntry(order, cancelErpOrderStepId, this.deps.erp.system, erpResult.outcome, 0, {
            ...erpResult,
          }),
        );
        unit.journal = [this.journal(order.id, cancelErpOrderStepId, 'compensated', { ...erpResult })];
      }
      if (input.idempotency) unit.idempotency = this.idempotencyRecord(input.idempotency, next, false, true);
      if (await this.commitAction(unit, attempt)) return this.actionResult(next);
    }
  }

  /**
   * Cancels the order by request (the CRM, the API, or a hold owner over its hold): until
   * shipment the whole order, after a partial shipment its unshipped remainder (see
   * `planCancellation`). The compensations run in the reverse order of what the order did: the
   * ERP order is cancelled first (idempotently, found by the hub order id), and only if the ERP
   * agrees does the hub commit the cancellation with its reservations given back, its timeline,
   * journal, audit row and `order.cancelled.v1` (which stops the warehouse orders through
   * `warehouse-planning` and tells the customer once); the credit exposure is then read afresh.
   * A cancelled order answers as it stands (a repeat is no error). Refusals change nothing:
   * shipped in full, not cancellable, still being decided (retryable), the ERP refused.
   */
  async cancelOrder(input: CancelInput): Promise<ActionResult> {
    const { store, clock, erp } = this.deps;
    let skipRelease = false;
    for (let attempt = 1; ; attempt++) {
      const order = await this.orderForAction(input.orderId);
      if (order.state === 'cancelled') return this.actionResult(order);
      if (input.holdReason) holdsToWork(order, input.holdReason);
      const plan = planCancellation(order);
      const erpResult = await this.cancelInErp(order, plan.scope, plan.lines, input.reason);
      const now = clock.now();
      const nowIso = now.toISOString();
      const round4 = (n: number) => Math.round(n * 10_000) / 10_000;
      const lines = order.lines.map((l) => {
        const cancelled = plan.byLine.get(l.lineNo);
        if (cancelled === undefined) return l;
        // What waited for stock is cancelled first: it is the part furthest from shipping.
        const backordered = round4(Math.max(0, l.backorderedQuantity - cancelled));
        return {
          ...l,
          cancelledQuantity: round4((l.cancelledQuantity ?? 0) + cancelled),
          backorderedQuantity: backordered,
          promiseDate: backordered > 0 ? l.promiseDate : null,
        };
      });
      let state: OrderState = 'cancelled';
      let status: string = customerStatus('cancelled');
      if (plan.scope === 'remainder') {
        const progress = fulfillmentProgress({ lines }, order.shipments);
        state = progress.fullyShipped ? transition(order.state, 'shipped').state : order.state;
        status = customerStatusFor({ ...order, state, lines });
      }
      const next: SalesOrder = {
        ...order,
        version: order.version + 1,
        state,
        customerStatus: status,
        lines,
        holds: resolveHolds(order.holds, null, 'cancelled', input.actor, input.note, nowIso),
        updatedAt: nowIso,
      };
      const release = skipRelease ? [] : plan.release;
      const outcome = plan.scope === 'order' ? 'cancelled' : 'remainder_cancelled';
      const timeline: TimelineInput[] = [
        actionEntry(order, 'order.cancel', outcome, input.actor, input.note, now, {
          reason: input.reason,
          scope: plan.scope,
          lines: plan.lines,
          ...(input.holdReason ? { holdReason: input.holdReason } : {}),
        }),
      ];
      const journal: JournalEntry[] = [];
      if (erpResult) {
        timeline.push(
          this.stepEntry(order, cancelErpOrderStepId, erp.system, erpResult.outcome, 0, { ...erpResult }),
        );
        journal.push(this.journal(order.id, cancelErpOrderStepId, 'compensated', { ...erpResult }));
      }
      timeline.push(
        this.stepEntry(order, releaseReservationsStepId, 'hub', skipRelease ? 'skipped' : 'passed', 0, {
          release,
          ...(skipRelease ? { because: 'reservations no longer held' } : {}),
        }),
      );
      journal.push(this.journal(order.id, releaseReservationsStepId, 'compensated', { release }));
      const data: EventData<'order.cancelled.v1'> = {
        orderId: next.id,
        customerId: next.customerId,
        state: next.state,
        customerStatus: next.customerStatus,
        reason: input.reason,
        lines: plan.lines,
        by: input.actor.name,
        note: input.note,
      };
      if (plan.scope === 'remainder') data.partial = true;
      const unit: CommitUnit = {
        order: { next, expectedVersion: order.version },
        timeline,
        journal,
        audit: [
          actionAudit(order, 'order.cancel', input.actor, input.note, now, {
            reason: input.reason,
            scope: plan.scope,
            lines: plan.lines,
            outcome: next.state,
            ...(input.holdReason ? { holdReason: input.holdReason } : {}),
            ...(erpResult ? { erp: erpResult.outcome } : {}),
          }),
        ],
        events: [newEvent('order.cancelled.v1', order.id, data, this.eventOptions(input.traceparent))],
      };
      if (release.length > 0) unit.inventory = release;
      if (input.idempotency) unit.idempotency = this.idempotencyRecord(input.idempotency, next, false, true);
      try {
        await store.commit(unit);
      } catch (err) {
        const e = toCrossdockError(err);
        if (e.kind !== 'conflict' || e.details['key'] !== undefined || attempt >= 3) throw e;
        // A reservation no longer held (given back meanwhile): cancel without touching stock.
        if (typeof e.details['sku'] === 'string') skipRelease = true;
        continue;
      }
      // The ERP no longer counts the cancelled value: read the exposure afresh next time.
      if (order.customerId) {
        const c = await store.getCustomer(order.customerId);
        if (c?.externalIds.erp) this.deps.credit.invalidate(c.externalIds.erp);
      }
      return this.actionResult(next);
    }
  }

  /**
   * Carries out the CRM's recorded cancellation requests (`cancel-requests.ts`): each is
   * cancelled and its request resolved; one the hub cannot carry out (shipped, refused by the
   * ERP, not cancellable) stays open for customer service, marked refused with the reason; a
   * retryable failure (the ERP down, the order still being decided) waits for a later pass.
   */
  async processCancelRequests(limit = 100): Promise<number> {
    const { store, clock } = this.deps;
    const requests = await store.listExceptions({ status: 'open', subscription: cancelRequestQueue, limit });
    let done = 0;
    for (const e of requests) {
      const request = e.lastError as unknown as CancelRequest;
      if (request.refused || e.orderId === null) continue;
      const key = `cancel:${e.orderId}`;
      const backoff = this.resumeAttempts.get(key);
      if (backoff && backoff.nextAt > clock.now().getTime()) continue;
      const actor = { keyId: 'webhook:crm', name: request.requestedBy || 'CRM' };
      try {
        const r = await this.cancelOrder({
          orderId: e.orderId,
          actor,
          note: request.note || request.reason,
          reason: request.reason,
          correlationId: e.orderId,
        });
        this.resumeAttempts.delete(key);
        await store.actOnException(
          e.id,
          'resolve',
          {
            actor: 'crossdock:cancel-requests',
            action: 'exception.resolve',
            target: e.id,
            detail: { orderId: e.orderId, state: r.order.state, eventId: request.eventId },
            at: clock.now().toISOString(),
          },
          `carried out: order ${r.order.state}`,
        );
        done++;
      } catch (err) {
        const x = toCrossdockError(err);
        if (x.retryable) {
          const prev = backoff?.attempts ?? 0;
          const delay = backoffDelay(prev + 1, resumeBackoff);
          this.resumeAttempts.set(key, { attempts: prev + 1, nextAt: clock.now().getTime() + delay });
          continue;
        }
        this.resumeAttempts.delete(key);
        const order = await store.getOrder(e.orderId);
        await store.commit({
          exceptions: [cancelRequestException(e.orderId, { ...request, refused: true, refusal: x.toJSON() })],
          ...(order
            ? {
                timeline: [
                  actionEntry(order, 'order.cancel_refused', 'refused', actor, request.note, clock.now(), {
                    reason: request.reason,
                    refusal: x.code,
                    message: x.message,
                  }),
                ],
              }
            : {}),
        });
      }
    }
    return done;
  }

  /**
   * Cancels the order in the ERP when the ERP knows it (an ERP order number, or an ERP step
   * tried for an order on hold: a refused confirmation leaves a quotation there); null when the
   * order never reached the ERP. A refusal is thrown as the `erp_refused` conflict.
   */
  private async cancelInErp(
    order: SalesOrder,
    scope: 'order' | 'remainder',
    lines: { sku: string; quantity: number }[],
    reason: string,
  ): Promise<ErpCancelResult | null> {
    const { erp, store } = this.deps;
    const erpOrderId = order.externalIds['erpOrderId'];
    const reached =
      erpOrderId !== undefined ||
      (order.state === 'on_hold' &&
        (await store.getJournal(order.id)).some((j) => j.step === createErpOrderStepId));
    if (!reached) return null;
    if (!erp.cancelSalesOrder) {
      throw stateConflict(
        order,
        'erp_cannot_cancel',
        `${erp.system} cannot cancel orders through the hub; cancel it there`,
      );
    }
    const r = await erp.cancelSalesOrder({
      idempotencyKey: order.id,
      hubOrderId: order.id,
      ...(erpOrderId !== undefined ? { erpOrderId } : {}),
      scope,
      ...(scope === 'remainder' ? { lines } : {}),
      reason,
    });
    if (r.outcome === 'refused') {
      throw stateConflict(order, 'erp_refused', `${erp.system} refused to cancel: ${r.detail}`, {
        erp: { reason: r.reason, detail: r.detail, state: r.state },
      });
    }
    return r;
  }

  /** The order an action names, or the `unknown_order` refusal. */
  private async orderForAction(orderId: string): Promise<SalesOrder> {
    const order = await this.deps.store.getOrder(orderId);
    if (!order) throw unknownOrder(orderId);
    return order;
  }

  /**
   * Commits an action's unit. False when the order changed under it (another action, a
   * milestone) or stock moved under a reservation, and the caller should read and try again
   * (three times at most); other failures, and a key already used, are thrown.
   */
  private async commitAction(unit: CommitUnit, attempt: number): Promise<boolean> {
    try {
      await this.deps.store.commit(unit);
      return true;
    } catch (err) {
      const e = toCrossdockError(err);
      if (e.kind !== 'conflict' || e.details['key'] !== undefined || attempt >= 3) throw e;
      return false;
    }
  }

  private actionResult(order: SalesOrder): ActionResult {
    return { httpStatus: actionStatus(order), decision: toDecision(order), order };
  }

  private eventOptions(traceparent: string | undefined) {
    return {
      source,
      time: this.deps.clock.now(),
      ...(traceparent ? { traceparent } : {}),
    };
  }

  /**
   * Finish orders whose decision committed but whose ERP step did not (a crash, an outage,
   * a 202). Safe to run at any time and from several places: ERP creation is idempotent.
   *
   * Walks every `validating` order, `pageSize` at a time (orders it skips must not hide later
   * ones), and leaves alone orders decided less than the inline budget ago: their request is
   * still running its own ERP step, and taking it over would leave the key's record at the
   * provisional 202 while the caller gets the final answer.
   */
  async resumePending(pageSize = 100): Promise<number> {
    const { store, clock, policies } = this.deps;
    const now = clock.now().getTime();
    const settledBefore = now - policies.erpInlineBudgetMs;
    let resumed = 0;
    let afterId: string | undefined;
    for (let pages = 0; pages < maxResumePages; pages++) {
      const page = await store.listOrders({
        states: ['validating'],
        limit: pageSize,
        ...(afterId === undefined ? {} : { afterId }),
      });
      for (const order of page) {
        const backoff = this.resumeAttempts.get(order.id);
        if (backoff && backoff.nextAt > now) continue;
        if (this.erpRuns.has(order.id)) continue;
        if (Date.parse(order.updatedAt) > settledBefore) continue;
        try {
          const customer = order.customerId ? await store.getCustomer(order.customerId) : null;
          if (!customer) {
            this.deps.onBackgroundError?.(order.id, new Error(`customer ${order.customerId} not found`));
            continue;
          }
          resumed++;
          await this.completeErp(order, customer, { mode: 'background', idempotency: undefined }, null);
        } catch (err) {
          this.deps.onBackgroundError?.(order.id, err);
        }
      }
      if (page.length < pageSize) break;
      afterId = page[page.length - 1]!.id;
    }
    // The CRM's cancellation requests ride the same timer (they need the ERP too).
    await this.processCancelRequests().catch((err: unknown) =>
      this.deps.onBackgroundError?.('cancel-requests', err),
    );
    return resumed;
  }

  private async finishInline(
    order: SalesOrder,
    customer: Customer,
    answer: Answer,
    credit: { erpCustomerId: string; amount: number } | null,
  ): Promise<SubmitResult> {
    const run = this.completeErp(order, customer, answer, credit);
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.deps.policies.erpInlineBudgetMs);
    });
    try {
      const done = await Promise.race([run, budget]);
      if (done !== 'timeout') return this.result(done, false, answer.action);
    } catch (err) {
      // The ERP is down or failing after retries: the decision stands, the ERP step finishes
      // behind (resumePending). The caller learns the order is validated and pending.
      if (!(err instanceof CrossdockError) || !err.retryable) throw err;
    } finally {
      clearTimeout(timer);
    }
    answer.mode = 'background';
    run.catch((err: unknown) => this.deps.onBackgroundError?.(order.id, err));
    const current = (await this.deps.store.getOrder(order.id)) ?? order;
    const result = this.result(current, false, answer.action);
    // The key's record says 202 since the decision; should the ERP step have finished between
    // the timeout and the read above, the caller gets the final answer, and so must a repeat.
    if (answer.idempotency && result.httpStatus !== 202) {
      await this.deps.store
        .commit({ idempotency: this.idempotencyRecord(answer.idempotency, current, true, answer.action) })
        .catch(() => undefined);
    }
    return result;
  }

  /** ERP create + confirm, then commit 2. One run per order at a time in this process. */
  private completeErp(
    order: SalesOrder,
    customer: Customer,
    answer: Answer,
    credit: { erpCustomerId: string; amount: number } | null,
  ): Promise<SalesOrder> {
    const running = this.erpRuns.get(order.id);
    if (running) return running;
    const run = this.runErp(order, customer, answer, credit).finally(() => this.erpRuns.delete(order.id));
    this.erpRuns.set(order.id, run);
    return run;
  }

  private async runErp(
    order: SalesOrder,
    customer: Customer,
    answer: Answer,
    credit: { erpCustomerId: string; amount: number } | null,
  ): Promise<SalesOrder> {
    const { erp, store, clock } = this.deps;
    const started = performance.now();
    const timeline: TimelineInput[] = [];
    const journal: JournalEntry[] = [];
    let attempt = 0;
    for (;;) {
      attempt++;
      try {
        const res = await createErpOrder(order, customer, erp);
        const backordered = order.lines.some((l) => l.backorderedQuantity > 0);
        const state: OrderState = backordered ? 'backordered' : 'accepted';
        const next: SalesOrder = {
          ...order,
          version: order.version + 1,
          state,
          customerStatus: customerStatus(state),
          externalIds: { ...order.externalIds, erp: res.ref.erpOrderNumber, erpOrderId: res.ref.erpOrderId },
          updatedAt: clock.now().toISOString(),
        };
        const durationMs = performance.now() - started;
        timeline.push(
          this.stepEntry(order, createErpOrderStepId, erp.system, 'passed', durationMs, {
            erpOrderNumber: res.ref.erpOrderNumber,
            created: res.ref.created,
            erpState: res.state,
            attempts: attempt,
          }),
        );
        journal.push(
          this.journal(
            order.id,
            createErpOrderStepId,
            'completed',
            { ...res.ref, erpCustomerId: res.erpCustomerId },
            null,
            attempt,
            durationMs,
          ),
        );
        const unit: CommitUnit = {
          order: { next, expectedVersion: order.version },
          timeline,
          journal,
          events: [this.decisionEvent(next, undefined)],
        };
        if (res.customerCreated)
          unit.customers = [
            { ...customer, externalIds: { ...customer.externalIds, erp: res.erpCustomerId } },
          ];
        if (answer.mode === 'inline' && answer.idempotency)
          unit.idempotency = this.idempotencyRecord(answer.idempotency, next, true, answer.action);
        await store.commit(unit);
        // The ERP and the store answer again: orders backed off during the outage go next pass.
        if (this.resumeAttempts.size > 0) this.resumeAttempts.clear();
        return next;
      } catch (err) {
        const e = err instanceof CrossdockError ? err : CrossdockError.transient(String(err), { cause: err });
        if (e.kind === 'conflict' && (await store.getOrder(order.id))?.state !== 'validating') {
          // Another run finished this order first.
          return (await store.getOrder(order.id))!;
        }
        if (e.retryable && attempt < 2) {
          await sleep(Math.min(e.retryAfterMs ?? 50, 250));
          continue;
        }
        if (e.retryable) {
          const prev = this.resumeAttempts.get(order.id)?.attempts ?? 0;
          const delay = backoffDelay(prev + 1, resumeBackoff);
          this.resumeAttempts.set(order.id, { attempts: prev + 1, nextAt: clock.now().getTime() + delay });
          throw e;
        }
        return this.holdAfterErpRefusal(order, e, answer, credit, performance.now() - started, attempt);
      }
    }
  }

  /** The ERP refused: hold with its message, and give the reservations back (compensation). */
  private async holdAfterErpRefusal(
    order: SalesOrder,
    e: CrossdockError,
    answer: Answer,
    credit: { erpCustomerId: string; amount: number } | null,
    durationMs: number,
    attempt: number,
  ): Promise<SalesOrder> {
    const { clock, erp, store } = this.deps;
    const now = clock.now().toISOString();
    const reason = e.kind === 'policy_violation' ? 'credit' : 'customer_data';
    const hold: Hold = {
      reason,
      owner: holdOwners[reason],
      detail: `${erp.system}: ${e.message}`,
      data: e.details,
      openedAt: now,
      resolvedAt: null,
    };
    const next: SalesOrder = {
      ...order,
      version: order.version + 1,
      state: 'on_hold',
      customerStatus: customerStatus('on_hold'),
      holds: [...order.holds, hold],
      updatedAt: now,
    };
    const release: InventoryDelta[] = order.lines.flatMap((l) =>
      l.allocations.map((a) => ({ sku: l.sku, warehouseId: a.warehouseId, reservedDelta: -a.quantity })),
    );
    const unit: CommitUnit = {
      order: { next, expectedVersion: order.version },
      inventory: release,
      timeline: [
        this.stepEntry(order, createErpOrderStepId, erp.system, 'hold', durationMs, {
          kind: e.kind,
          message: e.message,
        }),
        this.stepEntry(order, releaseReservationsStepId, 'hub', 'passed', 0, { lines: release.length }),
      ],
      journal: [
        this.journal(order.id, createErpOrderStepId, 'failed', {}, e.toJSON(), attempt, durationMs),
        this.journal(order.id, releaseReservationsStepId, 'compensated', { release }),
      ],
      events: [this.decisionEvent(next, undefined)],
    };
    if (answer.mode === 'inline' && answer.idempotency)
      unit.idempotency = this.idempotencyRecord(answer.idempotency, next, true, answer.action);
    await store.commit(unit);
    if (credit) this.deps.credit.add(credit.erpCustomerId, -credit.amount);
    if (e.kind === 'policy_violation' && order.customerId) {
      const c = await store.getCustomer(order.customerId);
      if (c?.externalIds.erp) this.deps.credit.invalidate(c.externalIds.erp);
    }
    return next;
  }

  /** Steps 1–6. Returns the credit the run counted against the exposure cache, if any. */
  private async decide(ctx: RunContext): Promise<{ erpCustomerId: string; amount: number } | null> {
    const meta = (stepId: string, system: string) => ({
      orderId: ctx.orderId,
      correlationId: ctx.correlationId,
      system,
      stepId,
      now: () => this.deps.clock.now(),
    });
    const d = this.deps;
    const stop = (r: StepReport) => r.outcome === 'reject' || ctx.rejection !== null;

    let r = await runStep(ctx.timeline, meta(validateCustomerStepId, 'hub'), () => validateCustomer(ctx, d));
    if (stop(r) || !ctx.customer) return null;
    if (checksDuplicatePo(ctx)) {
      await runStep(ctx.timeline, meta(checkDuplicatePoStepId, 'hub'), () => checkDuplicatePo(ctx, d));
    }
    r = await runStep(ctx.timeline, meta(confirmPricingStepId, 'hub'), () => confirmPricing(ctx, d));
    r = await runStep(ctx.timeline, meta(checkAvailabilityStepId, 'hub'), () => checkAvailability(ctx, d));
    if (stop(r)) return null;
    let reserved: { erpCustomerId: string; amount: number } | null = null;
    r = await runStep(ctx.timeline, meta(checkCreditStepId, d.erp.system), async () => {
      const out = await checkCredit(ctx, d);
      reserved = out.reserved ?? null;
      return out;
    });
    r = await runStep(ctx.timeline, meta(applyTaxShippingRulesStepId, 'hub'), () =>
      applyTaxShippingRules(ctx, d),
    );
    if (stop(r) || ctx.holds.length > 0) return reserved;
    await runStep(ctx.timeline, meta(routeFulfillmentStepId, 'hub'), () => routeFulfillment(ctx, d));
    return reserved;
  }

  private newContext(
    input: Pick<SubmitInput, 'orderId' | 'correlationId' | 'submission'>,
    products: RunContext['products'],
    lines: RunContext['lines'],
    approved: RunContext['approved'] = new Set(),
  ): RunContext {
    const now = this.deps.clock.now();
    return {
      orderId: input.orderId,
      correlationId: input.correlationId,
      submission: input.submission,
      now,
      today: now.toISOString().slice(0, 10),
      products,
      lines,
      total: Math.round(lines.reduce((s, l) => s + l.quantity * l.unitPrice, 0) * 100) / 100,
      customer: null,
      customerWrites: [],
      policy: this.deps.policies.default,
      inventory: [],
      availability: [],
      inventoryDecision: 'none',
      holds: [],
      approved,
      rejection: null,
      plan: null,
      timeline: [],
    };
  }

  private buildOrder(ctx: RunContext, input: Pick<SubmitInput, 'correlationId'>): SalesOrder {
    const s = ctx.submission;
    const now = ctx.now.toISOString();
    const state: OrderState = ctx.rejection ? 'rejected' : ctx.holds.length > 0 ? 'on_hold' : 'validating';
    const order: SalesOrder = {
      id: ctx.orderId,
      version: 1,
      source: s.source ?? { system: 'crm', ref: s.quoteId ?? ctx.orderId },
      customerId: ctx.customer?.id ?? null,
      currency: s.currency,
      shipTo: s.shipTo,
      shippingMethod: s.shippingMethod,
      lines: ctx.lines,
      total: ctx.total,
      state,
      customerStatus: customerStatus(state),
      milestones: [],
      holds: ctx.holds.map((h) => ({ ...h, owner: holdOwners[h.reason], openedAt: now, resolvedAt: null })),
      rejection: ctx.rejection,
      fulfillmentPlan: ctx.plan ? { strategy: ctx.plan.strategy, rationale: ctx.plan.rationale } : null,
      externalIds: s.source?.system === 'crm' ? { crm: s.source.ref } : {},
      shipments: [],
      invoices: [],
      correlationId: input.correlationId,
      createdAt: now,
      updatedAt: now,
    };
    if (s.quoteId) order.quoteId = s.quoteId;
    if (ctx.customer) {
      order.customerName = ctx.customer.name;
      order.segment = ctx.customer.segment;
    }
    if (s.poNumber) order.poNumber = s.poNumber;
    if (s.requestedDate) order.requestedDate = s.requestedDate;
    return order;
  }

  private decisionEvent(order: SalesOrder, traceparent: string | undefined) {
    const opts = { source, time: this.deps.clock.now(), ...(traceparent ? { traceparent } : {}) };
    const base = {
      orderId: order.id,
      customerId: order.customerId,
      state: order.state,
      customerStatus: order.customerStatus,
    };
    if (order.state === 'rejected') {
      return newEvent(
        'order.rejected.v1',
        order.id,
        { ...base, code: order.rejection?.code ?? 'rejected', detail: order.rejection?.detail ?? '' },
        opts,
      );
    }
    if (order.state === 'on_hold') {
      const holds = order.holds
        .filter((h) => !h.resolvedAt)
        .map((h) => ({ reason: h.reason, owner: h.owner, detail: h.detail }));
      return newEvent('order.held.v1', order.id, { ...base, holds }, opts);
    }
    return newEvent(
      'order.accepted.v1',
      order.id,
      {
        ...base,
        erpOrderNumber: order.externalIds.erp ?? null,
        total: order.total,
        currency: order.currency,
        lines: order.lines.map((l) => ({
          sku: l.sku,
          quantity: l.quantity,
          backorderedQuantity: l.backorderedQuantity,
        })),
      },
      opts,
    );
  }

  /** The answer to a repost of a quote that has a live order: 200 with that order's decision. */
  private duplicateResult(order: SalesOrder): SubmitResult {
    return { ...this.result(order, true), httpStatus: 200, duplicateOf: 'source' };
  }

  /** The answer for an order: a submission's (201/200/202), or an action's (200/202). */
  private result(order: SalesOrder, existing: boolean, action = false): SubmitResult {
    const decision = toDecision(order);
    const httpStatus = action
      ? actionStatus(order)
      : order.state === 'validating'
        ? 202
        : order.state === 'on_hold' || order.state === 'rejected'
          ? 200
          : 201;
    return { httpStatus, decision, order, existing };
  }

  private idempotencyRecord(
    idem: NonNullable<SubmitInput['idempotency']>,
    order: SalesOrder,
    replace = false,
    action = false,
  ): IdempotencyRecord & { replace?: boolean } {
    const r = this.result(order, false, action);
    return {
      scope: idem.scope,
      key: idem.key,
      requestHash: idem.requestHash,
      responseStatus: r.httpStatus,
      responseBody: r.decision,
      createdAt: this.deps.clock.now().toISOString(),
      ...(replace ? { replace } : {}),
    };
  }

  private journal(
    orderId: string,
    step: string,
    status: JournalEntry['status'],
    output: Record<string, unknown>,
    error: Record<string, unknown> | null = null,
    attempt = 1,
    durationMs = 0,
  ): JournalEntry {
    return {
      orderId,
      step,
      status,
      attempt,
      output,
      error,
      at: this.deps.clock.now().toISOString(),
      durationMs,
    };
  }

  private stepEntry(
    order: SalesOrder,
    name: string,
    system: string,
    outcome: string,
    durationMs: number,
    summary: Record<string, unknown>,
  ): TimelineInput {
    const meta = {
      orderId: order.id,
      correlationId: order.correlationId,
      system,
      stepId: name,
      now: () => this.deps.clock.now(),
    };
    return stepTimelineEntry(meta, outcome, durationMs, summary);
  }
}

/** The public answer for an order: what the caller and the CRM need to know. */
export function toDecision(order: SalesOrder): OrderDecision {
  return {
    orderId: order.id,
    state: order.state,
    customerStatus: order.customerStatus,
    erpOrderNumber: order.externalIds.erp ?? null,
    holds: order.holds
      .filter((h) => !h.resolvedAt)
      .map((h) => ({ reason: h.reason, owner: h.owner, detail: h.detail })),
    rejection: order.rejection,
    correlationId: order.correlationId,
    links: { self: `/api/v1/orders/${order.id}`, timeline: `/api/v1/orders/${order.id}/timeline` },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
