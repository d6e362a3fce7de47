/**
 * One vocabulary for what the ERP, the WMS and the TMS report about an order's fulfillment, and
 * the mapping of each report to the order state it asks for.
 *
 * Why normalise first: the three feeds differ in shape (an ERP change names a record and its new
 * state; a WMS or TMS milestone names an event), but the rule that applies them is one: ask the
 * state machine for the mapped state, record the report in the timeline either way, publish
 * what is new. Keeping the mapping in pure functions makes the table below testable and
 * readable in one sitting.
 *
 * | Source | Report | Requested state | Outbox |
 * | --- | --- | --- | --- |
 * | ERP | shipment waiting | — (shipment planned) | — |
 * | ERP | shipment assigned / picked / packed / done | allocated / picked / packed / shipped | milestone |
 * | ERP | shipment cancelled | — | — |
 * | ERP | invoice posted | invoiced | invoice.issued |
 * | ERP | invoice paid | — | — |
 * | WMS | released / picked / packed / shipped | same name | milestone |
 * | WMS | allocated | allocated, partially_allocated (short lines), none (nothing allocated) | milestone |
 * | WMS | backordered | backordered | milestone |
 * | TMS | in_transit / out_for_delivery | shipped (see below) | milestone |
 * | TMS | exception | — (timeline only) | milestone |
 * | TMS | delivered | delivered (see below) | milestone |
 * | hub | booked (carrier booking) | — | milestone |
 *
 * `shipped` and `delivered` are refined per order by `planReport` from its shipments
 * (`fulfillmentProgress`): a shipment leaving while another part of the order has not asks for
 * `partially_shipped`; a delivery asks for `delivered` only when every shipment was delivered.
 * A carrier scan in transit means the goods left, so it asks for shipped as well (it moves the
 * order only when the warehouse's `shipped` was missed or is late).
 */
import type { OrderState, ShipmentEventType } from '../../domain/index.js';
import type { ErpChange, TmsFeedMilestone, WmsFeedMilestone } from '../../ports/index.js';

/** Which feed a report came from. */
export type FeedSource = 'erp' | 'wms' | 'tms';

/** A fulfillment or billing report, normalised from any of the three feeds. */
export interface FulfillmentReport {
  source: FeedSource;
  /** The reporting system's name (`tryton`, `wms-sim`), for timelines and inbound dedupe. */
  system: string;
  /** Names this feed entry: the inbound dedupe key (a re-read applies nothing). */
  deliveryId: string;
  /** Names the fact itself: the same on every re-send (a re-send is recorded, not re-applied). */
  milestoneId: string;
  hubOrderId: string | null;
  kind: 'shipment' | 'invoice';
  /** What the source said, in its words (`assigned`, `picked`, `posted`, …). */
  native: string;
  /** The canonical shipment milestone, when the report is one (published as shipment.milestone.v1). */
  milestone: ShipmentEventType | null;
  /** The order state the report asks for, before the monotonic rule; null = timeline only. */
  requested: OrderState | null;
  at: string;
  shipmentId?: string;
  warehouseId?: string;
  erpOrderId?: string;
  /** ERP invoice id for invoice reports. */
  invoiceId?: string;
  carrier?: string;
  trackingNumber?: string;
  location?: string;
  detail?: string;
  /** Quantities per SKU the report is about (WMS allocation, shipped lines). */
  lines?: { sku: string; quantity: number }[];
  /** `exception`: the reason code (carrier status detail); see `ShipmentEvent.reason`. */
  reason?: string;
  /**
   * What the sender sent (feed entry, webhook event, carrier payload), kept in the exception when
   * the report is refused (more shipped than ordered, an unknown tracking number). Never stored
   * otherwise.
   */
  raw?: unknown;
}

const erpShipment: Record<string, { milestone: ShipmentEventType | null; requested: OrderState | null }> = {
  waiting: { milestone: null, requested: null },
  assigned: { milestone: 'allocated', requested: 'allocated' },
  picked: { milestone: 'picked', requested: 'picked' },
  packed: { milestone: 'packed', requested: 'packed' },
  done: { milestone: 'shipped', requested: 'shipped' },
  cancelled: { milestone: null, requested: null },
};

