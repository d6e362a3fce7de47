/**
 * What people do to an order after its decision: the hold owner releases (approves) or rejects
 * a hold; the CRM, the API or a hold owner cancels the order. The pure parts live here (who may
 * act on what state, how holds are closed, what the timeline, the audit log and the outbox say);
 * `QuoteToOrder` runs them, since a release decides the order again with its steps.
 *
 * Why every action writes the timeline, the audit log and its event in the one commit that
 * changes the order: "who released this credit hold, when, and why" is asked months later by
 * finance, and an answer that can disagree with the order (a crash between two writes) is no
 * answer. Refusals write nothing: a wrong state, an unknown order or a hold that is not open is
 * a typed error (`details.reason`) the HTTP layer turns into 404/409 problem+json.
 */
import {
  type CloudEvent,
  CrossdockError,
  type Hold,
  type HoldReason,
  holdOwners,
  newEvent,
  type OrderDecision,
  type OrderSubmission,
  type SalesOrder,
} from '../../domain/index.js';
import type { AuditInput, TimelineInput } from '../../ports/index.js';

/** Who acts: the API key (its id and name) the request came with. */
export interface OrderActor {
  keyId: string;
  name: string;
}

/** An action on one order: who, why, and the request it came with. */
export interface OrderActionInput {
  orderId: string;
  actor: OrderActor;
  /** Why, in the actor's words: kept on the hold, the timeline and the audit log. */
  note: string;
  correlationId: string;
  traceparent?: string;
  /** The request's Idempotency-Key: its answer is committed with the action. */
  idempotency?: { scope: string; key: string; requestHash: string };
}

/** An action on the open holds of one reason. */
export interface HoldActionInput extends OrderActionInput {
  reason: HoldReason;
}

/** A cancellation: why as a code, and, for a hold owner's, the hold it is decided over. */
export interface CancelInput extends OrderActionInput {
  /** Why, as a short code (`customer_request`, `duplicate`, …): on the order, its event and the ERP. */
  reason: string;
  /** A hold owner cancels over the order's open hold of this reason (the order must be on it). */
  holdReason?: HoldReason;
}

/** The answer to an action: 200 with the order's decision, 202 while its ERP step runs behind. */
export interface ActionResult {
  httpStatus: 200 | 202;
  decision: OrderDecision;
  order: SalesOrder;
}

/** The status an action answers with for the order it left. */
export function actionStatus(order: SalesOrder): 200 | 202 {
  return order.state === 'validating' ? 202 : 200;
}

/** The refusal of an action on an order the hub does not have (404). */
export function unknownOrder(orderId: string): CrossdockError {
  return CrossdockError.dataQuality(`order ${orderId} not found`, {
    owner: 'integration',
    details: { reason: 'unknown_order', field: 'id', orderId },
  });
}

/** The refusal of an action the order's state does not allow (409). */
export function stateConflict(
  order: SalesOrder,
  reason: string,
  message: string,
  details: Record<string, unknown> = {},
): CrossdockError {
  return CrossdockError.conflict(message, {
    owner: 'customer_service',
    details: { reason, orderId: order.id, state: order.state, ...details },
  });
}

/** Open holds of an order, as the decision shows them. */
export function openHolds(order: SalesOrder): Hold[] {
  return order.holds.filter((h) => !h.resolvedAt);
}

/**
 * The open holds of `reason` an owner acts on; refuses (409) an order that is not on hold or has
 * no open hold of that reason.
 */
export function holdsToWork(order: SalesOrder, reason: HoldReason): Hold[] {
  const open = openHolds(order);
  if (order.state !== 'on_hold') {
    throw stateConflict(order, 'not_on_hold', `order ${order.id} is ${order.state}, not on hold`, {
      holdReason: reason,
    });
  }
  const mine = open.filter((h) => h.reason === reason);
  if (mine.length === 0) {
    throw stateConflict(order, 'no_open_hold', `order ${order.id} has no open ${reason} hold`, {
      holdReason: reason,
      openHolds: open.map((h) => h.reason),
    });
  }
  return mine;
}

/**
 * The order's holds with the open ones of `reason` (every open one when `reason` is null)
 * resolved now as `action`, and any other open one as `closed` when `closeOthers`.
 */
