/**
 * Carrier booking: when the warehouse reports a shipment packed, the hub books it with the TMS
 * (carrier and service from the shipping rules) and applies the booking back to the order.
 *
 * Why as a subscription on the hub's own `shipment.milestone.v1` (`packed`) rather than inline in
 * the sync: the milestone is in the outbox in the same commit as the state it describes, so the
 * booking is owed durably from that instant, and it inherits the backbone's retries, breaker,
 * dead letters, replay and operator tools. A TMS that is down delays bookings; it never loses one.
 *
 * Exactly once: the TMS is asked with the key `carrier-booking:<shipment id>` (a retried or
 * replayed delivery gets the same carrier and tracking number back), and the result is applied
 * through the one milestone path (`commitReport`) as the shipment's `booked` milestone, with the
 * inbound dedupe record `(carrier-booking.<tms>, <shipment id>)`: the order, the CRM (through the
 * milestone event) and the customer (the `shipped` notice carries the tracking number) hear of it
 * once. A shipment that already has a tracking number (the warehouse booked it, or the carrier
 * reported first) is not booked again; neither is a shipment of a cancelled or rejected order.
 *
 * Carrier and service: the first rule of `CarrierRules` matching the order's shipping method,
 * the shipment's weight and whether it carries hazardous goods. No matching rule is a
 * `policy_violation` for logistics (the delivery is parked with that reason, nothing is booked).
 */
import { z } from 'zod';
import {
  type CloudEvent,
  CrossdockError,
  type SalesOrder,
  type Shipment,
  ShippingMethod,
  terminalStates,
} from '../../domain/index.js';
import type { Clock, Store, TmsBookingResult, TmsPort } from '../../ports/index.js';
import { commitReport } from './commit-report.js';
import type { FulfillmentReport } from './milestones.js';

/** One rule of the carrier choice; the first that matches a shipment wins. */
export const CarrierServiceRule = z.object({
  /** The order's shipping method this rule serves. */
  method: ShippingMethod,
  /** Applies from this shipment weight on, kg (LTL freight for heavy ground shipments). */
  minWeightKg: z.number().nonnegative().default(0),
  /** Applies only to shipments with (true) or without (false) hazardous goods; to both when absent. */
  hazmat: z.boolean().optional(),
  carrier: z.string().min(1).max(100),
  service: z.string().min(1).max(100),
});
export type CarrierServiceRule = z.infer<typeof CarrierServiceRule>;

/** The carrier rules, in order. */
export const CarrierRules = z.array(CarrierServiceRule);

/** Shipped defaults: parcel carriers by method, LTL freight for freight and ground from 68 kg. */
export const defaultCarrierRules: CarrierServiceRule[] = CarrierRules.parse([
  { method: 'freight', carrier: 'XPO LTL', service: 'LTL Standard' },
  { method: 'ground', minWeightKg: 68, carrier: 'XPO LTL', service: 'LTL Standard' },
  { method: 'ground', carrier: 'UPS', service: 'Ground' },
  { method: 'express', carrier: 'FedEx', service: 'Priority Overnight' },
  { method: 'air', carrier: 'UPS', service: 'Next Day Air' },
  { method: 'pickup', carrier: 'WILL_CALL', service: 'Customer pickup' },
]);

/** The carrier and service for a shipment, or null when no rule matches. */
export function chooseCarrier(
  rules: readonly CarrierServiceRule[],
  shipment: { method: string; weightKg: number; hazmat: boolean },
): { carrier: string; service: string } | null {
  const rule = rules.find(
    (r) =>
      r.method === shipment.method &&
      shipment.weightKg >= r.minWeightKg &&
      (r.hazmat === undefined || r.hazmat === shipment.hazmat),
  );
  return rule ? { carrier: rule.carrier, service: rule.service } : null;
}

/** Stable name of the booking subscription and prefix of its keys. Stored: never rename. */
export const carrierBookingId = 'carrier-booking';

/** What {@link CarrierBooking} needs. */
export interface CarrierBookingDeps {
  store: Store;
  clock: Clock;
  tms: TmsPort;
  /** Carrier rules; {@link defaultCarrierRules} when absent. */
  rules?: readonly CarrierServiceRule[];
  /** CloudEvents source of the events emitted. Default `/crossdock/carrier-booking`. */
  eventSource?: string;
}

/** What one booking attempt came to. */
export type BookingOutcome =
  | { status: 'booked'; carrier: string; trackingNumber: string; service: string; duplicate: boolean }
  | { status: 'skipped'; reason: 'not_packed' | 'order_closed' | 'already_tracked' };

/** Books packed shipments with the TMS; see the file comment. */
export class CarrierBooking {
  private readonly rules: readonly CarrierServiceRule[];
  private readonly eventSource: string;

  constructor(private readonly deps: CarrierBookingDeps) {
    this.rules = deps.rules ?? defaultCarrierRules;
    this.eventSource = deps.eventSource ?? `/crossdock/${carrierBookingId}`;
  }

