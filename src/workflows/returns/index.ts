/** Returns (RMA): request, ERP authorization, warehouse receipt and inspection, credit memo. */
export {
  applyCreditMemo,
  invoiceEvent,
  invoiceEventData,
  invoiceFromErp,
  type PlanContext,
  planAuthorization,
  planCredit,
  planReceipt,
  planReturnRequest,
  type ReceiptLine,
  type ReturnPlan,
  type ReturnRequestInput,
  returnEventData,
  returnForCase,
  returnsWorkflowId,
} from './plan.js';
export {
  type ReturnsPassReport,
  ReturnsProcessor,
  type ReturnsProcessorDeps,
  returnReceiptsCursorName,
  returnsCursorName,
} from './processor.js';
export {
  type ReturnRequestDeps,
  type ReturnRequestExtras,
  type ReturnRequestResult,
  requestReturn,
} from './requests.js';
