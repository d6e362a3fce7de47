/** TmsPort: carrier booking and tracking, and the carrier milestone feed. */
export interface TmsBookingInput {
  idempotencyKey: string;
  hubOrderId: string;
  shipmentId: string;
  shippingMethod: string;
  weightKg: number;
  hazmat: boolean;
  destinationCountry: string;
  /** The carrier the hub's shipping rules chose; the TMS picks one by method when absent. */
  carrier?: string;
  /** The carrier's service level the rules chose (`Ground`, `Next Day Air`). */
  service?: string;
}

/** What a TMS answers to a booking. */
export interface TmsBookingResult {
  carrier: string;
  trackingNumber: string;
  /** A repeat of a booking made before under the same key (same carrier and tracking number). */
  duplicate: boolean;
  /** The service booked, when the TMS says. */
  service?: string;
}

/** What a carrier reports about a booked shipment. */
export type TmsMilestoneType = 'in_transit' | 'out_for_delivery' | 'delivered' | 'exception';

/**
 * One delivery of a carrier milestone from the TMS's change feed. `id` is stable across
 * re-sends of the same scan; `deliveryId` names this feed entry (see `WmsFeedMilestone`).
 */
export interface TmsFeedMilestone {
  id: string;
  deliveryId: string;
  hubOrderId: string;
  /** The shipment id the booking was made for (the hub's shipment id). */
  shipmentId: string;
  /** Where the shipment left from, when the TMS knows it. */
  warehouseId?: string;
  carrier: string;
  trackingNumber: string;
  type: TmsMilestoneType;
  at: string;
  location?: string;
  detail?: string;
  /** `exception`: why, as a short code (`return_to_sender`, `failure`, the carrier's status detail). */
  reason?: string;
}

/** A page of the TMS milestone feed, shaped like `ErpChangePage`. */
export interface TmsMilestonePage {
  milestones: TmsFeedMilestone[];
  /** Pass back as `since` to continue after the last milestone returned. */
  watermark: string;
}

export interface TmsPort {
  readonly system: string;
  /** Idempotent by key. Refuses what the carrier will not move (hazmat by air) as policy_violation. */
  bookShipment(input: TmsBookingInput): Promise<TmsBookingResult>;
  /** Milestones after the watermark (`null` = from the start), oldest first. */
  milestonesSince(since: string | null, limit?: number): Promise<TmsMilestonePage>;
}

/** One scan from a carrier's own tracking webhook, already canonical. */
export interface CarrierScanReport {
  /** Stable across re-sends of the same scan (a carrier re-sends its history with each update). */
  id: string;
  type: TmsMilestoneType;
  at: string;
  detail?: string;
  location?: string;
  /** `exception`: why, as a short code. */
  reason?: string;
}

/** What a carrier's webhook says about one tracking number. */
export interface CarrierTrackingUpdate {
  trackingNumber: string;
  carrier: string;
  /** Canonical scans, oldest first. */
  scans: CarrierScanReport[];
  /** Scans with no canonical meaning (label created, unknown). */
  skipped: number;
}

/** A carrier webhook body, read. */
export interface CarrierWebhookPayload {
  /** The sender's event id (its redeliveries repeat it), when it has one. */
  eventId: string | null;
  trackers: CarrierTrackingUpdate[];
  /** Why the payload names no tracker (`not_a_tracker`, `no_result`), when it names none. */
  ignored?: string;
}

/**
 * A carrier or tracking aggregator (EasyPost) that posts its own webhooks in its own format:
 * verifies its signature and reads its body into canonical scans. `parse` throws `data_quality`
 * with `details.reason = 'malformed_carrier_payload'` and `details.field` for a body it cannot read.
 */
export interface CarrierWebhookPort {
  /** The route's name for it (`easypost`) and the key of its secret. */
  readonly carrier: string;
  /** The header carrying its signature (lowercase). */
  readonly signatureHeader: string;
  verify(
    secrets: string | readonly string[],
    rawBody: string | Buffer,
    header: string | undefined,
  ): { ok: true } | { ok: false; reason: string };
  parse(json: unknown): CarrierWebhookPayload;
}
