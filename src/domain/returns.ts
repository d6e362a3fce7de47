/**
 * Returns (RMA): the state machine of one return, what may be returned, and how a return reads to
 * the customer.
 *
 * Why on the order document (`SalesOrder.returns`) and not a table of its own: the order already
 * keeps its shipments and invoices there, a return is always about one order's shipped goods, and
 * the checks that matter ("no more back than shipped, less what other returns already claim")
 * read exactly that document. So a return's change and the order's version move together, in one
 * commit with its timeline entry and events; no new migration in two backends.
 *
 * ```
 * requested ──▶ authorized ──▶ received ──▶ inspected ──▶ credited
 *     │             │              │             │
 *     ▼             ▼              ▼             ▼
 *  rejected     cancelled       rejected      rejected   (nothing accepted at inspection)
 * ```
 * `requested → rejected`: the ERP refused the authorization (or cannot do returns);
 * `requested|authorized → cancelled`: withdrawn before goods came back. A warehouse that reports
 * receipt and inspection together moves `authorized → inspected` in one step (recorded as both).
 */
import { CrossdockError } from './errors.js';
import type { SalesOrder } from './order.js';
import type { ReturnAuthorization, ReturnState } from './schemas.js';

/** The moves a return may make (see the file comment). */
const moves: Record<ReturnState, readonly ReturnState[]> = {
  requested: ['authorized', 'rejected', 'cancelled'],
  authorized: ['received', 'inspected', 'cancelled'],
  received: ['inspected', 'rejected'],
  inspected: ['credited', 'rejected'],
  credited: [],
  rejected: [],
  cancelled: [],
};

/** States a return ends in. */
export const terminalReturnStates: ReadonlySet<ReturnState> = new Set<ReturnState>([
  'credited',
  'rejected',
  'cancelled',
]);

/** Whether a return in `from` may move to `to`. */
export function canReturnTransition(from: ReturnState, to: ReturnState): boolean {
  return moves[from].includes(to);
}

/** The returns of an order (an order that never had one has none). */
export function returnsOf(order: Pick<SalesOrder, 'returns'>): ReturnAuthorization[] {
  return order.returns ?? [];
}

/** The return with this id on the order, or undefined. */
export function findReturn(
  order: Pick<SalesOrder, 'returns'>,
  returnId: string,
): ReturnAuthorization | undefined {
  return returnsOf(order).find((r) => r.id === returnId);
}

/** The order a return id belongs to (`<orderId>-R<n>`), or null when the id has no such shape. */
export function orderIdOfReturn(returnId: string): string | null {
  const m = /^(.+)-R\d{1,6}$/.exec(returnId);
  return m ? m[1]! : null;
}

/** What the customer sees for a return. */
export function returnCustomerStatus(
  r: Pick<ReturnAuthorization, 'state' | 'rmaNumber' | 'creditAmount' | 'lines'>,
): string {
  switch (r.state) {
    case 'requested':
      return 'Return requested';
    case 'authorized':
      return r.rmaNumber ? `Return authorized (RMA ${r.rmaNumber})` : 'Return authorized';
    case 'received':
      return 'Return received, being inspected';
    case 'inspected': {
      const rejected = r.lines.some((l) => (l.rejectedQuantity ?? 0) > 0);
      return rejected
        ? 'Return inspected, partly accepted; credit pending'
        : 'Return inspected; credit pending';
    }
    case 'credited':
      return r.creditAmount !== undefined
        ? `Return credited (${r.creditAmount.toFixed(2)})`
        : 'Return credited';
    case 'rejected':
      return 'Return rejected';
    case 'cancelled':
      return 'Return cancelled';
  }
}

/** Order states whose goods can come back (something left a warehouse; not cancelled or rejected). */
const returnableOrderStates: ReadonlySet<string> = new Set([
  'partially_shipped',
  'shipped',
  'delivered',
  'invoiced',
  'closed',
]);

/** Shipment statuses at which goods have left the warehouse. */
const left = new Set(['shipped', 'in_transit', 'out_for_delivery', 'delivered']);

