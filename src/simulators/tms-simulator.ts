/**
 * TMS simulator: carrier booking behind `TmsPort`, with carrier-looking tracking numbers and
 * tracking milestones (in transit, delivered, exception) that tests can drive.
 *
 * Why it refuses some bookings: carriers do not move hazmat by air under a standard service, nor
 * ship outside their network; the hub must surface those as policy violations owned by
 * logistics, not retry them.
 *
 * Bounded: the last `maxRecords` bookings and tracking milestones are kept. Delivered shipments
 * are evicted before ones still moving, and the booking key of an evicted shipment is remembered
 * for `maxKeys` more evictions, so a redelivered booking is still a duplicate.
 */
import { CrossdockError, type ShipmentEvent } from '../domain/index.js';
import type {
  Clock,
  TmsBookingInput,
  TmsBookingResult,
  TmsFeedMilestone,
  TmsMilestonePage,
  TmsMilestoneType,
  TmsPort,
} from '../ports/index.js';
import { BoundedLog, BoundedMap, BoundedRecords, pageOf } from './bounded.js';
import type { FaultInjector } from './faults.js';
import { feedPage } from './feed.js';

/** A booked shipment as the TMS stores it. */
export interface TmsBookingRecord extends TmsBookingInput {
  carrier: string;
  trackingNumber: string;
  status: 'booked' | TmsMilestoneType;
  bookedAt: string;
}

/** A tracking milestone from the carrier. */
export interface TmsMilestone extends Omit<ShipmentEvent, 'type'> {
  type: TmsMilestoneType;
  seq: number;
  hubOrderId: string;
  trackingNumber: string;
  carrier: string;
}

/** Options of the TMS simulator. */
export interface TmsSimulatorOptions {
  clock: Clock;
  faults: FaultInjector;
  seed: number;
  /** Bookings, and tracking milestones, kept; older ones are evicted. Default 50,000. */
  maxRecords?: number;
  /** Booking keys of evicted shipments remembered; default 4 × `maxRecords`. */
  maxKeys?: number;
}

/** What an evicted booking leaves behind: enough to answer a repeated booking the same way. */
interface EvictedBooking {
  carrier: string;
  trackingNumber: string;
}

const served = new Set(['US', 'CA']);

/** The TMS stand-in. */
export class TmsSimulator implements TmsPort {
  readonly system = 'tms-sim';
  /** Fault settings and call/effect counters of this system. */
  readonly faults: FaultInjector;
  private readonly clock: Clock;
  /** Booking key → kept booking. */
  private readonly bookings = new Map<string, TmsBookingRecord>();
  /** Kept bookings by tracking number, in booking order; delivered ones are evicted first. */
  private readonly byTracking: BoundedRecords<string, TmsBookingRecord>;
  /** Booking key → carrier and tracking number, for the last `maxKeys` evicted bookings. */
  private readonly evictedKeys: BoundedMap<string, EvictedBooking>;
  private readonly log: BoundedLog<TmsMilestone>;
  private readonly bookingListeners = new Set<(b: TmsBookingRecord) => void>();
  private counter: number;
  private booked = 0;

  constructor(options: TmsSimulatorOptions) {
    this.clock = options.clock;
    this.faults = options.faults;
    this.counter = 100_000 + (options.seed % 10_000) * 37;
    const maxRecords = options.maxRecords ?? 50_000;
    this.evictedKeys = new BoundedMap(options.maxKeys ?? 4 * maxRecords);
    this.byTracking = new BoundedRecords(maxRecords, (trackingNumber, b) => {
      this.bookings.delete(b.idempotencyKey);
      this.evictedKeys.set(b.idempotencyKey, { carrier: b.carrier, trackingNumber });
    });
    this.log = new BoundedLog(maxRecords);
  }

