/**
 * Carrier webhooks in the carrier's own format (EasyPost tracker updates), applied to the orders
 * the hub owns like every other milestone.
 *
 * Why a path of its own beside the CloudEvents webhooks: a carrier or tracking aggregator posts
 * its own body, signed its own way, and names a tracking number, never the hub's order. So the
 * carrier's `CarrierWebhookPort` (a connector, handed in by the composition root) verifies and
 * reads the body into canonical scans, the order and shipment are found by tracking number
 * (`findTrackedShipment`: the index written with every tracking number the hub put on a
 * shipment), and the scans go through `planReport` like a TMS feed's: monotonic, recorded once
 * per scan on the shipment, in the timeline, published as the hub's own milestone events. A
 * carrier re-sends the whole scan history with every update; scans already on the shipment are
 * left out, the new ones commit as one unit with the update's inbound dedupe record.
 *
 * Answers, never a 500 for what the sender sent:
 * - `applied` / `recorded`: committed (recorded = timeline only: nothing moved, or the order is
 *   closed; goods moving for a cancelled order are also kept as an exception for customer service);
 * - `unchanged`: nothing in it is new (every scan is on the shipment already, or it has none
 *   with a canonical meaning: a label created); `duplicate`: this very update was applied before;
 * - `ignored`: the payload names no tracker (another EasyPost event type);
 * - `unknown_tracking_number`: the hub put that number on no shipment; kept as an exception (one
 *   per number, counting re-sends) with the raw payload, answered as accepted so the carrier does
 *   not retry it (its next update carries the history again, should the booking land late);
 * - thrown `data_quality` with `details.reason` and `details.field`: `unknown_source` (no such
 *   carrier), `signature_<why>` (nothing written; the route answers 401), `invalid_json` and
 *   `malformed_carrier_payload` (kept as an exception with the raw payload; the route answers 422).
 */
import { createHash } from 'node:crypto';
import { CrossdockError, terminalStates, toCrossdockError } from '../../domain/index.js';
import type {
  CarrierTrackingUpdate,
  CarrierWebhookPayload,
  CarrierWebhookPort,
  Clock,
  ExceptionInput,
  Store,
} from '../../ports/index.js';
import { commitReports } from './commit-report.js';
import { type FulfillmentReport, fromTmsMilestone } from './milestones.js';
import { findTrackedShipment, normalizeTrackingNumber } from './tracking-index.js';

/** What {@link receiveCarrierWebhook} needs. */
export interface CarrierWebhookDeps {
  store: Store;
  clock: Clock;
  /** The carriers that may post, by route name (`easypost`). */
  carriers: Readonly<Record<string, CarrierWebhookPort>>;
  /** Webhook secret(s) per carrier (config `webhooks.secrets.<carrier>`); none refuses every post. */
  secrets: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** Largest raw payload kept in an exception, bytes (longer ones are cut). Default 64 KiB. */
  maxKeptBytes?: number;
}

