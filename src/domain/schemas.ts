/**
 * Canonical model v1: the one vocabulary every connector maps to and from.
 *
 * Why zod: one definition gives TypeScript types, runtime validation of every input, and the
 * JSON Schema / OpenAPI 3.1 documents (see `json-schema.ts`), so they can never drift apart.
 * Money is a decimal number of the order's currency rounded to 4 places; quantities are numbers
 * whose fractional part is allowed only where the unit of measure says so.
 */
import { z } from 'zod';

export const canonicalModelVersion = 'v1';

/** External system names used in cross-references (`externalIds`). */
export const systemNames = ['crm', 'erp', 'wms', 'tms', 'portal', 'edi'] as const;
export const SystemName = z.enum(systemNames);
export type SystemName = z.infer<typeof SystemName>;

/** Cross-references: the record's id in each external system. */
export const ExternalIds = z.record(z.string(), z.string().min(1)).meta({ id: 'ExternalIds' });
export type ExternalIds = z.infer<typeof ExternalIds>;

const isoDate = z.iso.date();
const isoDateTime = z.iso.datetime({ offset: true });
const money = z.number().finite().nonnegative();
const country = z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2 country code');

export const Address = z
  .object({
    id: z.string().min(1).optional(),
    kind: z.enum(['billing', 'shipping']).default('shipping'),
    name: z.string().min(1).max(200).optional(),
    line1: z.string().min(1).max(200),
    line2: z.string().max(200).optional(),
    city: z.string().min(1).max(100),
    region: z.string().max(100).optional(),
    postalCode: z.string().min(1).max(20),
    country,
  })
  .meta({ id: 'Address' });
export type Address = z.infer<typeof Address>;

export const Contact = z
  .object({
    name: z.string().min(1),
    email: z.email().optional(),
    phone: z.string().optional(),
    role: z.string().optional(),
  })
  .meta({ id: 'Contact' });
export type Contact = z.infer<typeof Contact>;

export const ExemptionCertificate = z
  .object({
    id: z.string().min(1),
    region: z.string().min(1),
    expiresOn: isoDate,
  })
  .meta({ id: 'ExemptionCertificate' });
export type ExemptionCertificate = z.infer<typeof ExemptionCertificate>;

export const Customer = z
  .object({
    id: z.string().min(1),
    accountNumber: z.string().min(1),
    name: z.string().min(1),
    status: z.enum(['active', 'inactive', 'blocked']),
    /** Policy key: which quote-to-order policy applies (see config `policies`). */
    segment: z.string().min(1),
    parentAccountId: z.string().optional(),
    contacts: z.array(Contact).default([]),
    addresses: z.array(Address).default([]),
    currency: z.string().length(3).default('USD'),
    creditLimit: money,
    paymentTerms: z.string().default('NET30'),
    taxStatus: z.enum(['taxable', 'exempt']),
    exemptionCertificates: z.array(ExemptionCertificate).default([]),
    externalIds: ExternalIds.default({}),
    updatedAt: isoDateTime,
  })
  .meta({ id: 'Customer' });
export type Customer = z.infer<typeof Customer>;

/** Units of measure; only those in `fractionalUoms` accept fractional quantities. */
export const uoms = ['EA', 'BOX', 'CASE', 'PAL', 'KG', 'LB', 'M', 'FT', 'L', 'GAL'] as const;
export const Uom = z.enum(uoms);
export type Uom = z.infer<typeof Uom>;
export const fractionalUoms: ReadonlySet<Uom> = new Set<Uom>(['KG', 'LB', 'M', 'FT', 'L', 'GAL']);

export const Product = z
  .object({
    sku: z.string().min(1).max(64),
    name: z.string().min(1),
    uom: Uom,
    weightKg: z.number().nonnegative(),
    hazmat: z.object({ unNumber: z.string(), hazardClass: z.string() }).nullable().default(null),
    shippingClass: z.enum(['parcel', 'ltl', 'oversize', 'hazmat']),
    taxClass: z.enum(['standard', 'reduced', 'exempt']),
    listPrice: money,
    active: z.boolean().default(true),
    externalIds: ExternalIds.default({}),
    updatedAt: isoDateTime,
  })
  .meta({ id: 'Product' });
export type Product = z.infer<typeof Product>;

export const PriceAgreement = z
  .object({
    id: z.string().min(1),
    customerId: z.string().min(1),
    sku: z.string().min(1),
    unitPrice: money,
    currency: z.string().length(3).default('USD'),
    validFrom: isoDate,
    validTo: isoDate,
    /** Accepted deviation of a submitted price from the agreement, in percent. */
    tolerancePct: z.number().min(0).max(100).default(0.5),
  })
  .meta({ id: 'PriceAgreement' });
export type PriceAgreement = z.infer<typeof PriceAgreement>;

