/**
 * What one fulfillment report does to an order: a pure function from (order, report) to the
 * next order document, its timeline entry, its outbox events and the reservations it gives back.
 *
 * Why pure: the sync commits this as one unit with an optimistic version, and on a conflict
 * re-reads the order and plans again. A plan that depends only on its inputs can be recomputed
 * any number of times, and property-tested without a feed.
 *
 * Rules:
 * - the state moves only under the monotonic rule (`transition`); the report is recorded in the
 *   timeline either way, with `applied: true|false`;
 * - a shipment milestone is kept on its shipment once (by milestone id): a re-send is a timeline
 *   entry, not a second shipment event, second outbox event or second reservation release;
 * - a report about a rejected or cancelled order is recorded in the timeline only (reason
 *   `order_closed`): no shipment, invoice, reservation or outbox change;
 * - an allocation by the WMS (or the ERP assigning a shipment) gives back the hub's soft
 *   reservation for what was allocated, never more than the order reserved there.
 */
import {
  type CloudEvent,
  customerStatus,
  type EventData,
  type Invoice,
  newEvent,
  type OrderState,
  type SalesOrder,
  type Shipment,
  type ShipmentEvent,
  type ShipmentEventType,
  terminalStates,
  transition,
} from '../../domain/index.js';
import type {
  ErpInvoiceStatus,
  ErpShipmentStatus,
  InventoryDelta,
  TimelineInput,
} from '../../ports/index.js';
import type { FulfillmentReport } from './milestones.js';

/** What the ERP said about the record a report names, read when the report alone is too thin. */
export interface ErpDetails {
  shipment?: ErpShipmentStatus;
  invoice?: ErpInvoiceStatus;
}

/** The outcome of planning one report against one order version. */
export interface ReportPlan {
  next: SalesOrder;
  /** The order state moved. */
  applied: boolean;
  /** The milestone (or invoice state) was already on the order: a re-send. */
  repeat: boolean;
  timeline: TimelineInput;
  events: CloudEvent[];
  /** Soft reservations given back (negative deltas). */
  inventory: InventoryDelta[];
}

/** Options of {@link planReport}. */
export interface PlanOptions {
  now: Date;
  /** CloudEvents source of the events emitted. */
  eventSource: string;
  /** Leave reservations alone (the store refused the release: someone already gave them back). */
  skipRelease?: boolean;
}

/** Progress of a shipment, for its `status` (an exception does not move it). */
const shipmentProgress: Record<Shipment['status'], number> = {
  planned: 0,
  backordered: 1,
  allocated: 2,
  released: 3,
  picked: 4,
  packed: 5,
  booked: 6,
  shipped: 7,
  in_transit: 8,
  out_for_delivery: 9,
  delivered: 10,
  exception: -1,
};

