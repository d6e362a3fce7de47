/**
 * The one order state machine shared by every flow.
 *
 * Why a rank: events from WMS, TMS, ERP and CRM arrive late, twice and out of order. Giving each
 * state a position on the order's life line makes the rule simple and checkable: an event may
 * only move an order forward (to a higher rank), or into a terminal state that its current
 * state permits. Everything else is still recorded in the timeline, but leaves the state alone.
 */
import { z } from 'zod';
import type { Owner } from './errors.js';

export const orderStates = [
  'received',
  'validating',
  'on_hold',
  'rejected',
  'accepted',
  'backordered',
  'partially_allocated',
  'allocated',
  'released',
  'picked',
  'packed',
  'partially_shipped',
  'shipped',
  'delivered',
  'invoiced',
  'closed',
  'cancelled',
] as const;
export const OrderState = z.enum(orderStates);
export type OrderState = z.infer<typeof OrderState>;

/** Position on the life line; terminal states have no rank of their own. */
const rank: Record<OrderState, number> = {
  received: 0,
  validating: 1,
  on_hold: 2,
  accepted: 3,
  backordered: 4,
  partially_allocated: 5,
  allocated: 6,
  released: 7,
  picked: 8,
  packed: 9,
  partially_shipped: 10,
  shipped: 11,
  delivered: 12,
  invoiced: 13,
  closed: 14,
  rejected: 100,
  cancelled: 100,
};

export const terminalStates: ReadonlySet<OrderState> = new Set<OrderState>([
  'rejected',
  'cancelled',
  'closed',
]);

/** States from which an order can still be cancelled (nothing has left a warehouse yet). */
const cancellable = (s: OrderState): boolean => rank[s] < rank.partially_shipped;
/** States from which an order can be rejected (no decision to accept has been committed). */
const rejectable = (s: OrderState): boolean => s === 'received' || s === 'validating' || s === 'on_hold';

export function stateRank(state: OrderState): number {
  return rank[state];
}

/**
 * Whether `to` may follow `from`. Forward moves along the life line are allowed (skipping is
 * fine: a WMS may report `picked` without `released`); backwards moves never are.
 */
export function canTransition(from: OrderState, to: OrderState): boolean {
  if (from === to) return false;
  if (terminalStates.has(from)) return false;
  if (to === 'rejected') return rejectable(from);
  if (to === 'cancelled') return cancellable(from);
  // Re-validation after a hold is released goes through `validating` again.
  if (from === 'on_hold' && to === 'validating') return true;
  return rank[to] > rank[from];
}

export interface TransitionResult {
  state: OrderState;
  /** False when the event was a duplicate, late or out of order: timeline only. */
  applied: boolean;
}

/** Apply a requested state to the current one under the monotonic rule. */
export function transition(current: OrderState, requested: OrderState): TransitionResult {
  return canTransition(current, requested)
    ? { state: requested, applied: true }
    : { state: current, applied: false };
}

/** Typed hold reasons, each owned by one team. */
export const holdReasons = [
  'credit',
  'pricing',
  'inventory',
  'customer_data',
  'tax',
  'shipping_rule',
  /** The customer has an open order with the same PO number: sales decides whether it is a repeat. */
  'duplicate_po',
] as const;
export const HoldReason = z.enum(holdReasons);
export type HoldReason = z.infer<typeof HoldReason>;

export const holdOwners: Record<HoldReason, Owner> = {
  credit: 'credit',
  pricing: 'pricing',
  inventory: 'inventory',
  customer_data: 'master_data',
  tax: 'tax',
  shipping_rule: 'logistics',
  duplicate_po: 'sales',
};