  async bookShipment(input: TmsBookingInput): Promise<TmsBookingResult> {
    const g = this.faults.before('bookShipment');
    if (g) await g;
    const seen = this.bookings.get(input.idempotencyKey) ?? this.evictedKeys.get(input.idempotencyKey);
    if (seen) return { carrier: seen.carrier, trackingNumber: seen.trackingNumber, duplicate: true };
    if (input.hazmat && input.shippingMethod === 'air') {
      throw CrossdockError.policyViolation(
        `Carrier refuses hazardous materials by air for shipment ${input.shipmentId}; choose ground or freight`,
        {
          owner: 'logistics',
          details: { system: this.system, shipmentId: input.shipmentId, rule: 'hazmat_air' },
        },
      );
    }
    if (!served.has(input.destinationCountry)) {
      throw CrossdockError.policyViolation(`No carrier service to ${input.destinationCountry}`, {
        owner: 'logistics',
        details: { system: this.system, field: 'destinationCountry' },
      });
    }
    if (!(input.weightKg > 0)) {
      throw CrossdockError.dataQuality('Shipment weight must be positive', {
        details: { system: this.system, field: 'weightKg' },
      });
    }
    const { carrier, trackingNumber } = this.assign(input);
    const record: TmsBookingRecord = {
      ...input,
      carrier,
      trackingNumber,
      status: 'booked',
      bookedAt: this.clock.now().toISOString(),
    };
    this.bookings.set(input.idempotencyKey, record);
    this.byTracking.add(trackingNumber, record);
    this.booked++;
    this.faults.effect();
    for (const l of this.bookingListeners) l({ ...record });
    return {
      carrier,
      trackingNumber,
      duplicate: false,
      ...(input.service !== undefined ? { service: input.service } : {}),
    };
  }

  // --- drivers and inspection (no fault injection) ----------------------------------------

  /**
   * Emits a carrier milestone for a booked shipment (`in_transit`, `out_for_delivery`,
   * `delivered`, `exception`; an exception may carry its `reason` code).
   */
  track(
    trackingNumber: string,
    type: TmsMilestoneType,
    detail?: string,
    location?: string,
    reason?: string,
  ): TmsMilestone {
    const b = this.byTracking.get(trackingNumber);
    if (!b)
      throw CrossdockError.dataQuality(
        `Unknown tracking number ${trackingNumber} (never booked, or evicted)`,
      );
    b.status = type;
    if (type === 'delivered') this.byTracking.settle(trackingNumber);
    const seq = this.log.length + 1;
    const m: TmsMilestone = {
      id: `TMS-EV-${seq}`,
      shipmentId: b.shipmentId,
      type,
      at: this.clock.now().toISOString(),
      source: 'tms',
      seq,
      hubOrderId: b.hubOrderId,
      trackingNumber,
      carrier: b.carrier,
    };
    if (detail !== undefined) m.detail = detail;
    if (location !== undefined) m.location = location;
    if (reason !== undefined) m.reason = reason;
    this.log.push(m);
    return m;
  }

  /**
   * Re-emits an earlier milestone as a new log entry with the same id, as a carrier re-sending
   * a scan would (late or duplicated delivery); the hub must keep it in the timeline only.
   */
  replayMilestone(seq: number): TmsMilestone {
    const m = this.log.get(seq);
    if (!m) throw CrossdockError.dataQuality(`No TMS milestone ${seq} (never emitted, or evicted)`);
    const copy: TmsMilestone = { ...m, seq: this.log.length + 1 };
    this.log.push(copy);
    return copy;
  }

  /**
   * The port's change feed: milestones after the watermark (the last seq read, `null` = from
   * the start); `deliveryId` is the log position, `id` stays the same on a replay.
   */
  async milestonesSince(since: string | null, limit = 100): Promise<TmsMilestonePage> {
    const g = this.faults.before('milestonesSince');
    if (g) await g;
    const { page, watermark } = feedPage(this.log, since, limit, this.system);
    return { milestones: page.map(toFeedMilestone), watermark };
  }