/** One received request, as the HTTP layer captured it. */
export interface CarrierWebhookRequest {
  /** From the route (`/webhooks/carriers/:carrier`), never from the body. */
  carrier: string;
  /** The exact bytes received. */
  rawBody: string | Buffer;
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/** What happened to one tracker of the payload. */
export interface CarrierTrackerOutcome {
  trackingNumber: string;
  status: 'applied' | 'recorded' | 'unchanged' | 'duplicate' | 'unknown_tracking_number';
  orderId: string | null;
  shipmentId: string | null;
  /** Scans committed now. */
  scans: number;
}

/** The answer to a carrier webhook (see the file comment). */
export interface CarrierWebhookResult {
  status: 'applied' | 'recorded' | 'unchanged' | 'duplicate' | 'ignored' | 'unknown_tracking_number';
  eventId: string | null;
  trackers: CarrierTrackerOutcome[];
  /** `ignored`: why (`not_a_tracker`, `no_result`). */
  reason?: string;
}

const rank: Record<CarrierWebhookResult['status'], number> = {
  ignored: 0,
  duplicate: 1,
  unchanged: 2,
  unknown_tracking_number: 3,
  recorded: 4,
  applied: 5,
};

/** Verifies, reads and applies one carrier webhook; see the file comment. */
export async function receiveCarrierWebhook(
  deps: CarrierWebhookDeps,
  request: CarrierWebhookRequest,
): Promise<CarrierWebhookResult> {
  const port = Object.hasOwn(deps.carriers, request.carrier) ? deps.carriers[request.carrier] : undefined;
  if (!port) {
    throw CrossdockError.dataQuality(`${request.carrier} is not a carrier that posts webhooks here`, {
      owner: 'integration',
      details: { reason: 'unknown_source', field: 'carrier', known: Object.keys(deps.carriers) },
    });
  }
  const header = request.headers[port.signatureHeader];
  const verdict = port.verify(
    deps.secrets[port.carrier] ?? [],
    request.rawBody,
    typeof header === 'string' ? header : header?.[0],
  );
  if (!verdict.ok) {
    throw CrossdockError.dataQuality(`${port.carrier} webhook signature refused (${verdict.reason})`, {
      owner: 'integration',
      details: { reason: `signature_${verdict.reason}`, field: port.signatureHeader, carrier: port.carrier },
    });
  }
  const text = typeof request.rawBody === 'string' ? request.rawBody : request.rawBody.toString('utf8');
  const raw = cut(text, deps.maxKeptBytes ?? 65_536);
  let payload: CarrierWebhookPayload;
  try {
    payload = port.parse(JSON.parse(text));
  } catch (err) {
    const e =
      err instanceof SyntaxError
        ? CrossdockError.dataQuality(`${port.carrier} webhook body is not JSON`, {
            owner: 'integration',
            details: { reason: 'invalid_json', field: '(root)', carrier: port.carrier },
          })
        : toCrossdockError(err);
    if (e.kind !== 'data_quality') throw e;
    await deps.store.commit({
      exceptions: [
        carrierException(port.carrier, String(e.details['reason'] ?? 'malformed'), null, e, raw, deps),
      ],
    });
    throw e;
  }
  if (payload.trackers.length === 0) {
    return {
      status: 'ignored',
      eventId: payload.eventId,
      trackers: [],
      reason: payload.ignored ?? 'not_a_tracker',
    };
  }
  const trackers: CarrierTrackerOutcome[] = [];
  for (const update of payload.trackers) {
    trackers.push(await applyTracker(deps, port.carrier, payload.eventId, update, raw));
  }
  const status = trackers.reduce<CarrierWebhookResult['status']>(
    (best, t) => (rank[t.status] > rank[best] ? t.status : best),
    'duplicate',
  );
  return { status, eventId: payload.eventId, trackers };
}

/** Applies one tracker's new scans to the shipment that carries its number. */
async function applyTracker(
  deps: CarrierWebhookDeps,
  carrier: string,
  eventId: string | null,
  update: CarrierTrackingUpdate,
  raw: string,
): Promise<CarrierTrackerOutcome> {
  const { store } = deps;
  const unknown = async (reason: string, detail: string): Promise<CarrierTrackerOutcome> => {
    const e = CrossdockError.dataQuality(detail, {
      owner: 'logistics',
      details: {
        reason,
        field: 'trackingNumber',
        trackingNumber: update.trackingNumber,
        carrier: update.carrier,
      },
    });
    await store.commit({
      exceptions: [
        carrierException(carrier, reason, normalizeTrackingNumber(update.trackingNumber), e, raw, deps),
      ],
    });
    return {
      trackingNumber: update.trackingNumber,
      status: 'unknown_tracking_number',
      orderId: null,
      shipmentId: null,
      scans: 0,
    };
  };
  const target = await findTrackedShipment(store, update.trackingNumber);
  if (!target) {
    return unknown(
      'unknown_tracking_number',
      `${carrier}: tracking number ${update.trackingNumber} (${update.carrier}) is on no shipment of the hub`,
    );
  }
  const order = await store.getOrder(target.orderId);
  const shipment = order?.shipments.find((s) => s.id === target.shipmentId);
  if (!order || !shipment) {
    return unknown(
      'unknown_tracking_number',
      `${carrier}: tracking number ${update.trackingNumber} points at shipment ${target.shipmentId} of order ${target.orderId}, which the hub does not have`,
    );
  }
  const known = new Set(shipment.events.map((e) => e.id));
  let scans = update.scans.filter((s) => !known.has(`tms:${s.id}`));
  // A closed order's shipment takes no scans; record only where the carrier says it is now.
  if (terminalStates.has(order.state)) scans = scans.slice(-1);
  const outcome = (status: CarrierTrackerOutcome['status'], n: number): CarrierTrackerOutcome => ({
    trackingNumber: update.trackingNumber,
    status,
    orderId: order.id,
    shipmentId: shipment.id,
    scans: n,
  });
  if (scans.length === 0) return outcome('unchanged', 0);
  const deliveryId = `${eventId ?? digest(scans.map((s) => s.id).join('|'))}:${normalizeTrackingNumber(update.trackingNumber)}`;
  const reports: FulfillmentReport[] = scans.map((s) => {
    const report = fromTmsMilestone(carrier, {
      id: s.id,
      deliveryId,
      hubOrderId: order.id,
      shipmentId: shipment.id,
      warehouseId: shipment.warehouseId,
      carrier: update.carrier,
      trackingNumber: update.trackingNumber,
      type: s.type,
      at: s.at,
      ...(s.location !== undefined ? { location: s.location } : {}),
      ...(s.detail !== undefined ? { detail: s.detail } : {}),
      ...(s.reason !== undefined ? { reason: s.reason } : {}),
    });
    report.raw = raw;
    return report;
  });
  const result = await commitReports(
    { store, clock: deps.clock, eventSource: `/crossdock/webhooks/carriers/${carrier}` },
    reports,
    { order, inbound: { source: `carrier.${carrier}`, id: deliveryId } },
  );
  if (result.outcome === 'duplicate') return outcome('duplicate', 0);
  return outcome(result.outcomes.includes('applied') ? 'applied' : 'recorded', scans.length);
}

/** One open exception per carrier, reason and (tracking number): re-sends count on it. */
function carrierException(
  carrier: string,
  reason: string,
  key: string | null,
  error: CrossdockError,
  raw: string,
  deps: CarrierWebhookDeps,
): ExceptionInput {
  return {
    id: `carrier:${carrier}:${reason}${key ? `:${key}` : ''}`,
    kind: error.kind,
    owner: error.owner,
    source: `carrier:${carrier}`,
    subscription: null,
    deliveryId: null,
    eventId: null,
    orderId: null,
    error: { ...error.toJSON(), at: deps.clock.now().toISOString(), raw },
    attempts: 1,
    coalesce: true,
  };
}

function cut(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  return `${Buffer.from(text).subarray(0, maxBytes).toString('utf8')}…[cut at ${maxBytes} bytes]`;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}
