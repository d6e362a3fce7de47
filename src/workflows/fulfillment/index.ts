export { type ErpDetails, type PlanOptions, planReport, type ReportPlan } from './apply-report.js';
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
