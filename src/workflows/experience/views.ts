/**
 * Experience views of an order: what the CRM's account view and the customer portal read.
 *
 * Two projections of one `SalesOrder` document:
 * - {@link accountOrderView} (CRM, `orders:read`): state, customer-facing status, next milestone,
 *   open holds with owner, reason, detail and age, shipments with carrier and tracking, invoices
 *   and returns as the order holds them, cross-references.
 * - {@link portalOrderView} (customer portal, `portal:read`): only what the customer may see.
 *   Built field by field from an allow-list, never by deleting fields from the document, so a
 *   field added to the order later stays out of the portal until someone adds it here: no hold
 *   reason, owner or detail, no rejection reason, no notes, no credit figures, no internal ids
 *   (hub correlation ids, ERP internal ids, warehouse ids, allocations, agreed prices); the only
 *   external reference is the ERP order number the customer receives on its confirmation.
 *
 * Invoices and returns are read from the order document (`invoices`, and `returns` when the
 * returns feature stores them there); fields the portal allow-list does not name are dropped.
 */
import { z } from 'zod';
import type { SalesOrder, Shipment } from '../../domain/index.js';
import { countedShipments, hasShipped, isDelivered } from '../fulfillment/shipment-progress.js';
import { type NextMilestone, nextMilestone, nextMilestoneCodes } from './next-milestone.js';

const isoDateTime = z.iso.datetime({ offset: true });
const isoDate = z.iso.date();

// --- schemas (published in OpenAPI) --------------------------------------------------------

export const NextMilestoneView = z
  .object({
    code: z.enum(nextMilestoneCodes),
    label: z.string(),
    waitingOn: z.string(),
    expectedOn: isoDate.nullable(),
  })
  .meta({ id: 'NextMilestone' });

export const AccountHoldView = z
  .object({
    reason: z.string(),
    owner: z.string(),
    detail: z.string(),
    openedAt: isoDateTime,
    /** Whole hours since the hold opened, at the time of the request. */
    ageHours: z.number().int().nonnegative(),
  })
  .meta({ id: 'AccountHoldView' });

/** A shipment as the customer sees it: no internal id (a WMS or ERP delivery id), no warehouse. */
export const ShipmentView = z
  .object({
    carrier: z.string().nullable(),
    trackingNumber: z.string().nullable(),
    status: z.string(),
    shippedAt: isoDateTime.nullable(),
    deliveredAt: isoDateTime.nullable(),
    lines: z.array(z.object({ sku: z.string(), quantity: z.number() })),
  })
  .meta({ id: 'ShipmentView' });

export const AccountShipmentView = ShipmentView.extend({ id: z.string(), warehouseId: z.string() }).meta({
  id: 'AccountShipmentView',
});

/** An invoice or credit memo as the CRM sees it: the order's record, every field it has. */
const AnyRecord = z.record(z.string(), z.unknown());

export const AccountOrderView = z
  .object({
    id: z.string(),
    orderNumber: z.string().nullable(),
    poNumber: z.string().nullable(),
    state: z.string(),
    customerStatus: z.string(),
    nextMilestone: NextMilestoneView.nullable(),
    total: z.number(),
    currency: z.string(),
    createdAt: isoDateTime,
    updatedAt: isoDateTime,
    requestedDate: isoDate.nullable(),
    holds: z.array(AccountHoldView),
    shipments: z.array(AccountShipmentView),
    invoices: z.array(AnyRecord),
    returns: z.array(AnyRecord),
    externalIds: z.record(z.string(), z.string()),
    links: z.object({ order: z.string(), timeline: z.string() }),
  })
  .meta({ id: 'AccountOrderView' });
export type AccountOrderView = z.infer<typeof AccountOrderView>;

export const PortalLineView = z
  .object({
    lineNo: z.number().int(),
    sku: z.string(),
    quantity: z.number(),
    uom: z.string(),
    unitPrice: z.number(),
    backorderedQuantity: z.number(),
    cancelledQuantity: z.number(),
    promiseDate: isoDate.nullable(),
  })
  .meta({ id: 'PortalLineView' });

export const PortalInvoiceView = z
  .object({
    number: z.string(),
    kind: z.string(),
    amount: z.number(),
    currency: z.string(),
    issuedAt: z.string(),
    dueOn: z.string().nullable(),
    paymentTerms: z.string().nullable(),
    status: z.string(),
    /** A credit memo for a return: the return's id. */
    returnId: z.string().nullable(),
    lines: z
      .array(
        z.object({
          sku: z.string(),
          quantity: z.number(),
          unitPrice: z.number().nullable(),
          amount: z.number().nullable(),
        }),
      )
      .optional(),
  })
  .meta({ id: 'PortalInvoiceView' });
export type PortalInvoiceView = z.infer<typeof PortalInvoiceView>;

