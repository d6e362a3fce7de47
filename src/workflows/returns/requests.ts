/**
 * Return requests, from a CRM case (`crm.return_requested.v1` webhook) or an API client
 * (`POST /api/v1/orders/{id}/returns`): checked against what the order shipped, recorded on the
 * order as `requested` with its timeline entry, audit row (for an API client) and
 * `return.requested.v1`, in one commit. The ERP authorization, the warehouse and the credit
 * follow behind (`ReturnsProcessor`), like the CRM's cancellation requests: a webhook or an API
 * call must answer within its sender's timeout, and a Tryton round trip or an ERP outage must
 * not decide that.
 *
 * The same CRM case again is the same return (answered as `existing`, nothing written but the
 * webhook's dedupe record); a refused request writes nothing.
 */
import {
  CrossdockError,
  type ReturnAuthorization,
  type SalesOrder,
  toCrossdockError,
} from '../../domain/index.js';
import type { AuditInput, Clock, CommitUnit, Store } from '../../ports/index.js';
import { planReturnRequest, type ReturnRequestInput, returnsWorkflowId } from './plan.js';

/** What {@link requestReturn} needs. */
export interface ReturnRequestDeps {
  store: Store;
  clock: Clock;
}

/** The outcome of a request: a new return, or the one this CRM case made before. */
export interface ReturnRequestResult {
  outcome: 'created' | 'existing';
  ret: ReturnAuthorization;
  order: SalesOrder;
}

/** Extra rows to commit with the request: the webhook's dedupe record, the API's audit row. */
export interface ReturnRequestExtras {
  inbound?: { source: string; id: string };
  audit?: Omit<AuditInput, 'target' | 'at'>;
  traceparent?: string;
}

/** The `unknown_order` refusal (the routes answer 404 or 422 for it). */
function unknownOrder(orderId: string): CrossdockError {
  return CrossdockError.dataQuality(`no order ${orderId}`, {
    owner: 'integration',
    details: { reason: 'unknown_order', field: 'subject', subject: orderId, orderId },
  });
}

/**
 * Records a return request on the order (see the file comment). Refusals are thrown: unknown
 * order (`data_quality`, `unknown_order`), nothing shipped / cancelled (`conflict`,
 * `not_returnable`), unknown SKU or over-return (`data_quality`, field named).
 */
export async function requestReturn(
  deps: ReturnRequestDeps,
  orderId: string,
  input: ReturnRequestInput,
  extras: ReturnRequestExtras = {},
): Promise<ReturnRequestResult> {
  for (let attempt = 1; ; attempt++) {
    const order = await deps.store.getOrder(orderId);
    if (!order) throw unknownOrder(orderId);
    const now = deps.clock.now();
    const plan = planReturnRequest(order, input, {
      now,
      eventSource: `/crossdock/${returnsWorkflowId}`,
      ...(extras.traceparent ? { traceparent: extras.traceparent } : {}),
    });
    if ('existing' in plan) {
      if (extras.inbound) {
        const r = await deps.store.commit({ inbound: extras.inbound });
        void r;
      }
      return { outcome: 'existing', ret: plan.existing, order };
    }
    const unit: CommitUnit = {
      order: { next: plan.next, expectedVersion: plan.expectedVersion },
      timeline: plan.timeline,
      events: plan.events,
    };
    if (extras.inbound) unit.inbound = extras.inbound;
    if (extras.audit) {
      unit.audit = [{ ...extras.audit, target: plan.ret!.id, at: now.toISOString() }];
    }
    try {
      const result = await deps.store.commit(unit);
      if (result.status === 'duplicate') {
        const again = (await deps.store.getOrder(orderId)) ?? order;
        const kept = again.returns?.find(
          (r) => r.source.caseId !== undefined && r.source.caseId === input.caseId,
        );
        return { outcome: 'existing', ret: kept ?? plan.ret!, order: again };
      }
      return { outcome: 'created', ret: plan.ret!, order: plan.next };
    } catch (err) {
      const e = toCrossdockError(err);
      // The order moved under us (a milestone, a second request): read it and decide again.
      if (e.kind === 'conflict' && e.details['key'] === undefined && attempt < 4) continue;
      throw e;
    }
  }
}
