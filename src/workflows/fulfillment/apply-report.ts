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
 *   `order_closed`): no shipment, invoice, reservation or outbox change; when it says goods of
 *   that order left a warehouse or are with a carrier, it is also kept as an exception for
 *   customer service (`notice`, kind `conflict`): someone must recall or bill them;
 * - an allocation by the WMS (or the ERP assigning a shipment) gives back the hub's soft
 *   reservation for what was allocated, never more than the order reserved there;
 * - state is kept per shipment, quantities per SKU per shipment (a `shipped` report's lines
 *   replace what the allocation said): a shipment leaving asks for `shipped` only when every line
 *   of the order is on shipments that left, else `partially_shipped`; a delivery asks for
 *   `delivered` only when each of them was delivered (`fulfillmentProgress`), and the customer
 *   status counts them ("Partially shipped (1 of 2)");
 * - a warehouse `backordered` milestone with lines (what it could not allocate, per SKU) moves
 *   that quantity from the order's allocation at that warehouse to the line's backorder
 *   (`backorderedQuantity`, promise date to be revised by `Backorders`) and gives back the hub's
 *   soft reservation for it: the order keeps its state (monotonic), its lines say what is
 *   missing, and `Backorders` re-releases it when stock arrives;
 * - a report that would ship more of a SKU than the order has open (or a SKU not on it) is
 *   refused as a whole (`refusal`, `data_quality`, reason `over_shipment`): the order is not
 *   touched, the timeline says so, and the caller keeps the raw report in an exception.
 */
