/**
 * EasyPost tracker payloads → canonical carrier scans (in transit, out for delivery, delivered,
 * exception with its reason).
 *
 * What EasyPost sends: a webhook is an `Event` whose `result` is the object that changed; for
 * tracking that is a `Tracker` (`tracker.created`, `tracker.updated`) carrying its whole scan
 * history in `tracking_details`. The API also answers a `Tracker` alone, a list (`trackers`), or a
 * bought `Shipment` with its `tracker` embedded. All of those are accepted here; anything else
 * (`batch.updated`, a webhook or event listing, an event without its `result`) names no tracker
 * and is reported as such, not as an error.
 *
 * Why every scan and not the tracker's status alone: a missed webhook loses nothing, because the
 * next update carries the history again; each scan gets a stable id (tracker, time, status,
 * detail), so a scan re-sent in every later update is recorded once on its shipment.
 *
 * | EasyPost status | canonical | reason |
 * | --- | --- | --- |
 * | `in_transit` | in_transit | — |
 * | `out_for_delivery` | out_for_delivery | — |
 * | `delivered` | delivered | — |
 * | `available_for_pickup` | exception | `available_for_pickup` |
 * | `return_to_sender` | exception | `return_to_sender` |
 * | `failure` | exception | its `status_detail` (`address_not_found`, …), else `failure` |
 * | `error` | exception | `tracking_error` |
 * | `cancelled` | exception | `cancelled` |
 * | `pre_transit`, `unknown`, anything new | — (no canonical scan: counted as skipped) | — |
 *
 * Schemas are loose (EasyPost adds fields) and accept `null` or `""` where the published
 * responses differ (`description`, `carrier_code`); what the mapping needs is required, and a
 * payload without it is refused naming the field.
 */
import { z } from 'zod';
import { CrossdockError } from '../../domain/index.js';

/** A canonical carrier milestone from a scan. */
export type CarrierScanType = 'in_transit' | 'out_for_delivery' | 'delivered' | 'exception';

/** One scan of a tracker, canonical. */
export interface CarrierScan {
  /** Stable across re-sends: `<tracker id>:<time>:<status>:<status detail>`. */
  id: string;
  type: CarrierScanType;
  at: string;
  /** The carrier's words (`message`, else `description`). */
  detail?: string;
  /** City, state and postal code of the scan. */
  location?: string;
  /** `exception`: why (see the table in the file comment). */
  reason?: string;
  /** EasyPost's own status and status detail of the scan. */
  native: { status: string; statusDetail: string | null };
}

/** A tracker as the hub reads it. */
export interface EasyPostTrackerUpdate {
  trackerId: string;
  trackingNumber: string;
  carrier: string;
  status: string;
  statusDetail: string | null;
  updatedAt: string;
  /** EasyPost's shipment id when the tracker belongs to a shipment bought there. */
  easypostShipmentId: string | null;
  estDeliveryDate: string | null;
  publicUrl: string | null;
  /** Canonical scans, oldest first. */
  scans: CarrierScan[];
  /** Scans with no canonical meaning (`pre_transit`, `unknown`). */
  skipped: number;
}

/** What a payload held. */
export interface EasyPostPayload {
  /** `Event`, `Tracker`, `Shipment`, `TrackerList`, `EventList`, or what the payload said it was. */
  object: string;
  /** EasyPost's event id when the payload is an event (the webhook's dedupe key). */
  eventId: string | null;
  /** `tracker.updated` and the like, for events. */
  description: string | null;
  trackers: EasyPostTrackerUpdate[];
  /** Why no tracker was found, when none was. */
  ignored?: 'not_a_tracker' | 'no_result';
}

const nullableText = z.string().nullable().optional();
const dateTime = z.iso.datetime({ offset: true });

const TrackingLocation = z.looseObject({
  city: nullableText,
  state: nullableText,
  country: nullableText,
  zip: nullableText,
});

const TrackingDetail = z.looseObject({
  message: nullableText,
  description: nullableText,
  status: z.string().min(1),
  status_detail: nullableText,
  datetime: dateTime,
  source: nullableText,
  tracking_location: TrackingLocation.nullable().optional(),
});

const Tracker = z.looseObject({
  id: z.string().min(1),
  object: z.literal('Tracker'),
  tracking_code: z.string().min(1).max(200),
  status: z.string().min(1),
  status_detail: nullableText,
  carrier: z.string().min(1).max(100),
  created_at: dateTime,
  updated_at: dateTime,
  shipment_id: nullableText,
  est_delivery_date: dateTime.nullable().optional(),
  public_url: nullableText,
  tracking_details: z.array(TrackingDetail).max(1000).default([]),
});
type Tracker = z.infer<typeof Tracker>;

const statusMap: Record<string, { type: CarrierScanType; reason?: (detail: string | null) => string }> = {
  in_transit: { type: 'in_transit' },
  out_for_delivery: { type: 'out_for_delivery' },
  delivered: { type: 'delivered' },
  available_for_pickup: { type: 'exception', reason: () => 'available_for_pickup' },
  return_to_sender: { type: 'exception', reason: () => 'return_to_sender' },
  failure: {
    type: 'exception',
    reason: (d) => (d && d !== 'unknown' && d !== 'status_update' ? d : 'failure'),
  },
  error: { type: 'exception', reason: () => 'tracking_error' },
  cancelled: { type: 'exception', reason: () => 'cancelled' },
};

/** The canonical scan type of an EasyPost status, or null when it has none. */
export function canonicalScanType(status: string): CarrierScanType | null {
  return statusMap[status]?.type ?? null;
}