export const Hold = z
  .object({
    reason: HoldReason,
    owner: z.string(),
    detail: z.string(),
    data: z.record(z.string(), z.unknown()).default({}),
    openedAt: z.iso.datetime({ offset: true }),
    resolvedAt: z.iso.datetime({ offset: true }).nullable().default(null),
    /**
     * How a resolved hold was worked: released (approved: the order is decided again), rejected
     * (the order with it), or closed because the order was cancelled or rejected over another
     * hold; who did it (the API key's name and id) and why. Absent on holds resolved otherwise.
     */
    resolution: z
      .object({
        action: z.enum(['released', 'rejected', 'cancelled', 'closed']),
        by: z.string(),
        keyId: z.string().optional(),
        note: z.string(),
      })
      .optional(),
  })
  .meta({ id: 'Hold' });
export type Hold = z.infer<typeof Hold>;

/** What a customer (portal, notification, CRM status field) sees. */
export const customerStatuses = [
  'Processing',
  'On hold',
  'Confirmed',
  'Backordered',
  'Preparing',
  'Shipped',
  'Delivered',
  'Cancelled',
] as const;
export type CustomerStatus = (typeof customerStatuses)[number];

/**
 * Derive the customer-facing status. `delivered` tells whether delivery was ever reported,
 * because an invoice may be issued at shipment, before the delivery scan arrives.
 */
export function customerStatus(state: OrderState, delivered = false): CustomerStatus {
  switch (state) {
    case 'received':
    case 'validating':
      return 'Processing';
    case 'on_hold':
      return 'On hold';
    case 'accepted':
    case 'partially_allocated':
    case 'allocated':
      return 'Confirmed';
    case 'backordered':
      return 'Backordered';
    case 'released':
    case 'picked':
    case 'packed':
      return 'Preparing';
    case 'partially_shipped':
    case 'shipped':
      return 'Shipped';
    case 'delivered':
      return 'Delivered';
    case 'invoiced':
    case 'closed':
      return delivered ? 'Delivered' : 'Shipped';
    case 'rejected':
    case 'cancelled':
      return 'Cancelled';
  }
}

/** How many of an order's shipments have shipped and been delivered (see `customerStatusOf`). */
export interface ShipmentCounts {
  /** Shipments the order will have: those known, plus one for quantity on none of them yet. */
  total: number;
  shipped: number;
  delivered: number;
  /**
   * Part of the order waits for stock (a line's `backorderedQuantity`), promised by this date
   * (the latest of its lines; null while not promised yet).
   */
  backorder?: { promiseDate: string | null } | null;
}

/** States in which nothing has left a warehouse yet and the order is going ahead. */
const preShipment: ReadonlySet<OrderState> = new Set<OrderState>([
  'accepted',
  'partially_allocated',
  'allocated',
  'released',
  'picked',
  'packed',
]);

/**
 * The customer-facing status of an order whose shipments are counted: a split or partly shipped
 * order says how far it is ("Partially shipped (1 of 2)", "Partially delivered (1 of 2)"), so a
 * customer never reads "Shipped" while half the order is still in the warehouse; an order waiting
 * for stock says when it is expected ("Backordered (expected 2026-12-20)", "Partially backordered
 * (rest expected 2026-12-20)"). Orders with one shipment and no backorder read as
 * {@link customerStatus}.
 */
export function customerStatusOf(state: OrderState, counts: ShipmentCounts): string {
  const total = Math.max(counts.total, counts.shipped, 1);
  const allDelivered = counts.delivered >= total;
  const promise = counts.backorder?.promiseDate;
  if (counts.backorder && state === 'backordered')
    return promise ? `Backordered (expected ${promise})` : 'Backordered';
  if (counts.backorder && preShipment.has(state)) {
    return promise ? `Partially backordered (rest expected ${promise})` : 'Partially backordered';
  }
  if (state === 'partially_shipped') return `Partially shipped (${counts.shipped} of ${total})`;
  if (
    (state === 'shipped' || state === 'invoiced' || state === 'closed') &&
    counts.delivered > 0 &&
    !allDelivered
  ) {
    return `Partially delivered (${counts.delivered} of ${total})`;
  }
  return customerStatus(state, allDelivered);
}
