/**
 * Public face of the Tryton connector: the ErpPort factory, its config, the guarded warehouse
 * operations, and the real-trytond harness used by tests and local runs.
 */
export { decodeWatermark, encodeWatermark } from './change-feed.js';
export { type FulfillmentTarget, TrytonFulfillment } from './fulfillment.js';
export { defaultRetryPolicy, type RetryPolicy } from './retry.js';
export { type TrytonClientOptions, TrytonRpcClient } from './rpc-client.js';
export {
  defaultTrytonTestPassword,
  type StartTrytonServerOptions,
  startTrytonServer,
  type TrytonManifest,
  type TrytonServerHandle,
} from './test-server.js';
export { createTrytonErp, TrytonErp, type TrytonErpConfig } from './tryton-erp.js';
