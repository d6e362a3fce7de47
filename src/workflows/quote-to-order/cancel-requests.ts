/**
 * Cancellation requests from the CRM (`crm.order_cancel_requested.v1` webhooks).
 *
 * Why recorded first and carried out behind: a webhook must be answered within the sender's
 * timeout and must never be half-applied, while a cancellation talks to the ERP (a Tryton round
 * trip is ~0.5 s, an outage is minutes). So the webhook commits the request alone, with its
 * dedupe record, as one open exception per order for customer service (`cancel-request:<order>`,
 * queue `crm-cancel-requests`); `QuoteToOrder.processCancelRequests` (every resume pass, 2 s)
 * cancels the order and resolves the request, or, when the order cannot be cancelled (shipped,
 * invoiced, refused by the ERP), leaves it open marked `refused` with the reason, for a person to
 * call the customer. A redelivered webhook is a duplicate; a second request for the same order
 * adds to the same record.
 */
import { CrossdockError, type InboundEvent } from '../../domain/index.js';
import type { Clock, CommitResult, ExceptionInput, Store } from '../../ports/index.js';

/** The exception queue (its `subscription` field) that holds pending CRM cancellation requests. */
export const cancelRequestQueue = 'crm-cancel-requests';

/** The one request record of an order. */
export function cancelRequestId(orderId: string): string {
  return `cancel-request:${orderId}`;
}

/** What a recorded request carries (its exception's `error`). */
export interface CancelRequest {
  reason: string;
  note: string;
  requestedBy: string;
  at: string;
  eventId: string;
  /** Set once the hub tried and could not cancel: the request waits for a person. */
  refused?: boolean;
  refusal?: Record<string, unknown>;
}

/** The request record for an order, as committed. */
export function cancelRequestException(
  orderId: string,
  request: CancelRequest,
  attempts = 1,
): ExceptionInput {
  const message = request.refused
    ? `the CRM asked to cancel order ${orderId} and the hub could not: ${String(request.refusal?.['message'] ?? '')}`
    : `the CRM asked to cancel order ${orderId} (${request.reason})`;
  return {
    id: cancelRequestId(orderId),
    kind: 'policy_violation',
    owner: 'customer_service',
    source: 'inbound:crm',
    subscription: cancelRequestQueue,
    deliveryId: null,
    eventId: request.eventId,
    orderId,
    error: { kind: 'policy_violation', message, retryable: false, owner: 'customer_service', ...request },
    attempts,
    coalesce: !request.refused,
  };
}

/**
 * Records a CRM cancellation request with its inbound dedupe record, in one commit; refuses an
 * order the hub does not have (`data_quality`, `unknown_order`, so the webhook answers 422).
 */
export async function recordCancelRequest(
  deps: { store: Store; clock: Clock },
  event: Extract<InboundEvent, { type: 'crm.order_cancel_requested.v1' }>,
  inbound: { source: string; id: string },
): Promise<CommitResult> {
  const order = await deps.store.getOrder(event.subject);
  if (!order) {
    throw CrossdockError.dataQuality(`no order ${event.subject}`, {
      owner: 'integration',
      details: { reason: 'unknown_order', field: 'subject', subject: event.subject },
    });
  }
  const now = deps.clock.now();
  const request: CancelRequest = {
    reason: event.data.reason,
    note: event.data.note ?? '',
    requestedBy: event.data.requestedBy ?? 'CRM',
    at: event.data.at ?? event.time,
    eventId: event.id,
  };
  return deps.store.commit({
    inbound,
    exceptions: [cancelRequestException(order.id, request)],
    timeline: [
      {
        orderId: order.id,
        at: now.toISOString(),
        kind: 'note',
        name: 'order.cancel_requested',
        system: event.source,
        outcome: 'requested',
        durationMs: null,
        summary: { reason: request.reason, note: request.note, by: request.requestedBy, eventId: event.id },
        correlationId: order.correlationId,
      },
    ],
  });
}