/** Quantity shipped per SKU (shipments that left a warehouse). */
export function shippedQuantities(order: Pick<SalesOrder, 'shipments'>): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of order.shipments) {
    if (!left.has(s.status) && !s.events.some((e) => left.has(e.type))) continue;
    for (const l of s.lines) out.set(l.sku, round4((out.get(l.sku) ?? 0) + l.quantity));
  }
  return out;
}

/**
 * What may still be returned per SKU: shipped, less what open or finished returns claim (a
 * rejected or cancelled return gives its claim back; a credited one keeps what it took back).
 */
export function returnableQuantities(order: Pick<SalesOrder, 'shipments' | 'returns'>): Map<string, number> {
  const out = shippedQuantities(order);
  for (const r of returnsOf(order)) {
    if (r.state === 'rejected' || r.state === 'cancelled') continue;
    for (const l of r.lines) {
      // Once inspected, what was rejected goes back to the customer and may be asked for again.
      const claimed = l.acceptedQuantity ?? l.quantity;
      out.set(l.sku, round4((out.get(l.sku) ?? 0) - claimed));
    }
  }
  return out;
}

/** One line of a return request, as a CRM case or an API client sends it. */
export interface ReturnRequestLine {
  sku: string;
  quantity: number;
  reason: string;
}

/**
 * Checks a return request against the order, throwing what is wrong as `data_quality` (or
 * `conflict` for the order's state) with `details.field` naming the offending field and
 * `details.reason` (`not_returnable`, `unknown_sku`, `over_return`, `duplicate_sku`):
 * nothing is written for a refused request.
 */
export function checkReturnRequest(order: SalesOrder, lines: readonly ReturnRequestLine[]): void {
  if (!returnableOrderStates.has(order.state) || shippedQuantities(order).size === 0) {
    throw CrossdockError.conflict(
      `order ${order.id} is ${order.state}: nothing of it has shipped to return`,
      {
        owner: 'customer_service',
        details: { reason: 'not_returnable', field: 'orderId', orderId: order.id, state: order.state },
      },
    );
  }
  const ordered = new Set(order.lines.map((l) => l.sku));
  const left = returnableQuantities(order);
  const seen = new Set<string>();
  for (const [i, l] of lines.entries()) {
    if (seen.has(l.sku)) {
      throw CrossdockError.dataQuality(`line ${i + 1}: ${l.sku} is on the return twice`, {
        details: { reason: 'duplicate_sku', field: `lines[${i}].sku`, sku: l.sku },
      });
    }
    seen.add(l.sku);
    if (!ordered.has(l.sku)) {
      throw CrossdockError.dataQuality(`line ${i + 1}: ${l.sku} is not on order ${order.id}`, {
        details: { reason: 'unknown_sku', field: `lines[${i}].sku`, sku: l.sku },
      });
    }
    const may = Math.max(0, left.get(l.sku) ?? 0);
    if (l.quantity > may + 1e-9) {
      throw CrossdockError.dataQuality(
        `line ${i + 1}: ${l.quantity} of ${l.sku} exceeds what may be returned (${may}: shipped less other returns)`,
        { details: { reason: 'over_return', field: `lines[${i}].quantity`, sku: l.sku, returnable: may } },
      );
    }
  }
}

/**
 * The return with `state` set (and its history and customer status), or a `conflict` refusal
 * (`return_state`) when the state machine does not allow the move.
 */
export function moveReturn(
  r: ReturnAuthorization,
  state: ReturnState,
  at: string,
  patch: Partial<ReturnAuthorization> = {},
): ReturnAuthorization {
  if (!canReturnTransition(r.state, state)) {
    throw CrossdockError.conflict(`return ${r.id} is ${r.state}; it cannot become ${state}`, {
      details: { reason: 'return_state', field: 'state', returnId: r.id, state: r.state, requested: state },
    });
  }
  const next: ReturnAuthorization = {
    ...r,
    ...patch,
    state,
    history: [...r.history, { state, at }],
    updatedAt: at,
  };
  next.customerStatus = returnCustomerStatus(next);
  return next;
}

function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}
