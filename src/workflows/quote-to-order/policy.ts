/**
 * Quote-to-order policies: configuration, per customer segment.
 *
 * Why configuration: which orders a distributor holds, splits or backorders is a business
 * decision that changes by segment and season; it must not need a release.
 */
import { z } from 'zod';
import { CarrierRules, defaultCarrierRules } from '../fulfillment/carrier-booking.js';

/**
 * When overdue receivables (invoices past their due date, on the ERP's figures) put an order on
 * a `credit` hold even though the credit limit would allow it: when they exceed `maxAmount`
 * (currency units; 0 = any overdue amount) or `maxPctOfLimit` percent of the customer's credit
 * limit; `null` turns a test off. An order a credit analyst released passes regardless.
 *
 * Why the default is 50 % of the limit and not "any amount": in the demo estate (as at most
 * distributors) three customers in four owe something past due on any given day (180 of 240),
 * mostly days late; holding on any amount would hold most orders for a routine dunning matter.
 * Half the limit overdue is a customer the credit desk should look at. Key accounts are not held
 * on overdue receivables at all (`defaultPolicies`); set `maxAmount: 0` for segments that must
 * pay on time.
 */
export const OverduePolicy = z.object({
  maxAmount: z.number().nonnegative().nullable().default(null),
  maxPctOfLimit: z.number().min(0).max(1000).nullable().default(50),
});
export type OverduePolicy = z.infer<typeof OverduePolicy>;

export const SegmentPolicy = z.object({
  /** What to do with an order whose CRM account the hub does not know. */
  unknownAccount: z.enum(['link_or_create', 'link', 'hold']).default('link_or_create'),
  /** Inventory policy when no single warehouse can fill the whole order. */
  inventory: z.enum(['ship_complete', 'allow_split', 'allow_backorder', 'reject']).default('allow_backorder'),
  credit: z
    .object({
      /** Orders below this total are approved while the customer is not already over the limit. */
      autoApproveBelow: z.number().nonnegative().default(250),
      /** Credit limit given to a customer created from an unknown CRM account. */
      newAccountLimit: z.number().nonnegative().default(5000),
      overdue: OverduePolicy.default({ maxAmount: null, maxPctOfLimit: 50 }),
    })
    .default({
      autoApproveBelow: 250,
      newAccountLimit: 5000,
      overdue: { maxAmount: null, maxPctOfLimit: 50 },
    }),
  pricing: z
    .object({
      /** Tolerance (percent) for lines priced from the list price (no contract agreement). */
      listPriceTolerancePct: z.number().min(0).max(100).default(2),
    })
    .default({ listPriceTolerancePct: 2 }),
  /** Days after the last inbound ETA used as promise date when no receipt covers a backorder. */
  backorderLeadDays: z.number().int().positive().default(14),
  /**
   * An order whose customer has another open order (not rejected, cancelled or closed) with the
   * same PO number: `hold` puts it on a `duplicate_po` hold for sales; `allow` lets it through
   * (segments whose customers reuse PO numbers on purpose, e.g. blanket orders).
   */
  duplicatePo: z.enum(['hold', 'allow']).default('hold'),
});
export type SegmentPolicy = z.infer<typeof SegmentPolicy>;

export const ShippingRules = z.object({
  /** Shipping methods that may not carry hazardous materials. */
  hazmatForbiddenMethods: z.array(z.string()).default(['air']),
  /** Destinations the distributor does not ship to at all (ISO country codes): reject. */
  embargoedCountries: z.array(z.string()).default(['KP', 'IR', 'SY', 'CU']),
  /** Destinations needing a review (hazmat to islands, say): hold shipping_rule. */
  restricted: z
    .array(
      z.object({
        country: z.string(),
        regions: z.array(z.string()).default([]),
        appliesTo: z.enum(['all', 'hazmat']).default('hazmat'),
        reason: z.string(),
      }),
    )
    .default([
      {
        country: 'US',
        regions: ['HI', 'AK', 'PR'],
        appliesTo: 'hazmat',
        reason: 'hazmat to non-contiguous US needs a carrier review',
      },
    ]),
  /**
   * Carrier and service per shipping method (first match by method, minimum weight, hazard), used
   * to book a packed shipment with the TMS; see src/workflows/fulfillment/carrier-booking.ts.
   */
  carriers: CarrierRules.default(defaultCarrierRules),
});
export type ShippingRules = z.infer<typeof ShippingRules>;

export const WarehouseInfo = z.object({
  id: z.string(),
  /** Regions (states/provinces) this warehouse serves first. */
  serves: z.array(z.string()).default([]),
});

/** Hours an open hold may wait for its owner before it is escalated, per hold reason. */
export const defaultHoldAgeLimitHours = {
  credit: 24,
  pricing: 24,
  inventory: 48,
  customer_data: 24,
  tax: 48,
  shipping_rule: 24,
  duplicate_po: 8,
} as const;

const hours = (reason: keyof typeof defaultHoldAgeLimitHours) =>
  z
    .number()
    .positive()
    .max(24 * 365)
    .default(defaultHoldAgeLimitHours[reason]);

/**
 * How long a hold may stay open before `escalateAgedHolds` raises an exception for its owner
 * (and again at every further multiple of the limit). Why per reason: a credit hold blocks cash
 * and a customer waiting today; a tax certificate can take days to arrive.
 */
export const HoldAgeLimits = z.object({
  credit: hours('credit'),
  pricing: hours('pricing'),
  inventory: hours('inventory'),
  customer_data: hours('customer_data'),
  tax: hours('tax'),
  shipping_rule: hours('shipping_rule'),
  duplicate_po: hours('duplicate_po'),
});
export type HoldAgeLimits = z.infer<typeof HoldAgeLimits>;

export const QuoteToOrderPolicies = z.object({
  default: SegmentPolicy.default(SegmentPolicy.parse({})),
  segments: z.record(z.string(), SegmentPolicy.partial()).default({}),
  shipping: ShippingRules.default(ShippingRules.parse({})),
  warehouses: z.array(WarehouseInfo).default([]),
  /** How long the ERP step may take inline before the API answers 202 and finishes behind. */
  erpInlineBudgetMs: z.number().int().positive().default(1500),
  holdAgeLimitHours: HoldAgeLimits.default({ ...defaultHoldAgeLimitHours }),
});
export type QuoteToOrderPolicies = z.infer<typeof QuoteToOrderPolicies>;

/** The effective policy for a segment: the default overlaid with the segment's overrides. */
export function policyFor(policies: QuoteToOrderPolicies, segment: string | undefined): SegmentPolicy {
  const override = segment ? policies.segments[segment] : undefined;
  if (!override) return policies.default;
  return {
    ...policies.default,
    ...override,
    credit: { ...policies.default.credit, ...override.credit },
    pricing: { ...policies.default.pricing, ...override.pricing },
  };
}

/** Demo defaults: key accounts may split and backorder; new business ships complete. */
export const defaultPolicies: QuoteToOrderPolicies = QuoteToOrderPolicies.parse({
  segments: {
    key_account: {
      inventory: 'allow_backorder',
      credit: {
        autoApproveBelow: 1000,
        newAccountLimit: 5000,
        overdue: { maxAmount: null, maxPctOfLimit: null },
      },
    },
    standard: { inventory: 'allow_split' },
    new_business: { inventory: 'ship_complete', unknownAccount: 'link_or_create' },
  },
});