export const PortalReturnView = z
  .object({
    id: z.string(),
    /** The ERP's RMA number the customer writes on the parcel, once authorized. */
    rmaNumber: z.string().nullable(),
    /** The return's customer-facing status (else its state). */
    status: z.string(),
    createdAt: z.string().nullable(),
    updatedAt: z.string().nullable(),
    lines: z.array(
      z.object({
        sku: z.string(),
        quantity: z.number(),
        reason: z.string().nullable(),
        acceptedQuantity: z.number().nullable(),
        rejectedQuantity: z.number().nullable(),
      }),
    ),
  })
  .meta({ id: 'PortalReturnView' });
export type PortalReturnView = z.infer<typeof PortalReturnView>;

export const PortalOrderView = z
  .object({
    id: z.string(),
    orderNumber: z.string().nullable(),
    poNumber: z.string().nullable(),
    status: z.string(),
    orderedAt: isoDateTime,
    updatedAt: isoDateTime,
    requestedDate: isoDate.nullable(),
    shippingMethod: z.string(),
    currency: z.string(),
    total: z.number(),
    shipTo: z.object({
      name: z.string().nullable(),
      line1: z.string(),
      line2: z.string().nullable(),
      city: z.string(),
      region: z.string().nullable(),
      postalCode: z.string(),
      country: z.string(),
    }),
    lines: z.array(PortalLineView),
    shipments: z.array(ShipmentView),
    invoices: z.array(PortalInvoiceView),
    returns: z.array(PortalReturnView),
  })
  .meta({ id: 'PortalOrderView' });
export type PortalOrderView = z.infer<typeof PortalOrderView>;

/** An invoice or credit memo in the customer's list of them, with the order it belongs to. */
export const PortalInvoiceListItem = PortalInvoiceView.extend({
  orderId: z.string(),
  orderNumber: z.string().nullable(),
}).meta({ id: 'PortalInvoiceListItem' });
export type PortalInvoiceListItem = z.infer<typeof PortalInvoiceListItem>;

/** A return in the customer's list of them, with the order it belongs to. */
export const PortalReturnListItem = PortalReturnView.extend({
  orderId: z.string(),
  orderNumber: z.string().nullable(),
}).meta({ id: 'PortalReturnListItem' });
export type PortalReturnListItem = z.infer<typeof PortalReturnListItem>;

/** What a portal list shows per order; the full view is one request away. */
export const PortalOrderSummary = z
  .object({
    id: z.string(),
    orderNumber: z.string().nullable(),
    poNumber: z.string().nullable(),
    status: z.string(),
    orderedAt: isoDateTime,
    updatedAt: isoDateTime,
    currency: z.string(),
    total: z.number(),
    shipments: z.array(ShipmentView),
  })
  .meta({ id: 'PortalOrderSummary' });
export type PortalOrderSummary = z.infer<typeof PortalOrderSummary>;

// --- helpers ---------------------------------------------------------------------------------

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const numOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The ERP order number the customer gets on the confirmation (`externalIds.erp`), else null. */
export function orderNumberOf(order: Pick<SalesOrder, 'externalIds'>): string | null {
  return str(order.externalIds['erp']);
}

/** The order's returns, as the returns feature keeps them on the order document (`returns`); [] when none. */
export function rawReturnsOf(order: SalesOrder): Record<string, unknown>[] {
  const returns = (order as SalesOrder & { returns?: unknown }).returns;
  return Array.isArray(returns) ? returns.filter(isRecord) : [];
}

/** The order's invoices and credit memos as stored (every field they carry). */
export function invoicesOf(order: SalesOrder): Record<string, unknown>[] {
  return (order.invoices as unknown[]).filter(isRecord);
}

function firstEventAt(shipment: Shipment, types: readonly string[]): string | null {
  const at = shipment.events
    .filter((e) => types.includes(e.type))
    .map((e) => e.at)
    .sort();
  return at[0] ?? null;
}

/** The shipments a customer has: the counted ones (warehouse and carrier, else the ERP's), customer fields only. */
function shipmentViews(order: SalesOrder): z.infer<typeof ShipmentView>[] {
  return countedShipments(order.shipments).map((s) => ({
    carrier: str(s.carrier),
    trackingNumber: str(s.trackingNumber),
    status: s.status,
    shippedAt: hasShipped(s)
      ? firstEventAt(s, ['shipped', 'in_transit', 'out_for_delivery', 'delivered'])
      : null,
    deliveredAt: isDelivered(s) ? firstEventAt(s, ['delivered']) : null,
    lines: s.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
  }));
}

const hourMs = 3_600_000;

// --- projections ------------------------------------------------------------------------------

/** The CRM's view of one order (see the file comment); `now` ages the open holds. */
export function accountOrderView(order: SalesOrder, now: Date): AccountOrderView {
  const next: NextMilestone | null = nextMilestone(order);
  const counted = countedShipments(order.shipments);
  const shipments = shipmentViews(order);
  return {
    id: order.id,
    orderNumber: orderNumberOf(order),
    poNumber: order.poNumber ?? null,
    state: order.state,
    customerStatus: order.customerStatus,
    nextMilestone: next,
    total: order.total,
    currency: order.currency,
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
    requestedDate: order.requestedDate ?? null,
    holds: order.holds
      .filter((h) => h.resolvedAt === null)
      .map((h) => ({
        reason: h.reason,
        owner: h.owner,
        detail: h.detail,
        openedAt: h.openedAt,
        ageHours: Math.max(0, Math.floor((now.getTime() - Date.parse(h.openedAt)) / hourMs)),
      })),
    shipments: shipments.map((s, i) => ({ id: counted[i]!.id, warehouseId: counted[i]!.warehouseId, ...s })),
    invoices: invoicesOf(order),
    returns: rawReturnsOf(order),
    externalIds: { ...order.externalIds },
    links: { order: `/api/v1/orders/${order.id}`, timeline: `/api/v1/orders/${order.id}/timeline` },
  };
}

