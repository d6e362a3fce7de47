export {
  type AgedHoldsDeps,
  type AgedHoldsResult,
  agedHoldExceptionId,
  agedHoldSource,
  escalateAgedHolds,
} from './aged-holds.js';
export { cancelRequestId, cancelRequestQueue, recordCancelRequest } from './cancel-requests.js';
export type { FulfillmentPlan, QuoteToOrderDeps } from './context.js';
export { CreditExposureCache } from './credit-cache.js';
export type {
  ActionResult,
  CancelInput,
  HoldActionInput,
  OrderActionInput,
  OrderActor,
} from './order-actions.js';
export * from './policy.js';
export { decideStepId, QuoteToOrder, type SubmitInput, type SubmitResult, toDecision } from './workflow.js';