/**
 * An ERP change as a report, or null when it is not a fulfillment fact (order header changes,
 * draft or cancelled invoices): those only move the cursor.
 */
export function fromErpChange(system: string, change: ErpChange): FulfillmentReport | null {
  const base = {
    source: 'erp' as const,
    system,
    // The ERP port gives no entry id; record, state and time together name one delivery.
    deliveryId: `${change.kind}:${change.recordId}:${change.milestone}:${change.at}`,
    milestoneId: `erp:${change.kind}:${change.recordId}:${change.milestone}`,
    hubOrderId: change.hubOrderId,
    native: change.milestone,
    at: change.at,
    erpOrderId: change.erpOrderId,
    raw: change,
  };
  if (change.kind === 'shipment') {
    const m = erpShipment[change.milestone];
    if (!m) return null;
    return { ...base, kind: 'shipment', ...m, shipmentId: erpShipmentId(change.recordId) };
  }
  if (change.kind === 'invoice') {
    if (change.milestone === 'posted') {
      return { ...base, kind: 'invoice', milestone: null, requested: 'invoiced', invoiceId: change.recordId };
    }
    if (change.milestone === 'paid') {
      return { ...base, kind: 'invoice', milestone: null, requested: null, invoiceId: change.recordId };
    }
  }
  return null;
}

/** The hub's shipment id for an ERP shipment record. */
export function erpShipmentId(recordId: string): string {
  return `erp:${recordId}`;
}

/** A WMS milestone as a report. */
export function fromWmsMilestone(system: string, m: WmsFeedMilestone): FulfillmentReport {
  let requested: OrderState | null = m.type;
  if (m.type === 'allocated' && m.lines) {
    const allocated = m.lines.reduce((s, l) => s + l.quantity, 0);
    const short = m.lines.some((l) => l.quantity <= 0);
    requested = allocated <= 0 ? null : short ? 'partially_allocated' : 'allocated';
  }
  const report: FulfillmentReport = {
    source: 'wms',
    system,
    deliveryId: m.deliveryId,
    milestoneId: `wms:${m.id}`,
    hubOrderId: m.hubOrderId,
    kind: 'shipment',
    native: m.type,
    milestone: m.type,
    requested,
    at: m.at,
    shipmentId: m.shipmentId,
    warehouseId: m.warehouseId,
  };
  if (m.detail !== undefined) report.detail = m.detail;
  if (m.lines !== undefined) report.lines = m.lines.map((l) => ({ ...l }));
  report.raw = m;
  return report;
}

/** What a carrier scan asks of the order (before `planReport` refines shipped and delivered). */
const tmsRequested: Readonly<Record<string, OrderState | null>> = {
  in_transit: 'shipped',
  out_for_delivery: 'shipped',
  delivered: 'delivered',
  exception: null,
};

/**
 * A TMS milestone as a report: `delivered` asks for delivered, a scan in transit or out for
 * delivery for shipped (see the table), an exception moves nothing.
 */
export function fromTmsMilestone(system: string, m: TmsFeedMilestone): FulfillmentReport {
  const report: FulfillmentReport = {
    source: 'tms',
    system,
    deliveryId: m.deliveryId,
    milestoneId: `tms:${m.id}`,
    hubOrderId: m.hubOrderId,
    kind: 'shipment',
    native: m.type,
    milestone: m.type,
    requested: tmsRequested[m.type] ?? null,
    at: m.at,
    shipmentId: m.shipmentId,
    carrier: m.carrier,
    trackingNumber: m.trackingNumber,
  };
  if (m.warehouseId !== undefined) report.warehouseId = m.warehouseId;
  if (m.location !== undefined) report.location = m.location;
  if (m.detail !== undefined) report.detail = m.detail;
  if (m.reason !== undefined) report.reason = m.reason;
  report.raw = m;
  return report;
}