import {
  type CloudEvent,
  CrossdockError,
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
  ExceptionInput,
  InventoryDelta,
  TimelineInput,
} from '../../ports/index.js';
import { applyCreditMemo, invoiceEvent, invoiceFromErp } from '../returns/plan.js';
import type { FulfillmentReport } from './milestones.js';
import { customerStatusFor, fulfillmentProgress, type OverShipment } from './shipment-progress.js';
import { normalizeTrackingNumber, trackingEntry } from './tracking-index.js';

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
  /**
   * The report is refused as a whole (more shipped than ordered): `next` is the order unchanged,
   * `events` and `inventory` are empty, and only `timeline` (outcome `refused`) may be written,
   * with an exception keeping the raw report (`reportException`).
   */
  refusal: CrossdockError | null;
  /** Tracking-number index entries to commit with the order (see `tracking-index.ts`). */
  cursors: { name: string; value: string }[];
  /**
   * Applied or recorded, but someone must look at it: goods moving for a cancelled or rejected
   * order. Committed as an exception with the raw report (`reportException`).
   */
  notice: CrossdockError | null;
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
  let lines = order.lines;
  const invoices = order.invoices.map((i) => ({ ...i }));
  const milestones = [...order.milestones];
  let repeat = false;
  let inventory: InventoryDelta[] = [];
  let shipment: Shipment | undefined;
  let newInvoice: Invoice | undefined;
  const cursors: { name: string; value: string }[] = [];
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
      if (
        normalizeTrackingNumber(report.trackingNumber) !==
        normalizeTrackingNumber(shipment.trackingNumber ?? '')
      ) {
        cursors.push(
          trackingEntry(report.trackingNumber, {
            orderId: order.id,
            shipmentId: shipment.id,
            carrier: shipment.carrier ?? null,
          }),
        );
      }
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
        if (milestone === 'shipped') {
          // What left the warehouse, when the report says: it replaces what was allocated.
          const shipped = linesOf(report, details);
          if (shipped.length > 0) shipment.lines = shipped;
        }
        if (milestone === 'backordered') {
          const short = linesOf(report, details);
          if (short.length > 0) {
            const at = { warehouseId: report.warehouseId ?? shipment.warehouseId, lines: short };
            if (!options.skipRelease) inventory = [...inventory, ...releaseFor(order, shipments, at)];
            lines = moveToBackorder(order.lines, at);
          }
        }
        shipment.events.push(shipmentEvent(report, milestone, shipment.id));
        if (shipmentProgress[milestone] > shipmentProgress[shipment.status]) shipment.status = milestone;
      }
    }
  }

  // A credit memo (the ERP names the kind in the record it was read from) moves no order state.
  const creditMemo = report.kind === 'invoice' && details.invoice?.kind === 'credit_memo';
  let memoEffects: ReturnType<typeof applyCreditMemo> | null = null;
  if (!closed && report.kind === 'invoice' && report.invoiceId) {
    const status: Invoice['status'] = report.native === 'paid' ? 'paid' : 'open';
    const existing = invoices.find((i) => i.externalIds['erp'] === report.invoiceId);
    if (existing) {
      if (
        existing.status === status ||
        existing.status === 'credited' ||
        (existing.status === 'paid' && status === 'open')
      )
        repeat = true;
      else existing.status = status;
    } else if (creditMemo && details.invoice) {
      memoEffects = applyCreditMemo({ ...order, invoices }, details.invoice, nowIso, {
        now: options.now,
        eventSource: options.eventSource,
      });
    } else {
      newInvoice = invoiceFromErp(order, report.invoiceId, details.invoice, status, report.at);
      invoices.push(newInvoice);
    }
  }

  const progress = fulfillmentProgress({ lines }, shipments);
  if (!closed && shipment) {
    const over = newlyOverShipped(
      fulfillmentProgress(order, order.shipments).overShipped,
      progress.overShipped,
    );
    if (over.length > 0) return refusedPlan(order, report, shipment.id, over, nowIso);
  }

  const reached: string | null =
    report.milestone ?? (report.requested === 'invoiced' && !creditMemo ? 'invoiced' : null);
  if (!closed && reached && !milestones.includes(reached)) milestones.push(reached);

  // Shipped and delivered are the order's only when every part of it is (see the file comment).
  let requested = creditMemo ? null : report.requested;
  if (shipment && (requested === 'shipped' || requested === 'delivered')) {
    requested =
      requested === 'delivered' && progress.fullyDelivered
        ? 'delivered'
        : progress.fullyShipped
          ? 'shipped'
          : 'partially_shipped';
  }
  const moved =
    requested && !closed ? transition(order.state, requested) : { state: order.state, applied: false };
  const state: OrderState = moved.state;
  const next: SalesOrder = {
    ...order,
    version: order.version + 1,
    state,
    customerStatus: customerStatusFor({ state, lines, shipments, milestones }),
    lines,
    milestones,
    shipments,
    invoices: memoEffects ? memoEffects.next.invoices : invoices,
    updatedAt: nowIso,
  };
  if (memoEffects?.next.returns) next.returns = memoEffects.next.returns;

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
    if (report.reason) data.reason = report.reason;
    events.push(newEvent('shipment.milestone.v1', order.id, data, opts));
  }
  if (moved.applied) {
    events.push(newEvent('order.status_changed.v1', order.id, { ...ref, previousState }, opts));
  }
  if (newInvoice && newInvoice.status !== 'draft') {
    events.push(invoiceEvent(next, newInvoice, { now: options.now, eventSource: options.eventSource }));
  }
  if (memoEffects) {
    // Planned before the order's state settled: re-made on `next` so they carry its state.
    const again = applyCreditMemo(
      { ...order, state, customerStatus: next.customerStatus, invoices },
      details.invoice!,
      nowIso,
      { now: options.now, eventSource: options.eventSource },
    );
    events.push(...again.events);
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
    requestedState: requested,
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
  if (report.carrier) summary['carrier'] = report.carrier;
  if (report.reason) summary['reasonCode'] = report.reason;
  if (report.invoiceId) summary['invoiceId'] = report.invoiceId;
  if (creditMemo) summary['kind'] = 'credit_memo';
  if (memoEffects?.ret) summary['returnCredited'] = memoEffects.ret.id;
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
  const notice =
    closed && report.milestone !== null && goodsMoving.has(report.milestone)
      ? CrossdockError.conflict(
          `${report.system} reports ${report.milestone} for order ${order.id}, which is ${order.state}`,
          {
            owner: 'customer_service',
            details: {
              reason: 'order_closed',
              orderId: order.id,
              state: order.state,
              milestone: report.milestone,
              shipmentId: report.shipmentId ?? null,
              trackingNumber: report.trackingNumber ?? null,
            },
          },
        )
      : null;
  return {
    next,
    applied: moved.applied,
    repeat,
    timeline,
    events,
    inventory,
    refusal: null,
    cursors,
    notice,
  };
}

/** Milestones saying goods left a warehouse or are with a carrier. */
const goodsMoving: ReadonlySet<ShipmentEventType> = new Set<ShipmentEventType>([
  'shipped',
  'in_transit',
  'out_for_delivery',
  'delivered',
]);

/** SKUs whose over-shipment a report creates or grows (an order already over is not re-refused). */
function newlyOverShipped(before: OverShipment[], after: OverShipment[]): OverShipment[] {
  return after.filter((a) => {
    const b = before.find((x) => x.sku === a.sku);
    return !b || a.shipped > b.shipped;
  });
}

