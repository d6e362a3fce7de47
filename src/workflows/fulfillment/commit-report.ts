/**
 * Applies one fulfillment report to its order as one commit: plan (`planReport`), commit with
 * the order's optimistic version and the inbound dedupe record, and on a conflict re-read and
 * plan again.
 *
 * Why one function: the polling feeds (`FulfillmentSync`) and the signed webhooks
 * (`applyWebhook`) must apply a milestone the same way — monotonic, recorded once per milestone
 * id on its shipment, kept in the timeline either way, published as the hub's own events — or a
 * WMS that both pushes and is polled would see two rule sets. Everything that decides what a
 * report does lives in `planReport`; this is the commit loop around it.
 */
import { type CrossdockError, type SalesOrder, toCrossdockError } from '../../domain/index.js';
import type { Clock, CommitUnit, Store } from '../../ports/index.js';
import { type ErpDetails, planReport, type ReportPlan, reportException } from './apply-report.js';
import type { FulfillmentReport } from './milestones.js';

/** What {@link commitReport} needs. */
export interface CommitReportDeps {
  store: Store;
  clock: Clock;
  /** CloudEvents source of the events the hub emits for the report. */
  eventSource: string;
}

/** Options of {@link commitReport}. */
export interface CommitReportOptions {
  /** The order as last read (saves a read; a stale one only costs a conflict and a re-read). */
  order: SalesOrder;
  /** The inbound dedupe record committed with the report: if it was seen, nothing is applied. */
  inbound: { source: string; id: string };
  /** What the ERP said about the record the report names (see `planReport`). */
  details?: ErpDetails;
  /**
   * Commit `inbound` with a refused report too (default true): a polled feed moves past the
   * entry and a re-read is a duplicate. A webhook leaves it out, so the sender's corrected
   * re-send under the same id is not taken for the refused one.
   */
  inboundOnRefusal?: boolean;
}

/** What {@link commitReport} did. */
export type CommitReportResult =
  | {
      /** `applied`: the order's state moved; `recorded`: kept in the timeline only. */
      outcome: 'applied' | 'recorded';
      /** The order as committed. */
      order: SalesOrder;
      plan: ReportPlan;
      eventSeqs: number[];
    }
  /**
   * Refused as a whole (`plan.refusal`, e.g. more shipped than ordered): the order is untouched;
   * the timeline entry and the exception keeping the raw report were committed.
   */
  | { outcome: 'refused'; order: SalesOrder; plan: ReportPlan; error: CrossdockError }
  /** The inbound record was seen before: nothing was written. */
  | { outcome: 'duplicate' };

/** Conflicts retried before the conflict is thrown (each re-reads the order). */
export const commitReportAttempts = 8;

/**
 * Plans and commits one report; see the file comment. Throws the store's `conflict` after
 * {@link commitReportAttempts}, or when the order has gone.
 */
export async function commitReport(
  deps: CommitReportDeps,
  report: FulfillmentReport,
  options: CommitReportOptions,
): Promise<CommitReportResult> {
  const { store } = deps;
  let order = options.order;
  let skipRelease = false;
  for (let attempt = 1; ; attempt++) {
    const now = deps.clock.now();
    const plan = planReport(order, report, options.details ?? {}, {
      now,
      eventSource: deps.eventSource,
      skipRelease,
    });
    if (plan.refusal) {
      const refused: CommitUnit = {
        timeline: [plan.timeline],
        exceptions: [reportException(order, report, plan.refusal, now)],
      };
      if (options.inboundOnRefusal !== false) refused.inbound = options.inbound;
      const result = await store.commit(refused);
      if (result.status === 'duplicate') return { outcome: 'duplicate' };
      return { outcome: 'refused', order, plan, error: plan.refusal };
    }
    const unit: CommitUnit = {
      order: { next: plan.next, expectedVersion: order.version },
      timeline: [plan.timeline],
      events: plan.events,
      inbound: options.inbound,
    };
    if (plan.inventory.length > 0) unit.inventory = plan.inventory;
    if (plan.cursors.length > 0) unit.cursors = plan.cursors;
    if (plan.notice) unit.exceptions = [reportException(order, report, plan.notice, now)];
    try {
      const result = await store.commit(unit);
      if (result.status === 'duplicate') return { outcome: 'duplicate' };
      return {
        outcome: plan.applied ? 'applied' : 'recorded',
        order: plan.next,
        plan,
        eventSeqs: result.eventSeqs,
      };
    } catch (err) {
      ({ order, skipRelease } = await retryAfterConflict(store, err, attempt, order, skipRelease));
    }
  }
}

