/**
 * The canonical sales order as the hub owns it: business state, holds, lines with their
 * allocations, and cross-references to every system that knows it.
 */
import { z } from 'zod';
import { Hold, HoldReason, OrderState } from './order-state.js';
import {
  Address,
  ExternalIds,
  Invoice,
  OrderLine,
  ReturnAuthorization,
  Shipment,
  ShippingMethod,
  SystemName,
} from './schemas.js';

export const SalesOrder = z
  .object({
    id: z.string().min(1),
    version: z.number().int().nonnegative(),
    source: z.object({ system: SystemName, ref: z.string() }),
    quoteId: z.string().optional(),
    customerId: z.string().nullable(),
    customerName: z.string().optional(),
    segment: z.string().optional(),
    poNumber: z.string().optional(),
    currency: z.string().length(3),
    shipTo: Address,
    requestedDate: z.iso.date().optional(),
    shippingMethod: ShippingMethod,
    lines: z.array(OrderLine),
    total: z.number(),
    state: OrderState,
    customerStatus: z.string(),
    /** Milestones ever reached, even when an out-of-order event left the state alone. */
    milestones: z.array(z.string()).default([]),
    holds: z.array(Hold).default([]),
    rejection: z.object({ code: z.string(), detail: z.string() }).nullable().default(null),
    fulfillmentPlan: z
      .object({
        strategy: z.enum(['single_warehouse', 'split', 'backorder', 'none']),
        rationale: z.string(),
      })
      .nullable()
      .default(null),
    externalIds: ExternalIds.default({}),
    shipments: z.array(Shipment).default([]),
    invoices: z.array(Invoice).default([]),
    /**
     * Returns (RMAs) of this order's shipped goods, oldest first (see `returns.ts`); absent on an
     * order that never had one. Read with `returnsOf(order)`.
     */
    returns: z.array(ReturnAuthorization).optional(),
    correlationId: z.string(),
    createdAt: z.iso.datetime({ offset: true }),
    updatedAt: z.iso.datetime({ offset: true }),
  })
  .meta({ id: 'SalesOrder' });
export type SalesOrder = z.infer<typeof SalesOrder>;

/** The synchronous answer to an order submission. */
export const OrderDecision = z
  .object({
    orderId: z.string(),
    state: OrderState,
    customerStatus: z.string(),
    erpOrderNumber: z.string().nullable(),
    holds: z.array(z.object({ reason: HoldReason, owner: z.string(), detail: z.string() })),
    rejection: z.object({ code: z.string(), detail: z.string() }).nullable(),
    correlationId: z.string(),
    links: z.object({ self: z.string(), timeline: z.string() }),
  })
  .meta({ id: 'OrderDecision' });
export type OrderDecision = z.infer<typeof OrderDecision>;

/** One entry in an order's cross-system timeline. */
export const TimelineEntry = z
  .object({
    seq: z.number().int(),
    orderId: z.string(),
    at: z.iso.datetime({ offset: true }),
    kind: z.enum(['step', 'event', 'state', 'note', 'delivery']),
    name: z.string(),
    system: z.string(),
    outcome: z.string(),
    durationMs: z.number().nullable(),
    summary: z.record(z.string(), z.unknown()),
    correlationId: z.string(),
  })
  .meta({ id: 'TimelineEntry' });
export type TimelineEntry = z.infer<typeof TimelineEntry>;