export const InboundReceipt = z
  .object({ quantity: z.number().positive(), eta: isoDate })
  .meta({ id: 'InboundReceipt' });

export const InventoryPosition = z
  .object({
    sku: z.string().min(1),
    warehouseId: z.string().min(1),
    onHand: z.number(),
    allocated: z.number().nonnegative(),
    /** Soft reservations taken by accepted orders not yet allocated by the WMS. */
    reserved: z.number().nonnegative(),
    /** onHand - allocated - reserved, never below 0. */
    available: z.number().nonnegative(),
    inbound: z.array(InboundReceipt).default([]),
    asOf: isoDateTime,
  })
  .meta({ id: 'InventoryPosition' });
export type InventoryPosition = z.infer<typeof InventoryPosition>;

export const shippingMethods = ['ground', 'express', 'air', 'freight', 'pickup'] as const;
export const ShippingMethod = z.enum(shippingMethods);
export type ShippingMethod = z.infer<typeof ShippingMethod>;

export const QuoteLine = z.object({
  sku: z.string().min(1).max(64),
  quantity: z.number().positive(),
  unitPrice: money,
});

export const Quote = z
  .object({
    id: z.string().min(1),
    customerId: z.string().min(1),
    lines: z.array(QuoteLine).min(1),
    currency: z.string().length(3).default('USD'),
    validUntil: isoDate,
    externalIds: ExternalIds.default({}),
  })
  .meta({ id: 'Quote' });
export type Quote = z.infer<typeof Quote>;

/** Reference to the customer as the submitting system knows it. */
export const CustomerRef = z
  .object({
    id: z.string().min(1).optional(),
    system: SystemName.optional(),
    externalId: z.string().min(1).optional(),
    /** Used only when policy allows creating an unknown CRM account. */
    name: z.string().min(1).optional(),
  })
  .refine((c) => c.id !== undefined || (c.system !== undefined && c.externalId !== undefined), {
    message: 'give either id, or system and externalId',
  })
  .meta({ id: 'CustomerRef' });
export type CustomerRef = z.infer<typeof CustomerRef>;

export const OrderLineInput = z.object({
  sku: z.string().min(1).max(64),
  quantity: z.number().positive().max(1_000_000),
  unitPrice: money.max(10_000_000),
});

/** Body of `POST /api/v1/orders`: a CRM quote being converted into an order. */
export const OrderSubmission = z
  .object({
    /** Where the order comes from (the CRM opportunity or quote id); defaults to the CRM. */
    source: z.object({ system: SystemName, ref: z.string().min(1).max(128) }).optional(),
    quoteId: z.string().min(1).max(128).optional(),
    customer: CustomerRef,
    poNumber: z.string().min(1).max(64).optional(),
    currency: z.string().length(3).default('USD'),
    shipTo: Address,
    requestedDate: isoDate.optional(),
    shippingMethod: ShippingMethod.default('ground'),
    lines: z.array(OrderLineInput).min(1).max(500),
    notes: z.string().max(2000).optional(),
  })
  .meta({ id: 'OrderSubmission' });
export type OrderSubmission = z.infer<typeof OrderSubmission>;

export const Allocation = z.object({ warehouseId: z.string(), quantity: z.number().nonnegative() });
export type Allocation = z.infer<typeof Allocation>;

export const OrderLine = z
  .object({
    lineNo: z.number().int().positive(),
    sku: z.string(),
    quantity: z.number().positive(),
    uom: Uom,
    unitPrice: money,
    agreedPrice: money.nullable(),
    allocations: z.array(Allocation).default([]),
    backorderedQuantity: z.number().nonnegative().default(0),
    promiseDate: isoDate.nullable().default(null),
    /**
     * Quantity cancelled: the whole line when the order was cancelled, or the part that had not
     * shipped when the remainder of a partly shipped order was. What is left to ship is
     * `quantity - cancelledQuantity`. Absent while nothing of the line was cancelled.
     */
    cancelledQuantity: z.number().nonnegative().optional(),
  })
  .meta({ id: 'OrderLine' });
export type OrderLine = z.infer<typeof OrderLine>;

export const ShipmentEventType = z.enum([
  'allocated',
  'backordered',
  'released',
  'picked',
  'packed',
  /** A carrier took the booking (carrier, service and tracking number known); before `shipped`. */
  'booked',
  'shipped',
  'in_transit',
  /** On the carrier's delivery vehicle today; after `in_transit`, before `delivered`. */
  'out_for_delivery',
  'delivered',
  'exception',
]);
export type ShipmentEventType = z.infer<typeof ShipmentEventType>;

export const ShipmentEvent = z
  .object({
    id: z.string().min(1),
    shipmentId: z.string().min(1),
    type: ShipmentEventType,
    at: isoDateTime,
    location: z.string().optional(),
    detail: z.string().optional(),
    /**
     * `exception`: why, as a short code (`return_to_sender`, `failure`, `available_for_pickup`,
     * a carrier's own status detail); `detail` keeps the carrier's words.
     */
    reason: z.string().optional(),
    source: SystemName,
  })
  .meta({ id: 'ShipmentEvent' });
