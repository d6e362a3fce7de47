export type { FulfillmentPlan, QuoteToOrderDeps } from './context.js';
export { CreditExposureCache } from './credit-cache.js';
export * from './policy.js';
export { decideStepId, QuoteToOrder, type SubmitInput, type SubmitResult, toDecision } from './workflow.js';