export function resolveHolds(
  holds: readonly Hold[],
  reason: HoldReason | null,
  action: NonNullable<Hold['resolution']>['action'],
  actor: OrderActor,
  note: string,
  nowIso: string,
  closeOthers = false,
): Hold[] {
  return holds.map((h) => {
    if (h.resolvedAt) return h;
    const mine = reason === null || h.reason === reason;
    if (!mine && !closeOthers) return h;
    return {
      ...h,
      resolvedAt: nowIso,
      resolution: { action: mine ? action : 'closed', by: actor.name, keyId: actor.keyId, note },
    };
  });
}

/** Hold reasons the order's owners released so far: the steps let them through when deciding again. */
export function approvedReasons(holds: readonly Hold[]): Set<HoldReason> {
  return new Set(holds.filter((h) => h.resolution?.action === 'released').map((h) => h.reason));
}

/**
 * The submission an order was decided from, rebuilt from the order, to decide it again. The
 * customer is the one the order names; an order held because its CRM account was unknown names
 * none, and the account is read back from that hold's data.
 */
export function submissionOf(order: SalesOrder): OrderSubmission {
  const s: OrderSubmission = {
    source: order.source,
    customer: customerRefOf(order),
    currency: order.currency,
    shipTo: order.shipTo,
    shippingMethod: order.shippingMethod,
    lines: order.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, unitPrice: l.unitPrice })),
  };
  if (order.quoteId) s.quoteId = order.quoteId;
  if (order.poNumber) s.poNumber = order.poNumber;
  if (order.requestedDate) s.requestedDate = order.requestedDate;
  return s;
}

function customerRefOf(order: SalesOrder): OrderSubmission['customer'] {
  if (order.customerId) return { id: order.customerId };
  for (const h of order.holds) {
    if (h.reason !== 'customer_data') continue;
    const crmId = h.data['crmId'];
    if (typeof crmId === 'string') return { system: 'crm', externalId: crmId };
    const ref = h.data['ref'];
    if (ref && typeof ref === 'object') {
      const r = ref as Record<string, unknown>;
      if (typeof r['id'] === 'string') return { id: r['id'] };
      if (typeof r['system'] === 'string' && typeof r['externalId'] === 'string')
        return { system: r['system'] as 'crm', externalId: r['externalId'] };
    }
  }
  // Nothing to find the customer by: validation holds the order again for master data.
  return { id: `unknown:${order.id}` };
}

/** The timeline entry of an action: kind `note`, named `order.<action>` or `hold.<action>`. */
export function actionEntry(
  order: SalesOrder,
  name: string,
  outcome: string,
  actor: OrderActor,
  note: string,
  at: Date,
  summary: Record<string, unknown> = {},
): TimelineInput {
  return {
    orderId: order.id,
    at: at.toISOString(),
    kind: 'note',
    name,
    system: 'hub',
    outcome,
    durationMs: null,
    summary: { ...summary, by: actor.name, keyId: actor.keyId, note },
    correlationId: order.correlationId,
  };
}

/** The audit row of an action (`actor` is `api-key:<id>`, as for exception actions). */
export function actionAudit(
  order: SalesOrder,
  action: string,
  actor: OrderActor,
  note: string,
  at: Date,
  detail: Record<string, unknown> = {},
): AuditInput {
  return {
    // Webhook senders are named by source (`webhook:crm`); API keys as exception actions name them.
    actor: actor.keyId.startsWith('webhook:') ? actor.keyId : `api-key:${actor.keyId}`,
    action,
    target: order.id,
    detail: { ...detail, keyName: actor.name, note, previousState: order.state },
    at: at.toISOString(),
  };
}

/** `order.hold_released.v1` for the order as the release left it. */
export function holdReleasedEvent(
  next: SalesOrder,
  reason: HoldReason,
  actor: OrderActor,
  note: string,
  options: { source: string; time: Date; traceparent?: string },
): CloudEvent {
  return newEvent(
    'order.hold_released.v1',
    next.id,
    {
      orderId: next.id,
      customerId: next.customerId,
      state: next.state,
      customerStatus: next.customerStatus,
      reason,
      owner: holdOwners[reason],
      by: actor.name,
      note,
      holds: openHolds(next).map((h) => ({ reason: h.reason, owner: h.owner, detail: h.detail })),
    },
    options,
  );
}