/** Plans the effect of one report on one order version. */
export function planReport(
  order: SalesOrder,
  report: FulfillmentReport,
  details: ErpDetails,
  options: PlanOptions,
): ReportPlan {
  const nowIso = options.now.toISOString();
  const previousState = order.state;
  const shipments = order.shipments.map((s) => ({ ...s, events: [...s.events], lines: [...s.lines] }));
  const invoices = order.invoices.map((i) => ({ ...i }));
  const milestones = [...order.milestones];
  let repeat = false;
  let inventory: InventoryDelta[] = [];
  let shipment: Shipment | undefined;
  let newInvoice: Invoice | undefined;
  // A rejected or cancelled order is closed: what is reported about it is kept in the timeline
  // for the people who must sort it out, and changes nothing (no shipment, no hub event).
  const closed = terminalStates.has(order.state);

  if (!closed && report.kind === 'shipment' && report.shipmentId) {
    shipment = shipments.find((s) => s.id === report.shipmentId);
    if (!shipment) {
      shipment = newShipment(order, report, details);
      shipments.push(shipment);
    } else if (report.milestone === null) {
      repeat = true;
    }
    if (report.carrier) shipment.carrier = report.carrier;
    if (report.trackingNumber) {
      shipment.trackingNumber = report.trackingNumber;
      shipment.externalIds = { ...shipment.externalIds, tms: report.trackingNumber };
    }
    if (report.milestone !== null) {
      const milestone = report.milestone;
      if (shipment.events.some((e) => e.id === report.milestoneId)) {
        repeat = true;
      } else {
        if (milestone === 'allocated') {
          const allocated = allocationOf(report, details, shipment);
          if (!options.skipRelease) inventory = releaseFor(order, shipments, allocated);
          if (allocated.lines.length > 0) shipment.lines = allocated.lines;
        }
        shipment.events.push(shipmentEvent(report, milestone, shipment.id));
        if (shipmentProgress[milestone] > shipmentProgress[shipment.status]) shipment.status = milestone;
      }
    }
  }

  if (!closed && report.kind === 'invoice' && report.invoiceId) {
    const status: Invoice['status'] = report.native === 'paid' ? 'paid' : 'open';
    const existing = invoices.find((i) => i.externalIds['erp'] === report.invoiceId);
    if (existing) {
      if (existing.status === status || (existing.status === 'paid' && status === 'open')) repeat = true;
      else existing.status = status;
    } else {
      newInvoice = {
        id: `erp:${report.invoiceId}`,
        orderId: order.id,
        number: details.invoice?.number ?? report.invoiceId,
        kind: 'invoice',
        amount: details.invoice?.amount ?? order.total,
        currency: details.invoice?.currency ?? order.currency,
        issuedAt: report.at,
        status,
        externalIds: { erp: report.invoiceId },
      };
      invoices.push(newInvoice);
    }
  }

  const reached: string | null = report.milestone ?? (report.requested === 'invoiced' ? 'invoiced' : null);
  if (!closed && reached && !milestones.includes(reached)) milestones.push(reached);

  const moved =
    report.requested && !closed
      ? transition(order.state, report.requested)
      : { state: order.state, applied: false };
  const state: OrderState = moved.state;
  const next: SalesOrder = {
    ...order,
    version: order.version + 1,
    state,
    customerStatus: customerStatus(state, milestones.includes('delivered')),
    milestones,
    shipments,
    invoices,
    updatedAt: nowIso,
  };

  const ref = { orderId: order.id, customerId: order.customerId, state, customerStatus: next.customerStatus };
  const opts = { source: options.eventSource, time: options.now };
  const events: CloudEvent[] = [];
  if (report.milestone !== null && shipment && !repeat) {
    const data: EventData<'shipment.milestone.v1'> = {
      ...ref,
      shipmentId: shipment.id,
      milestone: report.milestone,
    };
    if (shipment.trackingNumber) data.trackingNumber = shipment.trackingNumber;
    if (shipment.carrier) data.carrier = shipment.carrier;
    events.push(newEvent('shipment.milestone.v1', order.id, data, opts));
  }
  if (moved.applied) {
    events.push(newEvent('order.status_changed.v1', order.id, { ...ref, previousState }, opts));
  }
  if (newInvoice && newInvoice.status !== 'draft') {
    events.push(
      newEvent(
        'invoice.issued.v1',
        order.id,
        {
          ...ref,
          invoiceId: newInvoice.id,
          number: newInvoice.number,
          amount: newInvoice.amount,
          currency: newInvoice.currency,
        },
        opts,
      ),
    );
  }

  const reason = moved.applied
    ? null
    : closed
      ? 'order_closed'
      : report.requested === null
        ? 'timeline_only'
        : repeat
          ? 'duplicate'
          : 'not_forward';
  const summary: Record<string, unknown> = {
    applied: moved.applied,
    repeat,
    source: report.source,
    reported: report.native,
    requestedState: report.requested,
    previousState,
    state,
    milestoneId: report.milestoneId,
    deliveryId: report.deliveryId,
    reportedAt: report.at,
  };
  if (reason) summary['reason'] = reason;
  if (report.milestone) summary['milestone'] = report.milestone;
  if (shipment) summary['shipmentId'] = shipment.id;
  if (report.trackingNumber) summary['trackingNumber'] = report.trackingNumber;
  if (report.invoiceId) summary['invoiceId'] = report.invoiceId;
  if (report.detail) summary['detail'] = report.detail;
  if (inventory.length > 0) summary['reservationsReleased'] = inventory.map((d) => ({ ...d }));

  const timeline: TimelineInput = {
    orderId: order.id,
    at: nowIso,
    kind: 'event',
    name: `${report.kind}.${report.native}`,
    system: report.system,
    outcome: moved.applied ? 'applied' : 'recorded',
    durationMs: null,
    summary,
    correlationId: order.correlationId,
  };
  return { next, applied: moved.applied, repeat, timeline, events, inventory };
}