/**
 * Reads an EasyPost payload (already JSON-parsed). Throws `data_quality` with
 * `details.reason = 'malformed_carrier_payload'` and `details.field` naming the first offending
 * field (`result.tracking_code`, `tracking_details.0.datetime`) when a tracker is there but not
 * readable.
 */
export function parseEasyPostPayload(json: unknown): EasyPostPayload {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw malformed('(root)', 'an EasyPost payload is a JSON object');
  }
  const o = json as Record<string, unknown>;
  const object = typeof o['object'] === 'string' ? o['object'] : null;
  if (object === 'Event') {
    const eventId = typeof o['id'] === 'string' ? o['id'] : null;
    const description = typeof o['description'] === 'string' ? o['description'] : null;
    const result = o['result'];
    if (result === undefined || result === null) {
      return { object, eventId, description, trackers: [], ignored: 'no_result' };
    }
    const inner = typeof result === 'object' ? (result as Record<string, unknown>)['object'] : undefined;
    if (inner !== 'Tracker' && inner !== 'Shipment') {
      return { object, eventId, description, trackers: [], ignored: 'not_a_tracker' };
    }
    const trackers = inner === 'Tracker' ? [tracker(result, 'result')] : shipmentTrackers(result, 'result');
    return { object, eventId, description, trackers };
  }
  if (object === 'Tracker') return { object, eventId: null, description: null, trackers: [tracker(o, '')] };
  if (object === 'Shipment') {
    return { object, eventId: null, description: null, trackers: shipmentTrackers(o, '') };
  }
  if (Array.isArray(o['trackers'])) {
    const list = o['trackers'] as unknown[];
    return {
      object: 'TrackerList',
      eventId: null,
      description: null,
      trackers: list.map((t, i) => tracker(t, `trackers.${i}`)),
    };
  }
  if (Array.isArray(o['events'])) {
    // An event listing: each event is read like a webhook; only those with a tracker count.
    const trackers = (o['events'] as unknown[]).flatMap((ev) => parseEasyPostPayload(ev).trackers);
    return {
      object: 'EventList',
      eventId: null,
      description: null,
      trackers,
      ...(trackers.length === 0 ? { ignored: 'no_result' as const } : {}),
    };
  }
  return {
    object: object ?? 'unknown',
    eventId: null,
    description: null,
    trackers: [],
    ignored: 'not_a_tracker',
  };
}

/** The tracker of a bought shipment, if it has one. */
function shipmentTrackers(shipment: unknown, at: string): EasyPostTrackerUpdate[] {
  const t = (shipment as Record<string, unknown>)['tracker'];
  return t === undefined || t === null ? [] : [tracker(t, join(at, 'tracker'))];
}

function tracker(value: unknown, at: string): EasyPostTrackerUpdate {
  const parsed = Tracker.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw malformed(join(at, (issue?.path ?? []).map(String).join('.')), issue?.message ?? 'invalid');
  }
  return toUpdate(parsed.data);
}

function toUpdate(t: Tracker): EasyPostTrackerUpdate {
  const scans: CarrierScan[] = [];
  let skipped = 0;
  const details = [...t.tracking_details].sort((a, b) => a.datetime.localeCompare(b.datetime));
  for (const d of details) {
    const scan = scanOf(t.id, d.status, d.status_detail ?? null, d.datetime, d);
    if (scan) scans.push(scan);
    else skipped++;
  }
  // The tracker's own status, when no scan says it (a tracker updated without its details).
  const covered = scans.some((s) => s.native.status === t.status);
  if (!covered) {
    const own = scanOf(t.id, t.status, t.status_detail ?? null, t.updated_at, null);
    if (own) scans.push(own);
  }
  return {
    trackerId: t.id,
    trackingNumber: t.tracking_code,
    carrier: t.carrier,
    status: t.status,
    statusDetail: t.status_detail ?? null,
    updatedAt: t.updated_at,
    easypostShipmentId: t.shipment_id ?? null,
    estDeliveryDate: t.est_delivery_date ?? null,
    publicUrl: t.public_url ?? null,
    scans,
    skipped,
  };
}

function scanOf(
  trackerId: string,
  status: string,
  statusDetail: string | null,
  at: string,
  detail: z.infer<typeof TrackingDetail> | null,
): CarrierScan | null {
  const m = statusMap[status];
  if (!m) return null;
  const scan: CarrierScan = {
    id: `${trackerId}:${at}:${status}:${statusDetail ?? ''}`,
    type: m.type,
    at,
    native: { status, statusDetail },
  };
  const words = detail?.message || detail?.description;
  if (words) scan.detail = words;
  const location = locationOf(detail?.tracking_location ?? null);
  if (location) scan.location = location;
  if (m.reason) scan.reason = m.reason(statusDetail);
  return scan;
}

/** `HOUSTON, TX 77063`: the parts EasyPost gave, in address order. */
function locationOf(l: z.infer<typeof TrackingLocation> | null): string | null {
  if (!l) return null;
  const cityState = [l.city, l.state].filter((p): p is string => !!p).join(', ');
  const text = [cityState, l.zip, l.country]
    .filter((p): p is string => !!p)
    .join(' ')
    .trim();
  return text === '' ? null : text;
}

function join(a: string, b: string): string {
  return a === '' ? b || '(root)' : b === '' ? a : `${a}.${b}`;
}

function malformed(field: string, message: string): CrossdockError {
  return CrossdockError.dataQuality(`EasyPost payload: ${field} ${message}`, {
    owner: 'integration',
    details: { reason: 'malformed_carrier_payload', field, carrier: 'easypost' },
  });
}
