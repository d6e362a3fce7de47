/**
 * Signed webhooks from the WMS, the TMS and the ERP, applied like the polled feeds.
 *
 * Why here and not in the event backbone: a webhook is a fulfillment report pushed instead of
 * polled. It is mapped to the same `FulfillmentReport` (`fromWmsMilestone`, `fromTmsMilestone`,
 * `fromErpChange`) and committed by the same `commitReport` as `FulfillmentSync`, so it moves the
 * order only under the monotonic rule, is recorded once per milestone id, lands in the timeline
 * and is published as the hub's own `shipment.milestone.v1` / status / invoice events. The raw
 * body is never forwarded: subscribers only ever see what the hub decided.
 *
 * `receiveWebhook` (events) verifies, allow-lists and validates the body and passes the typed
 * event here as its `apply` step, with the inbound dedupe record to commit alongside. The CRM's
 * cancellation request is the one inbound fact that is no fulfillment report: it is recorded as
 * a request (`quote-to-order/cancel-requests.ts`) and carried out by the quote-to-order workflow.
 */
import {
  CrossdockError,
  type InboundEvent,
  inboundEventSource,
  type SalesOrder,
} from '../../domain/index.js';
import type { Clock, CommitResult, Store } from '../../ports/index.js';
import { recordCancelRequest } from '../quote-to-order/cancel-requests.js';
import { requestReturn } from '../returns/requests.js';
import type { ErpDetails } from './apply-report.js';
import { commitReport } from './commit-report.js';
import { type FulfillmentReport, fromErpChange, fromTmsMilestone, fromWmsMilestone } from './milestones.js';

/** What {@link applyWebhook} needs. */
export interface WebhookApplyDeps {
  store: Store;
  clock: Clock;
  /** How long a sender is asked to wait for an order still being decided. Default 2 s. */
  pendingRetryAfterMs?: number;
}

/** The report (and the ERP details it carries itself) an inbound event stands for. */
export function reportFromWebhook(event: InboundEvent): { report: FulfillmentReport; details: ErpDetails } {
  // The route names the sender; the body's own `source` has already been replaced by it.
  const system = inboundEventSource(event.sender);
  const hubOrderId = event.subject;
  switch (event.type) {
    case 'wms.milestone.v1': {
      const d = event.data;
      const report = fromWmsMilestone(system, {
        id: d.milestoneId,
        deliveryId: event.id,
        hubOrderId,
        shipmentId: d.shipmentId,
        warehouseId: d.warehouseId,
        type: d.milestone,
        at: d.at ?? event.time,
        ...(d.detail !== undefined ? { detail: d.detail } : {}),
        ...(d.lines !== undefined ? { lines: d.lines } : {}),
      });
      return { report, details: {} };
    }
    case 'tms.milestone.v1': {
      const d = event.data;
      const report = fromTmsMilestone(system, {
        id: d.milestoneId,
        deliveryId: event.id,
        hubOrderId,
        shipmentId: d.shipmentId,
        carrier: d.carrier,
        trackingNumber: d.trackingNumber,
        type: d.milestone,
        at: d.at ?? event.time,
        ...(d.warehouseId !== undefined ? { warehouseId: d.warehouseId } : {}),
        ...(d.location !== undefined ? { location: d.location } : {}),
        ...(d.detail !== undefined ? { detail: d.detail } : {}),
        ...(d.reason !== undefined ? { reason: d.reason } : {}),
      });
      return { report, details: {} };
    }
    case 'erp.shipment.v1': {
      const d = event.data;
      // Every status of the schema maps (waiting and cancelled to a timeline-only report).
      const report = fromErpChange(system, {
        kind: 'shipment',
        erpOrderId: d.erpOrderId,
        hubOrderId,
        milestone: d.status,
        recordId: d.shipmentId,
        at: d.at ?? event.time,
      })!;
      report.deliveryId = event.id;
      const details: ErpDetails = {};
      if (d.lines !== undefined) {
        details.shipment = {
          erpShipmentId: d.shipmentId,
          state: d.status,
          lines: d.lines,
          ...(d.warehouseId !== undefined ? { warehouseId: d.warehouseId } : {}),
        };
      }
      return { report, details };
    }
    case 'crm.return_requested.v1':
    case 'crm.order_cancel_requested.v1':
      // Not a fulfillment fact: `applyWebhook` records it as a cancellation request instead.
      throw CrossdockError.dataQuality('a cancellation request is not a fulfillment report', {
        owner: 'integration',
        details: { reason: 'schema', field: 'type', type: event.type },
      });
    case 'erp.invoice.v1': {
      const d = event.data;
      const report = fromErpChange(system, {
        kind: 'invoice',
        erpOrderId: d.erpOrderId,
        hubOrderId,
        milestone: d.status,
        recordId: d.invoiceId,
        at: d.at ?? event.time,
      })!;
      report.deliveryId = event.id;
      const details: ErpDetails = {};
      if (d.amount !== undefined && d.currency !== undefined) {
        details.invoice = {
          erpInvoiceId: d.invoiceId,
          number: d.number ?? null,
          state: d.status,
          amount: d.amount,
          currency: d.currency,
        };
      }
      return { report, details };
    }
  }
}