function portalInvoice(raw: Record<string, unknown>): PortalInvoiceView | null {
  const number = str(raw['number']);
  const amount = numOrNull(raw['amount']);
  const currency = str(raw['currency']);
  const issuedAt = str(raw['issuedAt']);
  const status = str(raw['status']);
  if (number === null || amount === null || currency === null || issuedAt === null || status === null)
    return null;
  const view: PortalInvoiceView = {
    number,
    kind: str(raw['kind']) ?? 'invoice',
    amount,
    currency,
    issuedAt,
    dueOn: str(raw['dueOn']),
    paymentTerms: str(raw['paymentTerms']),
    status,
    returnId: str(raw['returnId']),
  };
  if (Array.isArray(raw['lines'])) {
    view.lines = raw['lines'].filter(isRecord).flatMap((l) => {
      const sku = str(l['sku']);
      const quantity = numOrNull(l['quantity']);
      return sku === null || quantity === null
        ? []
        : [{ sku, quantity, unitPrice: numOrNull(l['unitPrice']), amount: numOrNull(l['amount']) }];
    });
  }
  return view;
}

function portalReturn(raw: Record<string, unknown>): PortalReturnView | null {
  const id = str(raw['id']);
  const status = str(raw['customerStatus']) ?? str(raw['state']) ?? str(raw['status']);
  if (id === null || status === null) return null;
  const lines = Array.isArray(raw['lines']) ? raw['lines'].filter(isRecord) : [];
  return {
    id,
    rmaNumber: str(raw['rmaNumber']),
    status,
    createdAt: str(raw['createdAt']),
    updatedAt: str(raw['updatedAt']),
    lines: lines.flatMap((l) => {
      const sku = str(l['sku']);
      const quantity = numOrNull(l['quantity']);
      return sku === null || quantity === null
        ? []
        : [
            {
              sku,
              quantity,
              reason: str(l['reason']),
              acceptedQuantity: numOrNull(l['acceptedQuantity']),
              rejectedQuantity: numOrNull(l['rejectedQuantity']),
            },
          ];
    }),
  };
}

/** The portal's invoices and credit memos of an order (customer fields only; drafts left out). */
export function portalInvoicesOf(order: SalesOrder): PortalInvoiceView[] {
  return invoicesOf(order)
    .map(portalInvoice)
    .filter((i): i is PortalInvoiceView => i !== null && i.status !== 'draft');
}

/** The portal's returns of an order (customer fields only). */
export function portalReturnsOf(order: SalesOrder): PortalReturnView[] {
  return rawReturnsOf(order)
    .map(portalReturn)
    .filter((r): r is PortalReturnView => r !== null);
}

/** The portal's shipments of an order: carrier, tracking number, status and dates. */
export function portalShipmentsOf(order: SalesOrder): z.infer<typeof ShipmentView>[] {
  return shipmentViews(order);
}

/** The customer's view of one order (see the file comment). */
export function portalOrderView(order: SalesOrder): PortalOrderView {
  const a = order.shipTo;
  return {
    id: order.id,
    orderNumber: orderNumberOf(order),
    poNumber: order.poNumber ?? null,
    status: order.customerStatus,
    orderedAt: order.createdAt,
    updatedAt: order.updatedAt,
    requestedDate: order.requestedDate ?? null,
    shippingMethod: order.shippingMethod,
    currency: order.currency,
    total: order.total,
    shipTo: {
      name: a.name ?? null,
      line1: a.line1,
      line2: a.line2 ?? null,
      city: a.city,
      region: a.region ?? null,
      postalCode: a.postalCode,
      country: a.country,
    },
    lines: order.lines.map((l) => ({
      lineNo: l.lineNo,
      sku: l.sku,
      quantity: l.quantity,
      uom: l.uom,
      unitPrice: l.unitPrice,
      backorderedQuantity: l.backorderedQuantity,
      cancelledQuantity: l.cancelledQuantity ?? 0,
      promiseDate: l.promiseDate,
    })),
    shipments: shipmentViews(order),
    invoices: portalInvoicesOf(order),
    returns: portalReturnsOf(order),
  };
}

/** One order in a portal list. */
export function portalOrderSummary(order: SalesOrder): PortalOrderSummary {
  return {
    id: order.id,
    orderNumber: orderNumberOf(order),
    poNumber: order.poNumber ?? null,
    status: order.customerStatus,
    orderedAt: order.createdAt,
    updatedAt: order.updatedAt,
    currency: order.currency,
    total: order.total,
    shipments: shipmentViews(order),
  };
}