  /** The kept milestone log after `seq` (0 = from the oldest kept), for inspection. */
  milestoneLog(seq: number, limit = 100): TmsMilestone[] {
    return this.log.after(seq, limit).entries;
  }

  /** Number of milestones emitted so far, evicted ones included (the log's latest seq). */
  get milestoneCount(): number {
    return this.log.length;
  }

  /**
   * Subscribes to new bookings (a copy of each, once: a repeated booking is not announced);
   * returns the unsubscribe function. The estate driver uses it to move booked shipments.
   */
  onBooked(listener: (booking: TmsBookingRecord) => void): () => void {
    this.bookingListeners.add(listener);
    return () => this.bookingListeners.delete(listener);
  }

  /** The booking for a tracking number (a copy). */
  booking(trackingNumber: string): TmsBookingRecord | null {
    const b = this.byTracking.get(trackingNumber);
    return b ? { ...b } : null;
  }

  /** Kept bookings in creation order, paged. */
  listBookings(offset: number, limit: number): { items: TmsBookingRecord[]; total: number } {
    return {
      items: pageOf(this.byTracking.values(), offset, limit).map((b) => ({ ...b })),
      total: this.byTracking.size,
    };
  }

  /** Number of distinct bookings, evicted ones included. */
  get bookingCount(): number {
    return this.booked;
  }

  /** Records evicted from memory so far, per kind. */
  get evictedCounts(): { bookings: number; milestones: number } {
    return { bookings: this.byTracking.evicted, milestones: this.log.evicted };
  }

  private assign(input: TmsBookingInput): { carrier: string; trackingNumber: string } {
    const n = this.counter++;
    // The carrier the hub chose (its shipping rules), when it chose one this network knows.
    const chosen = input.carrier ? carrierNumbers[input.carrier] : undefined;
    if (chosen) return { carrier: input.carrier!, trackingNumber: chosen(n, input.shippingMethod) };
    const method = input.shippingMethod;
    if (method === 'freight' || (method === 'ground' && input.weightKg > 68)) {
      return { carrier: 'XPO LTL', trackingNumber: `PRO${String(700_000_000 + n)}` };
    }
    if (method === 'pickup') return { carrier: 'WILL_CALL', trackingNumber: `WC-${n}` };
    if (method === 'express') return { carrier: 'FedEx', trackingNumber: String(770_000_000_000 + n) };
    // UPS-style: 1Z + 6-char shipper + 2-digit service + 8 digits.
    const service = method === 'air' ? '01' : '03';
    return { carrier: 'UPS', trackingNumber: `1Z9X8W7V${service}${String(n).padStart(8, '0')}` };
  }
}

/** Tracking numbers in each simulated carrier's format, by booking counter and method. */
const carrierNumbers: Record<string, (n: number, method: string) => string> = {
  UPS: (n, method) => `1Z9X8W7V${method === 'air' ? '01' : '03'}${String(n).padStart(8, '0')}`,
  FedEx: (n) => String(770_000_000_000 + n),
  USPS: (n) => `9400${String(n).padStart(18, '0')}`,
  'XPO LTL': (n) => `PRO${String(700_000_000 + n)}`,
  WILL_CALL: (n) => `WC-${n}`,
};

/** The port's view of a log entry. */
function toFeedMilestone(m: TmsMilestone): TmsFeedMilestone {
  const out: TmsFeedMilestone = {
    id: m.id,
    deliveryId: String(m.seq),
    hubOrderId: m.hubOrderId,
    shipmentId: m.shipmentId,
    carrier: m.carrier,
    trackingNumber: m.trackingNumber,
    type: m.type,
    at: m.at,
  };
  if (m.location !== undefined) out.location = m.location;
  if (m.detail !== undefined) out.detail = m.detail;
  if (m.reason !== undefined) out.reason = m.reason;
  return out;
}
