/**
 * EasyPost as a `CarrierWebhookPort`: the signature check and the tracker mapping of this
 * connector behind the port the fulfillment workflow reads carrier webhooks through (the
 * composition root hands it to the route; workflows never import connectors).
 */
import type { CarrierWebhookPayload, CarrierWebhookPort } from '../../ports/index.js';
import { easypostSignatureHeader, verifyEasyPostSignature } from './signature.js';
import { parseEasyPostPayload } from './tracker.js';

/** EasyPost tracker webhooks, read for the hub. */
export const easypostWebhooks: CarrierWebhookPort = {
  carrier: 'easypost',
  signatureHeader: easypostSignatureHeader,
  verify: (secrets, rawBody, header) => verifyEasyPostSignature(secrets, rawBody, header),
  parse(json: unknown): CarrierWebhookPayload {
    const p = parseEasyPostPayload(json);
    return {
      eventId: p.eventId,
      trackers: p.trackers.map((t) => ({
        trackingNumber: t.trackingNumber,
        carrier: t.carrier,
        skipped: t.skipped,
        scans: t.scans.map(({ native: _native, ...scan }) => scan),
      })),
      ...(p.ignored ? { ignored: p.ignored } : {}),
    };
  },
};
