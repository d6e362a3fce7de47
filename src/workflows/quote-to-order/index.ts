export type { FulfillmentPlan, QuoteToOrderDeps } from './context.js';
export { CreditExposureCache } from './credit-cache.js';
export * from './policy.js';
export { QuoteToOrder, type SubmitInput, type SubmitResult, toDecision, decideStepId } from './workflow.js';
