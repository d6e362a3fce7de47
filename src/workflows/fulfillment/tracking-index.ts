/**
 * Which order and shipment a carrier tracking number belongs to.
 *
 * Why: a carrier's own webhook (an EasyPost tracker update) names a tracking number and nothing
 * the hub knows; the order has to be found from it. The entry is written in the same commit that
 * puts the tracking number on the shipment (`planReport` emits it whenever a shipment gets a
 * tracking number, from the hub's booking, the TMS feed or a webhook), so it exists exactly when
 * the order says so and is never behind it.
 *
 * Where: the store's keyed `cursors` table (`CommitUnit.cursors`, `Store.getCursor`), under the
 * name `tracking:<number>`. That table is the store's one durable key → value map written inside
 * a commit unit; a lookup is one primary-key read on both backends. The names are namespaced, so
 * they never meet a change-feed watermark. Retention does not prune them (one short row per
 * shipment); a dedicated index in the store would replace this module without touching callers.
 */
import type { Store } from '../../ports/index.js';

/** Where a tracking number points. */
export interface TrackedShipment {
  orderId: string;
  shipmentId: string;
  carrier: string | null;
}

/** Tracking numbers are compared without spaces and dashes, case-insensitively. */
export function normalizeTrackingNumber(trackingNumber: string): string {
  return trackingNumber.replace(/[\s-]+/g, '').toUpperCase();
}

/** The stored name of a tracking number's entry. Stored: never change the format. */
export function trackingKey(trackingNumber: string): string {
  return `tracking:${normalizeTrackingNumber(trackingNumber)}`;
}

/** The entry to commit when `shipment` of `orderId` gets `trackingNumber` (see the file comment). */
export function trackingEntry(
  trackingNumber: string,
  target: TrackedShipment,
): { name: string; value: string } {
  return { name: trackingKey(trackingNumber), value: JSON.stringify(target) };
}

/** The order and shipment a tracking number was put on, or null when the hub never saw it. */
export async function findTrackedShipment(
  store: Store,
  trackingNumber: string,
): Promise<TrackedShipment | null> {
  if (normalizeTrackingNumber(trackingNumber) === '') return null;
  const raw = await store.getCursor(trackingKey(trackingNumber));
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as Partial<TrackedShipment>;
    if (typeof v.orderId !== 'string' || typeof v.shipmentId !== 'string') return null;
    return {
      orderId: v.orderId,
      shipmentId: v.shipmentId,
      carrier: typeof v.carrier === 'string' ? v.carrier : null,
    };
  } catch {
    return null;
  }
}