  /**
   * The subscription's handler: books the shipment a `packed` milestone names; `skipped` for any
   * other event and for shipments needing no booking. Throws typed errors for the dispatcher:
   * the TMS's own (retried or parked by kind), `data_quality` for an order or shipment the hub
   * does not have, `policy_violation` when no carrier rule matches.
   */
  handle = async (event: CloudEvent): Promise<'skipped' | undefined> => {
    if (event.type !== 'shipment.milestone.v1' || event.data['milestone'] !== 'packed') return 'skipped';
    const shipmentId = event.data['shipmentId'];
    if (typeof shipmentId !== 'string') {
      throw CrossdockError.dataQuality('a packed milestone without a shipment id', {
        owner: 'integration',
        details: { eventId: event.id, field: 'data.shipmentId' },
      });
    }
    const outcome = await this.book(event.subject, shipmentId);
    return outcome.status === 'skipped' ? 'skipped' : undefined;
  };

  /** Books one shipment of one order (idempotent; see the file comment). */
  async book(orderId: string, shipmentId: string): Promise<BookingOutcome> {
    const { store, tms } = this.deps;
    const order = await store.getOrder(orderId);
    if (!order) {
      throw CrossdockError.dataQuality(`no order ${orderId} to book shipment ${shipmentId} for`, {
        owner: 'integration',
        details: { reason: 'unknown_order', orderId, shipmentId },
      });
    }
    if (terminalStates.has(order.state)) return { status: 'skipped', reason: 'order_closed' };
    const shipment = order.shipments.find((s) => s.id === shipmentId);
    if (!shipment) {
      throw CrossdockError.dataQuality(`order ${orderId} has no shipment ${shipmentId}`, {
        owner: 'integration',
        details: { reason: 'unknown_shipment', orderId, shipmentId },
      });
    }
    if (shipment.trackingNumber) return { status: 'skipped', reason: 'already_tracked' };

    const parcel = await this.parcelOf(order, shipment);
    const choice = chooseCarrier(this.rules, { method: order.shippingMethod, ...parcel });
    if (!choice) {
      throw CrossdockError.policyViolation(
        `no carrier rule for ${order.shippingMethod} at ${parcel.weightKg} kg${parcel.hazmat ? ' with hazardous goods' : ''}`,
        {
          owner: 'logistics',
          details: {
            reason: 'no_carrier_rule',
            orderId,
            shipmentId,
            method: order.shippingMethod,
            ...parcel,
          },
        },
      );
    }
    const booked: TmsBookingResult = await tms.bookShipment({
      idempotencyKey: `${carrierBookingId}:${shipment.id}`,
      hubOrderId: order.id,
      shipmentId: shipment.id,
      shippingMethod: order.shippingMethod,
      weightKg: parcel.weightKg,
      hazmat: parcel.hazmat,
      destinationCountry: order.shipTo.country,
      carrier: choice.carrier,
      service: choice.service,
    });
    const service = booked.service ?? (booked.carrier === choice.carrier ? choice.service : 'unspecified');
    const report: FulfillmentReport = {
      source: 'tms',
      system: tms.system,
      deliveryId: `booking:${shipment.id}`,
      milestoneId: `tms:booking:${shipment.id}`,
      hubOrderId: order.id,
      kind: 'shipment',
      native: 'booked',
      milestone: 'booked',
      requested: null,
      at: this.deps.clock.now().toISOString(),
      shipmentId: shipment.id,
      warehouseId: shipment.warehouseId,
      carrier: booked.carrier,
      trackingNumber: booked.trackingNumber,
      detail: `${booked.carrier} ${service}`,
    };
    await commitReport({ store, clock: this.deps.clock, eventSource: this.eventSource }, report, {
      order,
      inbound: { source: `${carrierBookingId}.${tms.system}`, id: shipment.id },
    });
    return {
      status: 'booked',
      carrier: booked.carrier,
      trackingNumber: booked.trackingNumber,
      service,
      duplicate: booked.duplicate,
    };
  }

  /**
   * Weight and hazard of what the shipment carries: its lines, else what the decision allocated
   * at its warehouse, else the whole order.
   */
  private async parcelOf(
    order: SalesOrder,
    shipment: Shipment,
  ): Promise<{ weightKg: number; hazmat: boolean }> {
    let lines = shipment.lines.map((l) => ({ sku: l.sku, quantity: l.quantity }));
    if (lines.length === 0) {
      lines = order.lines.flatMap((l) =>
        l.allocations
          .filter((a) => a.warehouseId === shipment.warehouseId && a.quantity > 0)
          .map((a) => ({ sku: l.sku, quantity: a.quantity })),
      );
    }
    if (lines.length === 0) lines = order.lines.map((l) => ({ sku: l.sku, quantity: l.quantity }));
    const products = await this.deps.store.getProducts([...new Set(lines.map((l) => l.sku))]);
    let weightKg = 0;
    let hazmat = false;
    for (const l of lines) {
      const p = products.get(l.sku);
      weightKg += (p?.weightKg ?? 0) * l.quantity;
      if (p?.hazmat) hazmat = true;
    }
    return { weightKg: Math.round(weightKg * 1000) / 1000, hazmat };
  }
}
