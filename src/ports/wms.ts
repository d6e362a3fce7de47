/** WmsPort: inventory positions, order release to the warehouse, and its milestone feed. */
import type { Address, InventoryPosition } from '../domain/index.js';

export interface WmsReleaseInput {
  idempotencyKey: string;
  hubOrderId: string;
  warehouseId: string;
  shipTo: Address;
  shippingMethod: string;
  lines: { sku: string; quantity: number }[];
}

/** What a warehouse reports about a warehouse order, in its own words. */
export type WmsMilestoneType = 'released' | 'allocated' | 'backordered' | 'picked' | 'packed' | 'shipped';

/**
 * One delivery of a warehouse milestone from the WMS's change feed.
 *
 * Why two ids: a warehouse re-sends milestones (late scans, retried webhooks). `id` names the
 * milestone itself and is the same on every re-send, so the hub records it once on the
 * shipment; `deliveryId` names this feed entry, so the hub's inbound dedupe makes a re-read of
 * the same entry (two pollers, a lost cursor) apply nothing while a genuine re-send is still
 * kept in the order's timeline.
 */
export interface WmsFeedMilestone {
  id: string;
  deliveryId: string;
  hubOrderId: string;
  /** The warehouse order (the hub's shipment id for WMS shipments). */
  shipmentId: string;
  warehouseId: string;
  type: WmsMilestoneType;
  at: string;
  detail?: string;
  /**
   * `allocated`: what was allocated per SKU (0 when nothing could be); `backordered`: what could
   * not be, per SKU (the hub moves it from the warehouse's allocation to the line's backorder);
   * other types: the order lines.
   */
  lines?: { sku: string; quantity: number }[];
}

/** A page of the WMS milestone feed, shaped like `ErpChangePage`. */
export interface WmsMilestonePage {
  milestones: WmsFeedMilestone[];
  /** Pass back as `since` to continue after the last milestone returned. */
  watermark: string;
}

/** What the hub asks a WMS to stop (`WmsPort.cancelRelease`). */
export interface WmsCancelInput {
  /** Idempotency key of the cancellation (a repeat changes nothing). */
  idempotencyKey: string;
  /** Every warehouse order released for this hub order is cancelled unless it shipped. */
  hubOrderId: string;
  /** Why, as a short code. */
  reason: string;
}

/** The WMS's answer: what it stopped (now or before), and what had already left. */
export interface WmsCancelResult {
  cancelled: { wmsOrderId: string; warehouseId: string; lines: { sku: string; quantity: number }[] }[];
  shipped: { wmsOrderId: string; warehouseId: string }[];
}

/** A return the warehouse should expect (`WmsPort.expectReturn`), idempotent by `returnId`. */
export interface WmsReturnExpectation {
  returnId: string;
  hubOrderId: string;
  rmaNumber: string;
  /** Where the goods go back to (the warehouse they shipped from). */
  warehouseId: string;
  lines: { sku: string; quantity: number }[];
}

/** The warehouse received a return and inspected it, per line. */
export interface WmsReturnReceipt {
  /** Names this feed entry (the hub's inbound dedupe key). */
  deliveryId: string;
  returnId: string;
  hubOrderId: string;
  warehouseId: string;
  at: string;
  lines: { sku: string; received: number; accepted: number; rejected: number; reason?: string }[];
}

/** A page of return receipts, shaped like `WmsMilestonePage`. */
export interface WmsReturnReceiptPage {
  receipts: WmsReturnReceipt[];
  watermark: string;
}

export interface WmsPort {
  readonly system: string;
  getInventory(skus?: string[]): Promise<InventoryPosition[]>;
  /** Idempotent by key: a repeat returns the first warehouse order. */
  releaseOrder(input: WmsReleaseInput): Promise<{ wmsOrderId: string; duplicate: boolean }>;
  /**
   * Cancels the hub order's warehouse orders that have not shipped (their allocations given back);
   * idempotent. Optional: without it a cancellation reaches the warehouse only by hand (the hub
   * parks it as an exception for logistics).
   */
  cancelRelease?(input: WmsCancelInput): Promise<WmsCancelResult>;
  /** Announces an authorized return (an RMA) to the warehouse; idempotent by return id. Optional. */
  expectReturn?(input: WmsReturnExpectation): Promise<{ duplicate: boolean }>;
  /** Return receipts with their inspection, after the watermark, oldest first. Optional. */
  returnReceiptsSince?(since: string | null, limit?: number): Promise<WmsReturnReceiptPage>;
  /** Milestones after the watermark (`null` = from the start), oldest first. */
  milestonesSince(since: string | null, limit?: number): Promise<WmsMilestonePage>;
}
