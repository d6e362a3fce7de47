export {
  type ErpDetails,
  type PlanOptions,
  planReport,
  type ReportPlan,
  reportException,
} from './apply-report.js';
export {
  type BackorderOutcome,
  Backorders,
  type BackordersDeps,
  backordersId,
  promiseDate,
} from './backorders.js';
export {
  type BookingOutcome,
  CarrierBooking,
  type CarrierBookingDeps,
  CarrierRules,
  CarrierServiceRule,
  carrierBookingId,
  chooseCarrier,
  defaultCarrierRules,
} from './carrier-booking.js';
export {
  type CarrierTrackerOutcome,
  type CarrierWebhookDeps,
  type CarrierWebhookRequest,
  type CarrierWebhookResult,
  receiveCarrierWebhook,
} from './carrier-webhook.js';
export {
  type CommitReportDeps,
  type CommitReportOptions,
  type CommitReportResult,
  type CommitReportsResult,
  commitReport,
  commitReportAttempts,
  commitReports,
} from './commit-report.js';
export {
  type FeedPassReport,
  FulfillmentSync,
  type FulfillmentSyncDeps,
  fulfillmentCursorName,
  fulfillmentSyncId,
  type SyncPassReport,
} from './fulfillment-sync.js';
export { InventoryRefresh, type InventoryRefreshDeps, type InventorySource } from './inventory-refresh.js';
export {
  erpShipmentId,
  type FeedSource,
  type FulfillmentReport,
  fromErpChange,
  fromTmsMilestone,
  fromWmsMilestone,
} from './milestones.js';
export {
  countedShipments,
  customerStatusFor,
  type FulfillmentProgress,
  fulfillmentProgress,
  hasShipped,
  isDelivered,
  type OverShipment,
  openQuantity,
} from './shipment-progress.js';
export {
  findTrackedShipment,
  normalizeTrackingNumber,
  type TrackedShipment,
  trackingEntry,
  trackingKey,
} from './tracking-index.js';
export { applyWebhook, reportFromWebhook, type WebhookApplyDeps } from './webhooks.js';