/**
 * Applies a verified inbound event to the order it names, committing `inbound` (the webhook's
 * dedupe record) in the same unit. Refuses, writing nothing:
 * - an order the hub does not have: `data_quality`, `details.reason = 'unknown_order'`;
 * - an order still being decided (`received`/`validating`): `transient` with `retryAfterMs`
 *   (`order_pending`), so the sender retries after the acceptance rather than the milestone
 *   being applied before it.
 * A report about a rejected or cancelled order is recorded in its timeline and moves nothing.
 * A report that would ship more than the order has open is refused as a whole: `data_quality`
 * (`over_shipment`, `details.field = 'data.lines'`), after its timeline entry and an exception
 * keeping the event as received are committed (its dedupe record is not: a corrected re-send
 * under the same id is applied).
 */
export async function applyWebhook(
  deps: WebhookApplyDeps,
  event: InboundEvent,
  inbound: { source: string; id: string },
): Promise<CommitResult> {
  // The CRM asks for a cancellation: recorded now, carried out behind by quote-to-order.
  if (event.type === 'crm.order_cancel_requested.v1') return recordCancelRequest(deps, event, inbound);
  // A return from a CRM case: recorded now, authorized, received and credited behind.
  if (event.type === 'crm.return_requested.v1') return recordCrmReturn(deps, event, inbound);
  const order: SalesOrder | null = await deps.store.getOrder(event.subject);
  if (!order) {
    throw CrossdockError.dataQuality(`no order ${event.subject}`, {
      owner: 'integration',
      details: { reason: 'unknown_order', field: 'subject', subject: event.subject },
    });
  }
  if (order.state === 'received' || order.state === 'validating') {
    throw CrossdockError.transient(`order ${order.id} is still being decided; send the milestone again`, {
      retryAfterMs: deps.pendingRetryAfterMs ?? 2000,
      details: { reason: 'order_pending', orderId: order.id },
    });
  }
  const { report, details } = reportFromWebhook(event);
  report.raw = event;
  const result = await commitReport(
    { store: deps.store, clock: deps.clock, eventSource: `/crossdock/webhooks/${event.sender}` },
    report,
    { order, details, inbound, inboundOnRefusal: false },
  );
  if (result.outcome === 'refused') {
    const e = result.error;
    throw CrossdockError.dataQuality(e.message, {
      owner: e.owner,
      details: { ...e.details, field: 'data.lines' },
    });
  }
  return result.outcome === 'duplicate'
    ? { status: 'duplicate' }
    : { status: 'committed', eventSeqs: result.eventSeqs };
}

/**
 * A CRM case asking for a return: recorded on the order (`requestReturn`) with the webhook's
 * dedupe record. The same case again answers as a duplicate (200), changing nothing. Refusals
 * name the field in the event (`data.lines.0.quantity`, `subject`).
 */
async function recordCrmReturn(
  deps: WebhookApplyDeps,
  event: Extract<InboundEvent, { type: 'crm.return_requested.v1' }>,
  inbound: { source: string; id: string },
): Promise<CommitResult> {
  try {
    const r = await requestReturn(
      deps,
      event.subject,
      {
        system: 'crm',
        caseId: event.data.caseId,
        by: event.data.requestedBy ?? 'CRM',
        lines: event.data.lines,
        ...(event.data.note !== undefined ? { note: event.data.note } : {}),
      },
      { inbound, ...(event.traceparent ? { traceparent: event.traceparent } : {}) },
    );
    return r.outcome === 'existing' ? { status: 'duplicate' } : { status: 'committed', eventSeqs: [] };
  } catch (err) {
    if (!(err instanceof CrossdockError)) throw err;
    const field = err.details['field'];
    if (err.details['reason'] === 'unknown_order') throw err;
    // The webhook answers 422 naming the field of the event that is wrong.
    throw CrossdockError.dataQuality(err.message, {
      owner: err.owner,
      details: {
        ...err.details,
        field:
          typeof field === 'string' && field.startsWith('lines')
            ? `data.${field.replace(/\[(\d+)\]/g, '.$1')}`
            : 'subject',
      },
    });
  }
}