/**
 * What the next attempt of a failed report commit starts from, or the error when there is none
 * (not a conflict, attempts used up, the order gone). A conflict naming a SKU means the
 * reservation is not there to give back (released by a hold, or never taken in this store): the
 * allocation is recorded without touching inventory. Any other conflict is the order's version:
 * re-read it and plan again (a release already skipped stays skipped).
 */
async function retryAfterConflict(
  store: Store,
  err: unknown,
  attempt: number,
  order: SalesOrder,
  skipRelease: boolean,
): Promise<{ order: SalesOrder; skipRelease: boolean }> {
  const e = toCrossdockError(err);
  if (e.kind !== 'conflict' || attempt >= commitReportAttempts) throw e;
  if (typeof e.details['sku'] === 'string') return { order, skipRelease: true };
  const fresh = await store.getOrder(order.id);
  if (!fresh) throw e;
  return { order: fresh, skipRelease };
}

/** What {@link commitReports} did. */
export type CommitReportsResult =
  | {
      outcome: 'committed';
      /** The order as committed (unchanged when every report was refused or timeline-only). */
      order: SalesOrder;
      /** Per report, in order: `applied` moved the state, `recorded` did not, `refused` refused it. */
      outcomes: ('applied' | 'recorded' | 'refused')[];
      eventSeqs: number[];
    }
  /** The inbound record was seen before: nothing was written. */
  | { outcome: 'duplicate' };

/**
 * Plans and commits several reports about one order as ONE unit, each planned on the order as
 * the previous one left it: a carrier's update re-sending a shipment's scan history is one
 * delivery, recorded all or nothing under one inbound record. A refused report keeps its
 * timeline entry and exception in the unit and leaves the order as it was for the next. On a
 * version conflict the order is re-read and every report planned again (as {@link commitReport}).
 */
export async function commitReports(
  deps: CommitReportDeps,
  reports: readonly FulfillmentReport[],
  options: Omit<CommitReportOptions, 'details' | 'inboundOnRefusal'>,
): Promise<CommitReportsResult> {
  const { store } = deps;
  let order = options.order;
  let skipRelease = false;
  for (let attempt = 1; ; attempt++) {
    const now = deps.clock.now();
    const unit: CommitUnit = { timeline: [], events: [], inbound: options.inbound };
    const inventory: NonNullable<CommitUnit['inventory']> = [];
    const cursors: NonNullable<CommitUnit['cursors']> = [];
    const exceptions: NonNullable<CommitUnit['exceptions']> = [];
    const outcomes: ('applied' | 'recorded' | 'refused')[] = [];
    let next = order;
    for (const report of reports) {
      const plan = planReport(next, report, {}, { now, eventSource: deps.eventSource, skipRelease });
      unit.timeline!.push(plan.timeline);
      if (plan.refusal) {
        exceptions.push(reportException(next, report, plan.refusal, now));
        outcomes.push('refused');
        continue;
      }
      unit.events!.push(...plan.events);
      inventory.push(...plan.inventory);
      cursors.push(...plan.cursors);
      if (plan.notice) exceptions.push(reportException(next, report, plan.notice, now));
      outcomes.push(plan.applied ? 'applied' : 'recorded');
      next = plan.next;
    }
    if (next !== order) unit.order = { next, expectedVersion: order.version };
    if (inventory.length > 0) unit.inventory = inventory;
    if (cursors.length > 0) unit.cursors = cursors;
    if (exceptions.length > 0) unit.exceptions = exceptions;
    try {
      const result = await store.commit(unit);
      if (result.status === 'duplicate') return { outcome: 'duplicate' };
      return { outcome: 'committed', order: next, outcomes, eventSeqs: result.eventSeqs };
    } catch (err) {
      ({ order, skipRelease } = await retryAfterConflict(store, err, attempt, order, skipRelease));
    }
  }
}
