/** WmsPort: inventory positions and order release to the warehouse. */
import type { Address, InventoryPosition } from '../domain/index.js';

export interface WmsReleaseInput {
  idempotencyKey: string;
  hubOrderId: string;
  warehouseId: string;
  shipTo: Address;
  shippingMethod: string;
  lines: { sku: string; quantity: number }[];
}

export interface WmsPort {
  readonly system: string;
  getInventory(skus?: string[]): Promise<InventoryPosition[]>;
  /** Idempotent by key: a repeat returns the first warehouse order. */
  releaseOrder(input: WmsReleaseInput): Promise<{ wmsOrderId: string; duplicate: boolean }>;
}
