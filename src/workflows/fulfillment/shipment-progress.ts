/**
 * How far an order's shipments have gone, counted by quantity per SKU: the order is `shipped` only
 * when every line is on shipments that left a warehouse (or was cancelled), `delivered` only when
 * each of those shipments was delivered, and more shipped than ordered is caught before it is
 * applied.
 *
 * Why by quantity, not by shipment count: a split order has one shipment per warehouse, a short
 * pick leaves a remainder no shipment carries yet, and the WMS may report a shipment before the
 * hub heard of the others. Counting shipments alone said "Shipped" when the first of two left.
 *
 * Which shipments count: the warehouse system of record's. In a simulated estate the ERP keeps its
 * own delivery record of the order beside the WMS's warehouse orders; counting both would count
 * every item twice. So the warehouse's and carrier's shipments (the WMS's, and those a carrier
 * reported under the hub's shipment id) count when the order has any, else the ERP's.
 *
 * A shipment reported without lines (a shipped webhook with no `lines`, a carrier scan before
 * the warehouse's report) carries what the decision allocated at its warehouse; where it
 * allocated nothing (a carrier that names no warehouse), it carries whatever no other shipment
 * carries: with one shipment, the whole order, as before shipments were counted. Only lines a
 * system reported count towards "more shipped than ordered"; lines assumed this way never do.
 */
import {
  customerStatus,
  customerStatusOf,
  type OrderLine,
  type SalesOrder,
  type Shipment,
  type ShipmentCounts,
} from '../../domain/index.js';

/** Shipment statuses at which the goods have left the warehouse. */
const leftWarehouse: ReadonlySet<Shipment['status']> = new Set<Shipment['status']>([
  'shipped',
  'in_transit',
  'out_for_delivery',
  'delivered',
]);

/** Whether a shipment's goods have left the warehouse. */
export function hasShipped(shipment: Pick<Shipment, 'status' | 'events'>): boolean {
  return leftWarehouse.has(shipment.status) || shipment.events.some((e) => leftWarehouse.has(e.type));
}

/** Whether the carrier reported the shipment delivered. */
export function isDelivered(shipment: Pick<Shipment, 'status' | 'events'>): boolean {
  return shipment.status === 'delivered' || shipment.events.some((e) => e.type === 'delivered');
}

/** A SKU shipped beyond what the order (less what was cancelled) asks for. */
export interface OverShipment {
  sku: string;
  ordered: number;
  shipped: number;
}

/** Where an order's fulfillment stands, from its lines and shipments. */
export interface FulfillmentProgress extends ShipmentCounts {
  /** Every SKU's open quantity is on shipments that left a warehouse (and one did). */
  fullyShipped: boolean;
  /** Fully shipped, and every counted shipment that left was delivered. */
  fullyDelivered: boolean;
  /** Quantity per SKU on counted shipments that left a warehouse. */
  shippedBySku: Map<string, number>;
  /** SKUs shipped beyond the order (SKUs not on the order count with `ordered: 0`). */
  overShipped: OverShipment[];
}

/** Quantities are decimals of at most 4 places (see the canonical model); compare with this slack. */
const epsilon = 1e-6;

/** The quantity of a line to ship: its quantity less what was cancelled (`cancelledQuantity`). */
export function openQuantity(line: OrderLine): number {
  return Math.max(0, line.quantity - (line.cancelledQuantity ?? 0));
}

/** The shipments that count for the order's progress (see the file comment). */
export function countedShipments(shipments: readonly Shipment[]): Shipment[] {
  const warehouse = shipments.filter((s) => !s.id.startsWith('erp:'));
  return warehouse.length > 0 ? warehouse : [...shipments];
}