function newShipment(order: SalesOrder, report: FulfillmentReport, details: ErpDetails): Shipment {
  const lines = (details.shipment?.lines ?? report.lines ?? []).filter((l) => l.quantity > 0);
  const warehouseId =
    report.warehouseId ??
    details.shipment?.warehouseId ??
    (report.source === 'tms' ? 'carrier' : (order.lines[0]?.allocations[0]?.warehouseId ?? 'unknown'));
  const native = report.source === 'erp' ? report.shipmentId?.replace(/^erp:/, '') : report.shipmentId;
  const shipment: Shipment = {
    id: report.shipmentId ?? `${report.source}:${report.milestoneId}`,
    orderId: order.id,
    warehouseId,
    lines: lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
    status: 'planned',
    events: [],
    externalIds: native ? { [report.source]: native } : {},
  };
  return shipment;
}

function shipmentEvent(
  report: FulfillmentReport,
  type: ShipmentEventType,
  shipmentId: string,
): ShipmentEvent {
  const e: ShipmentEvent = { id: report.milestoneId, shipmentId, type, at: report.at, source: report.source };
  const location = report.location ?? report.warehouseId;
  if (location) e.location = location;
  if (report.detail) e.detail = report.detail;
  return e;
}

/** What a report says was allocated, and where. */
function allocationOf(
  report: FulfillmentReport,
  details: ErpDetails,
  shipment: Shipment,
): { warehouseId: string; lines: { sku: string; quantity: number }[] } {
  const lines = (report.source === 'erp' ? details.shipment?.lines : report.lines) ?? [];
  return {
    warehouseId: report.warehouseId ?? details.shipment?.warehouseId ?? shipment.warehouseId,
    lines: lines.filter((l) => l.quantity > 0).map((l) => ({ sku: l.sku, quantity: l.quantity })),
  };
}

/**
 * The reservations to give back for an allocation: per SKU at that warehouse, what the order
 * reserved there minus what earlier allocations of the order (other shipments, or the ERP and
 * the WMS both reporting one allocation) already gave back.
 */
function releaseFor(
  order: SalesOrder,
  shipmentsBefore: Shipment[],
  allocation: { warehouseId: string; lines: { sku: string; quantity: number }[] },
): InventoryDelta[] {
  const key = (sku: string, wh: string) => `${sku}|${wh}`;
  const reserved = new Map<string, number>();
  for (const l of order.lines) {
    for (const a of l.allocations)
      reserved.set(key(l.sku, a.warehouseId), (reserved.get(key(l.sku, a.warehouseId)) ?? 0) + a.quantity);
  }
  const released = new Map<string, number>();
  for (const s of shipmentsBefore) {
    if (!s.events.some((e) => e.type === 'allocated')) continue;
    for (const l of s.lines)
      released.set(key(l.sku, s.warehouseId), (released.get(key(l.sku, s.warehouseId)) ?? 0) + l.quantity);
  }
  const out: InventoryDelta[] = [];
  for (const l of allocation.lines) {
    const k = key(l.sku, allocation.warehouseId);
    const left = Math.max(0, (reserved.get(k) ?? 0) - (released.get(k) ?? 0));
    const give = round4(Math.min(left, l.quantity));
    if (give > 0) {
      out.push({ sku: l.sku, warehouseId: allocation.warehouseId, reservedDelta: -give });
      released.set(k, (released.get(k) ?? 0) + give);
    }
  }
  return out;
}

function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}
