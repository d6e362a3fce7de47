/**
 * The next milestone an order waits for: what a sales rep reads in the CRM's account view
 * ("awaiting credit release", "in transit") beside the state and the customer-facing status.
 *
 * Why derived, not stored: it is a function of the order document alone (state, open holds,
 * lines, shipments, invoices), so it can never disagree with them, and it needs no migration when
 * the rules change. Pure: no clock, no I/O.
 */
import type { HoldReason, OrderState, SalesOrder } from '../../domain/index.js';
import { countedShipments, hasShipped, isDelivered } from '../fulfillment/shipment-progress.js';

/** Codes of {@link NextMilestone}; stable (clients branch on them), labels may change. */
export const nextMilestoneCodes = [
  'awaiting_decision',
  'awaiting_credit_release',
  'awaiting_pricing_approval',
  'awaiting_inventory_release',
  'awaiting_customer_data',
  'awaiting_tax_review',
  'awaiting_shipping_review',
  'awaiting_duplicate_po_review',
  'awaiting_stock',
  'awaiting_allocation',
  'awaiting_shipment',
  'in_transit',
  'awaiting_invoice',
  'awaiting_payment',
] as const;
export type NextMilestoneCode = (typeof nextMilestoneCodes)[number];

/** What the order waits for next; `null` for an order that waits for nothing (closed, cancelled, rejected, paid). */
export interface NextMilestone {
  code: NextMilestoneCode;
  label: string;
  /**
   * The team (hold owner) or system expected to act: `credit`, `pricing`, … for holds; `hub`,
   * `wms`, `carrier`, `erp`, `customer` otherwise.
   */
  waitingOn: string;
  /** A promised date when one is known (the backordered stock's promise date), else null. */
  expectedOn: string | null;
}

const holdMilestones: Record<HoldReason, { code: NextMilestoneCode; label: string }> = {
  credit: { code: 'awaiting_credit_release', label: 'Awaiting credit release' },
  pricing: { code: 'awaiting_pricing_approval', label: 'Awaiting pricing approval' },
  inventory: { code: 'awaiting_inventory_release', label: 'Awaiting inventory release' },
  customer_data: { code: 'awaiting_customer_data', label: 'Awaiting customer data correction' },
  tax: { code: 'awaiting_tax_review', label: 'Awaiting tax review' },
  shipping_rule: { code: 'awaiting_shipping_review', label: 'Awaiting shipping review' },
  duplicate_po: { code: 'awaiting_duplicate_po_review', label: 'Awaiting duplicate PO review' },
};

const preAllocation: ReadonlySet<OrderState> = new Set<OrderState>(['accepted', 'partially_allocated']);
const preShipment: ReadonlySet<OrderState> = new Set<OrderState>([
  'allocated',
  'released',
  'picked',
  'packed',
]);

/** The latest promise date of the order's backordered lines, or null (none, or one not promised yet). */
function backorderPromise(order: Pick<SalesOrder, 'lines'>): { waiting: boolean; promise: string | null } {
  const waiting = order.lines.filter((l) => l.backorderedQuantity > 0);
  if (waiting.length === 0) return { waiting: false, promise: null };
  const dates = waiting.map((l) => l.promiseDate);
  if (dates.some((d) => d === null)) return { waiting: true, promise: null };
  return { waiting: true, promise: (dates as string[]).sort().at(-1)! };
}

const milestone = (
  code: NextMilestoneCode,
  label: string,
  waitingOn: string,
  expectedOn: string | null = null,
): NextMilestone => ({ code, label, waitingOn, expectedOn });

/**
 * The order's next milestone:
 * - `received`/`validating`: the decision (`awaiting_decision`, the hub and the ERP);
 * - `on_hold`: the release of its oldest open hold, by that hold's owner;
 * - `backordered`: the stock (`awaiting_stock`, with the promise date);
 * - `accepted`/`partially_allocated`: allocation by the WMS (or the stock, when a line is backordered);
 * - `allocated` … `packed`, `partially_shipped`: shipment (the rest, for a partial shipment);
 * - `shipped` (and `invoiced` before every shipment is delivered): delivery (`in_transit`);
 * - `delivered` without an invoice: the invoice; `invoiced`/`delivered` with an open invoice: payment;
 * - `closed`, `rejected`, `cancelled`, or everything invoiced and paid: `null`.
 */
export function nextMilestone(
  order: Pick<SalesOrder, 'state' | 'holds' | 'lines' | 'shipments' | 'invoices'>,
): NextMilestone | null {
  const { state } = order;
  switch (state) {
    case 'received':
    case 'validating':
      return milestone('awaiting_decision', 'Awaiting order decision', 'hub');
    case 'on_hold': {
      const open = order.holds
        .filter((h) => h.resolvedAt === null)
        .sort((a, b) => a.openedAt.localeCompare(b.openedAt));
      const first = open[0];
      if (first === undefined) return milestone('awaiting_decision', 'Awaiting order decision', 'hub');
      const m = holdMilestones[first.reason];
      return milestone(m.code, m.label, first.owner);
    }
    case 'rejected':
    case 'cancelled':
    case 'closed':
      return null;
    default:
      break;
  }
  const backorder = backorderPromise(order);
  if (state === 'backordered' || (backorder.waiting && preAllocation.has(state))) {
    return milestone('awaiting_stock', 'Awaiting stock', 'wms', backorder.promise);
  }
  if (preAllocation.has(state)) return milestone('awaiting_allocation', 'Awaiting allocation', 'wms');
  if (preShipment.has(state)) {
    return milestone(
      'awaiting_shipment',
      'Awaiting shipment',
      'wms',
      backorder.waiting ? backorder.promise : null,
    );
  }
  if (state === 'partially_shipped') {
    return milestone('awaiting_shipment', 'Awaiting shipment of the rest', 'wms', backorder.promise);
  }
  // shipped, delivered, invoiced: the goods have left.
  const left = countedShipments(order.shipments).filter(hasShipped);
  const inTransit = left.some((s) => !isDelivered(s));
  if ((state === 'shipped' || state === 'invoiced') && inTransit) {
    return milestone('in_transit', 'In transit', 'carrier');
  }
  const invoices = order.invoices.filter((i) => i.kind === 'invoice');
  if (invoices.length === 0) {
    return state === 'invoiced' ? null : milestone('awaiting_invoice', 'Awaiting invoice', 'erp');
  }
  if (invoices.some((i) => i.status === 'open' || i.status === 'draft')) {
    return milestone('awaiting_payment', 'Awaiting payment', 'customer');
  }
  return null;
}