export type ShipmentEvent = z.infer<typeof ShipmentEvent>;

export const Shipment = z
  .object({
    id: z.string().min(1),
    orderId: z.string().min(1),
    warehouseId: z.string().min(1),
    carrier: z.string().optional(),
    trackingNumber: z.string().optional(),
    lines: z.array(z.object({ sku: z.string(), quantity: z.number().positive() })),
    status: ShipmentEventType.or(z.literal('planned')),
    events: z.array(ShipmentEvent).default([]),
    externalIds: ExternalIds.default({}),
  })
  .meta({ id: 'Shipment' });
export type Shipment = z.infer<typeof Shipment>;

export const InvoiceLine = z
  .object({ sku: z.string(), quantity: z.number(), unitPrice: z.number(), amount: z.number() })
  .meta({ id: 'InvoiceLine' });
export type InvoiceLine = z.infer<typeof InvoiceLine>;

export const Invoice = z
  .object({
    id: z.string().min(1),
    orderId: z.string().min(1),
    number: z.string().min(1),
    kind: z.enum(['invoice', 'credit_memo']).default('invoice'),
    /** Positive for both kinds: a credit memo's amount is what it takes off the receivables. */
    amount: z.number().finite(),
    currency: z.string().length(3),
    issuedAt: isoDateTime,
    dueOn: isoDate.optional(),
    /** The payment terms the due date comes from (`NET30`, …), when the ERP says. */
    paymentTerms: z.string().optional(),
    status: z.enum(['draft', 'open', 'paid', 'credited']),
    /** Per SKU, as the ERP billed (or credited) it; absent when the ERP did not say. */
    lines: z.array(InvoiceLine).optional(),
    /** A credit memo: the hub's id of the invoice it credits, and of the return it is for. */
    creditsInvoiceId: z.string().optional(),
    returnId: z.string().optional(),
    externalIds: ExternalIds.default({}),
  })
  .meta({ id: 'Invoice' });
export type Invoice = z.infer<typeof Invoice>;

/**
 * A return (RMA) of shipped goods, kept on its order's document (like shipments and invoices):
 * one optimistic version and one transaction for the order and its returns. States and their
 * moves are in `returns.ts`.
 */
export const returnStates = [
  'requested',
  'authorized',
  'received',
  'inspected',
  'credited',
  'rejected',
  'cancelled',
] as const;
export const ReturnState = z.enum(returnStates);
export type ReturnState = z.infer<typeof ReturnState>;

export const ReturnLine = z
  .object({
    sku: z.string(),
    quantity: z.number().positive(),
    /** Why the customer returns it, as a code (`damaged`, `wrong_item`, …). */
    reason: z.string(),
    /** What the warehouse received and how inspection judged it; absent until then. */
    receivedQuantity: z.number().nonnegative().optional(),
    acceptedQuantity: z.number().nonnegative().optional(),
    rejectedQuantity: z.number().nonnegative().optional(),
    /** Inspection's reason for a rejected quantity (`used`, `not_ours`, …). */
    rejectionReason: z.string().optional(),
  })
  .meta({ id: 'ReturnLine' });
export type ReturnLine = z.infer<typeof ReturnLine>;

export const ReturnAuthorization = z
  .object({
    /** `<orderId>-R<n>`: the order it belongs to can be read from it. */
    id: z.string().min(1),
    orderId: z.string().min(1),
    state: ReturnState,
    /** What the customer sees ("Return authorized: send the goods back with RMA …"). */
    customerStatus: z.string(),
    /** Who asked: `crm` (a case) or `api` (a client), and the CRM case id when there is one. */
    source: z.object({ system: z.string(), caseId: z.string().optional(), by: z.string() }),
    lines: z.array(ReturnLine).min(1),
    /** The ERP's RMA number, once authorized. */
    rmaNumber: z.string().optional(),
    /** The hub id (`erp:<id>`) of the credit memo, once credited, and its amount. */
    creditMemoId: z.string().optional(),
    creditAmount: z.number().optional(),
    /** Why it was rejected or cancelled (`erp_refused`, `inspection`, …). */
    rejection: z.object({ code: z.string(), detail: z.string() }).optional(),
    note: z.string().optional(),
    /** Every state it went through, with when (the order timeline has the detail). */
    history: z.array(z.object({ state: ReturnState, at: isoDateTime })).default([]),
    externalIds: ExternalIds.default({}),
    createdAt: isoDateTime,
    updatedAt: isoDateTime,
  })
  .meta({ id: 'ReturnAuthorization' });
export type ReturnAuthorization = z.infer<typeof ReturnAuthorization>;