/** The plan of a refused report: nothing of the order changes; the timeline says why. */
function refusedPlan(
  order: SalesOrder,
  report: FulfillmentReport,
  shipmentId: string,
  over: OverShipment[],
  nowIso: string,
): ReportPlan {
  const list = over.map((o) => `${o.sku}: ${o.shipped} shipped, ${o.ordered} ordered`).join('; ');
  const refusal = CrossdockError.dataQuality(
    `${report.system} reports more shipped than order ${order.id} has open (${list}); nothing applied`,
    {
      owner: 'logistics',
      details: {
        reason: 'over_shipment',
        field: 'lines',
        orderId: order.id,
        shipmentId,
        milestoneId: report.milestoneId,
        overShipped: over.map((o) => ({ ...o })),
      },
    },
  );
  const timeline: TimelineInput = {
    orderId: order.id,
    at: nowIso,
    kind: 'event',
    name: `${report.kind}.${report.native}`,
    system: report.system,
    outcome: 'refused',
    durationMs: null,
    summary: {
      applied: false,
      repeat: false,
      reason: 'over_shipment',
      source: report.source,
      reported: report.native,
      previousState: order.state,
      state: order.state,
      milestoneId: report.milestoneId,
      deliveryId: report.deliveryId,
      reportedAt: report.at,
      shipmentId,
      overShipped: over.map((o) => ({ ...o })),
    },
    correlationId: order.correlationId,
  };
  return {
    next: order,
    applied: false,
    repeat: false,
    timeline,
    events: [],
    inventory: [],
    refusal,
    cursors: [],
    notice: null,
  };
}

/**
 * The exception that keeps a refused (or noticed) report for the team that must sort it out: one
 * per order, reason and milestone (a re-send counts on it), with the raw report as the sender
 * sent it.
 */
export function reportException(
  order: Pick<SalesOrder, 'id'>,
  report: FulfillmentReport,
  refusal: CrossdockError,
  now: Date,
): ExceptionInput {
  const reason = String(refusal.details['reason'] ?? 'refused');
  return {
    id: `fulfillment:${order.id}:${reason}:${report.milestoneId}`,
    kind: refusal.kind,
    owner: refusal.owner,
    source: `fulfillment.${report.source}.${report.system}`,
    subscription: null,
    deliveryId: report.deliveryId,
    eventId: null,
    orderId: order.id,
    error: { ...refusal.toJSON(), at: now.toISOString(), raw: report.raw ?? null },
    attempts: 1,
    coalesce: true,
  };
}

/** Lines a report gives (the ERP record's for ERP reports), quantities above zero only. */
function linesOf(report: FulfillmentReport, details: ErpDetails): { sku: string; quantity: number }[] {
  const lines = (report.source === 'erp' ? details.shipment?.lines : report.lines) ?? [];
  return lines.filter((l) => l.quantity > 0).map((l) => ({ sku: l.sku, quantity: l.quantity }));
}

function newShipment(order: SalesOrder, report: FulfillmentReport, details: ErpDetails): Shipment {
  // A backordered milestone's lines are what the shipment will NOT carry.
  const reported = report.milestone === 'backordered' ? [] : (report.lines ?? []);
  const lines = (details.shipment?.lines ?? reported).filter((l) => l.quantity > 0);
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
  if (report.reason) e.reason = report.reason;
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

/**
 * The order's lines with `short` (per SKU, at one warehouse) moved from their allocation there to
 * their backorder, oldest line first; the promise date of a line that got more backorder is
 * cleared until `Backorders` revises it.
 */
function moveToBackorder(
  orderLines: SalesOrder['lines'],
  short: { warehouseId: string; lines: { sku: string; quantity: number }[] },
): SalesOrder['lines'] {
  const lines = orderLines.map((l) => ({ ...l, allocations: l.allocations.map((a) => ({ ...a })) }));
  for (const s of short.lines) {
    let left = s.quantity;
    for (const line of lines) {
      if (left <= 0) break;
      if (line.sku !== s.sku) continue;
      for (const a of line.allocations) {
        if (a.warehouseId !== short.warehouseId || a.quantity <= 0 || left <= 0) continue;
        const take = round4(Math.min(a.quantity, left));
        a.quantity = round4(a.quantity - take);
        line.backorderedQuantity = round4(line.backorderedQuantity + take);
        line.promiseDate = null;
        left = round4(left - take);
      }
      line.allocations = line.allocations.filter((a) => a.quantity > 0);
    }
  }
  return lines;
}

function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}