/** Progress of `order` with `shipments` (the order's own, or a plan's next set). */
export function fulfillmentProgress(
  order: Pick<SalesOrder, 'lines'>,
  shipments: readonly Shipment[],
): FulfillmentProgress {
  const ordered = new Map<string, number>();
  for (const l of order.lines) ordered.set(l.sku, (ordered.get(l.sku) ?? 0) + openQuantity(l));
  const counted = countedShipments(shipments);
  const carried = counted.map((s) => carriedBy(order, s));
  const left = counted.filter(hasShipped);
  const carriedLeft = carried.filter((_, i) => hasShipped(counted[i]!));

  // Reported lines only: an assumption never makes an over-shipment.
  const shippedBySku = new Map<string, number>();
  for (const s of left) for (const l of s.lines) add(shippedBySku, l.sku, l.quantity);
  const overShipped: OverShipment[] = [];
  for (const [sku, shipped] of shippedBySku) {
    const want = ordered.get(sku) ?? 0;
    if (shipped > want + epsilon) overShipped.push({ sku, ordered: want, shipped: round4(shipped) });
  }

  const covered = new Map<string, number>();
  for (const c of carriedLeft) for (const l of c.lines) add(covered, l.sku, l.quantity);
  const carriesRest = carriedLeft.some((c) => c.rest);
  const everyLine = [...ordered].every(([sku, want]) => (covered.get(sku) ?? 0) + epsilon >= want);
  const fullyShipped = left.length > 0 && (carriesRest || everyLine);
  const fullyDelivered = fullyShipped && left.every(isDelivered);

  // Shipments to expect: those that left; those still to leave with something not yet shipped
  // (not one whose goods were cancelled or left on another); and, while some quantity is on none
  // of them, the allocated warehouses none comes from yet (a split whose second warehouse has not
  // reported), or else one (the remainder of a short pick).
  const stillOpen = (sku: string) => (ordered.get(sku) ?? 0) - (covered.get(sku) ?? 0) > epsilon;
  const pending = counted.filter(
    (s, i) => !hasShipped(s) && (carried[i]!.rest || carried[i]!.lines.some((l) => stillOpen(l.sku))),
  );
  const onShipments = new Map<string, number>();
  for (const c of carried) for (const l of c.lines) add(onShipments, l.sku, l.quantity);
  const open = !carried.some((c) => c.rest);
  const uncovered = open && [...ordered].some(([sku, want]) => (onShipments.get(sku) ?? 0) + epsilon < want);
  const plannedElsewhere = open ? plannedWarehousesWithoutShipment(order, counted) : 0;
  return {
    total: left.length + pending.length + (uncovered ? Math.max(plannedElsewhere, 1) : 0),
    shipped: left.length,
    delivered: counted.filter(isDelivered).length,
    fullyShipped,
    fullyDelivered,
    shippedBySku,
    overShipped,
  };
}

/** What a shipment carries: its reported lines, else its warehouse's allocation, else the rest. */
function carriedBy(
  order: Pick<SalesOrder, 'lines'>,
  shipment: Shipment,
): { lines: { sku: string; quantity: number }[]; rest: boolean } {
  if (shipment.lines.length > 0) return { lines: shipment.lines, rest: false };
  const allocated = new Map<string, number>();
  for (const l of order.lines) {
    for (const a of l.allocations)
      if (a.warehouseId === shipment.warehouseId) add(allocated, l.sku, a.quantity);
  }
  const lines = [...allocated].filter(([, q]) => q > 0).map(([sku, quantity]) => ({ sku, quantity }));
  return lines.length > 0 ? { lines, rest: false } : { lines: [], rest: true };
}

function add(map: Map<string, number>, sku: string, quantity: number): void {
  map.set(sku, (map.get(sku) ?? 0) + quantity);
}

/** Warehouses the decision allocated from that no counted shipment comes from yet. */
function plannedWarehousesWithoutShipment(
  order: Pick<SalesOrder, 'lines'>,
  counted: readonly Shipment[],
): number {
  const have = new Set(counted.map((s) => s.warehouseId));
  const planned = new Set<string>();
  for (const l of order.lines) {
    for (const a of l.allocations) if (a.quantity > 0 && !have.has(a.warehouseId)) planned.add(a.warehouseId);
  }
  return planned.size;
}

function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}

/**
 * The customer-facing status of an order as its shipments and lines stand: counted shipments
 * ("Partially shipped (1 of 2)") and what waits for stock ("Partially backordered (rest expected
 * …)"); the state's plain status when it has neither. The one derivation every writer of an order
 * in fulfillment uses, so the hub, the CRM and the portal read the same words.
 */
export function customerStatusFor(
  order: Pick<SalesOrder, 'state' | 'lines' | 'shipments' | 'milestones'>,
): string {
  const waiting = order.lines.filter((l) => l.backorderedQuantity > 0);
  const backorder =
    waiting.length === 0
      ? null
      : {
          promiseDate: waiting.every((l) => l.promiseDate)
            ? waiting
                .map((l) => l.promiseDate!)
                .sort()
                .at(-1)!
            : null,
        };
  const counted = countedShipments(order.shipments);
  if (counted.length === 0 && !backorder)
    return customerStatus(order.state, order.milestones.includes('delivered'));
  const counts: ShipmentCounts =
    counted.length === 0
      ? { total: 0, shipped: 0, delivered: 0 }
      : fulfillmentProgress(order, order.shipments);
  return customerStatusOf(order.state, {
    total: counts.total,
    shipped: counts.shipped,
    delivered: counts.delivered,
    backorder,
  });
}
