/**
 * Public face of the EasyPost connector: tracker payloads read into canonical carrier scans, and
 * the webhook signature check. The hub applies the scans through the fulfillment workflow
 * (`receiveCarrierWebhook`), which finds the order by tracking number.
 */
export {
  type EasyPostSignatureFailure,
  easypostSignatureHeader,
  signEasyPost,
  verifyEasyPostSignature,
} from './signature.js';
export {
  type CarrierScan,
  type CarrierScanType,
  canonicalScanType,
  type EasyPostPayload,
  type EasyPostTrackerUpdate,
  parseEasyPostPayload,
} from './tracker.js';
export { easypostWebhooks } from './webhooks.js';
