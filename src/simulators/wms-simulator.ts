/**
 * WMS simulator: inventory per warehouse and order release behind `WmsPort`, plus the
 * fulfillment milestones (allocated/backordered, picked, packed, shipped) a real WMS would push.
 *
 * Why milestones are emitted by explicit calls (`advance`): tests and demos need to drive an
 * order through fulfillment step by step, including out-of-order and duplicate deliveries.
 * Milestones are kept in a sequence-numbered log (`milestonesSince`) and pushed to listeners
 * (`onMilestone`), so the hub can consume them either way.
 *
 * Bounded: the last `maxRecords` warehouse orders and milestones are kept. Shipped orders are
 * evicted before orders still in progress (those may yet be advanced), and the release key of
 * an evicted order is remembered for `maxKeys` more evictions, so a redelivered release is still
 * a duplicate rather than a second allocation.
 */
import { CrossdockError, type InventoryPosition, type ShipmentEvent } from '../domain/index.js';
import type {
  Clock,
  WmsCancelInput,
  WmsCancelResult,
  WmsFeedMilestone,
  WmsMilestonePage,
  WmsMilestoneType,
  WmsPort,
  WmsReleaseInput,
  WmsReturnExpectation,
  WmsReturnReceipt,
  WmsReturnReceiptPage,
} from '../ports/index.js';
import { BoundedLog, BoundedMap, BoundedRecords, pageOf } from './bounded.js';
import type { FaultInjector } from './faults.js';
import { feedPage } from './feed.js';
import { InventoryBook } from './inventory-book.js';

/** A fulfillment milestone as the WMS reports it: a canonical ShipmentEvent plus routing keys. */
export interface WmsMilestone extends Omit<ShipmentEvent, 'type'> {
  type: WmsMilestoneType;
  /** Position in the WMS's milestone log (1-based, gapless). */
  seq: number;
  hubOrderId: string;
  wmsOrderId: string;
  warehouseId: string;
  /** `allocated`: quantity allocated per SKU; `shipped`: quantity shipped per SKU. */
  lines?: { sku: string; quantity: number }[];
}

/** The WMS's stored warehouse order. */
export interface WmsOrderRecord {
  wmsOrderId: string;
  idempotencyKey: string;
  hubOrderId: string;
  warehouseId: string;
  shipTo: WmsReleaseInput['shipTo'];
  shippingMethod: string;
  lines: { sku: string; quantity: number; allocated: number; backordered: number }[];
  status: 'released' | 'picked' | 'packed' | 'shipped' | 'cancelled';
  createdAt: string;
}

/** Milestones `advance` accepts, in their natural order. */
export type WmsAdvanceMilestone = 'picked' | 'packed' | 'shipped';

const order: Record<WmsOrderRecord['status'], number> = {
  released: 0,
  picked: 1,
  packed: 2,
  shipped: 3,
  cancelled: 4,
};

/** Options of the WMS simulator. */
export interface WmsSimulatorOptions {
  clock: Clock;
  faults: FaultInjector;
  inventory: InventoryBook;
  warehouseIds: readonly string[];
  /** Warehouse orders, and milestones, kept; older ones are evicted. Default 50,000. */
  maxRecords?: number;
  /** Release keys of evicted orders remembered; default 4 × `maxRecords`. */
  maxKeys?: number;
}

/** Statuses after which the warehouse does nothing more with an order. */
const finished: ReadonlySet<WmsOrderRecord['status']> = new Set(['shipped', 'cancelled']);

/** The WMS stand-in. */
export class WmsSimulator implements WmsPort {
  readonly system = 'wms-sim';
  /** Fault settings and call/effect counters of this system. */
  readonly faults: FaultInjector;
  private readonly clock: Clock;
  private readonly inventory: InventoryBook;
  private readonly warehouses: ReadonlySet<string>;
  /** Kept warehouse orders, in creation order; shipped ones are evicted first. */
  private readonly orders: BoundedRecords<string, WmsOrderRecord>;
  /** Release key → warehouse order id, for kept orders. */
  private readonly byKey = new Map<string, string>();
  /** Release key → warehouse order id, for the last `maxKeys` evicted orders. */
  private readonly evictedKeys: BoundedMap<string, string>;
  private readonly log: BoundedLog<WmsMilestone>;
  private readonly listeners = new Set<(m: WmsMilestone) => void>();
  /** Expected returns by return id, and the receipts log (return receipts only). */
  private readonly expectedReturns = new Map<string, WmsReturnExpectation & { received: boolean }>();
  private readonly receipts: WmsReturnReceipt[] = [];
  private nextOrder = 1;

  constructor(options: WmsSimulatorOptions) {
    this.clock = options.clock;
    this.faults = options.faults;
    this.inventory = options.inventory;
    this.warehouses = new Set(options.warehouseIds);
    const maxRecords = options.maxRecords ?? 50_000;
    this.evictedKeys = new BoundedMap(options.maxKeys ?? 4 * maxRecords);
    this.orders = new BoundedRecords(maxRecords, (id, record) => {
      this.byKey.delete(record.idempotencyKey);
      this.evictedKeys.set(record.idempotencyKey, id);
    });
    this.log = new BoundedLog(maxRecords);
  }

  async getInventory(skus?: string[]): Promise<InventoryPosition[]> {
    const g = this.faults.before('getInventory');
    if (g) await g;
    const out: InventoryPosition[] = [];
    for (const sku of skus ?? this.inventory.skus()) {
      for (const p of this.inventory.positions(sku)) out.push(InventoryBook.toCanonical(p));
    }
    return out;
  }

  async releaseOrder(input: WmsReleaseInput): Promise<{ wmsOrderId: string; duplicate: boolean }> {
    const g = this.faults.before('releaseOrder');
    if (g) await g;
    const seen = this.byKey.get(input.idempotencyKey) ?? this.evictedKeys.get(input.idempotencyKey);
    if (seen) return { wmsOrderId: seen, duplicate: true };
    if (!this.warehouses.has(input.warehouseId)) {
      throw CrossdockError.dataQuality(`Unknown warehouse ${input.warehouseId}`, {
        details: { system: this.system, field: 'warehouseId' },
      });
    }
    if (input.lines.length === 0) {
      throw CrossdockError.dataQuality('A release needs at least one line', {
        details: { system: this.system, field: 'lines' },
      });
    }
    const now = this.clock.now().toISOString();
    const wmsOrderId = `WO-${String(this.nextOrder++).padStart(6, '0')}`;
    const lines = input.lines.map((l) => {
      const allocated = this.inventory.allocate(l.sku, input.warehouseId, l.quantity, now);
      return {
        sku: l.sku,
        quantity: l.quantity,
        allocated,
        backordered: Math.round((l.quantity - allocated) * 10_000) / 10_000,
      };
    });
    const record: WmsOrderRecord = {
      wmsOrderId,
      idempotencyKey: input.idempotencyKey,
      hubOrderId: input.hubOrderId,
      warehouseId: input.warehouseId,
      shipTo: { ...input.shipTo },
      shippingMethod: input.shippingMethod,
      lines,
      status: 'released',
      createdAt: now,
    };
    this.orders.add(wmsOrderId, record);
    this.byKey.set(input.idempotencyKey, wmsOrderId);
    this.faults.effect();
    this.emit(record, 'released');
    const short = lines.filter((l) => l.backordered > 0);
    this.emit(
      record,
      'allocated',
      short.length === lines.length ? 'nothing allocated' : undefined,
      lines.map((l) => ({ sku: l.sku, quantity: l.allocated })),
    );
    if (short.length > 0)
      this.emit(
        record,
        'backordered',
        short.map((l) => `${l.sku}×${l.backordered}`).join(', '),
        short.map((l) => ({ sku: l.sku, quantity: l.backordered })),
      );
    return { wmsOrderId, duplicate: false };
  }

  /**
   * Cancels every warehouse order of the hub order that has not shipped: its allocation goes
   * back to free stock and it leaves the pick lists. Idempotent (orders cancelled before are
   * reported again); orders already shipped are reported as such and left alone.
   */
  async cancelRelease(input: WmsCancelInput): Promise<WmsCancelResult> {
    const g = this.faults.before('cancelRelease');
    if (g) await g;
    const now = this.clock.now().toISOString();
    const result: WmsCancelResult = { cancelled: [], shipped: [] };
    for (const record of this.orders.values()) {
      if (record.hubOrderId !== input.hubOrderId) continue;
      if (record.status === 'shipped') {
        result.shipped.push({ wmsOrderId: record.wmsOrderId, warehouseId: record.warehouseId });
        continue;
      }
      if (record.status !== 'cancelled') {
        for (const l of record.lines) {
          if (l.allocated > 0) this.inventory.deallocate(l.sku, record.warehouseId, l.allocated, now);
        }
        record.status = 'cancelled';
        this.orders.settle(record.wmsOrderId);
        this.faults.effect();
      }
      result.cancelled.push({
        wmsOrderId: record.wmsOrderId,
        warehouseId: record.warehouseId,
        lines: record.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
      });
    }
    return result;
  }

  // --- drivers and inspection (no fault injection) ----------------------------------------

  /**
   * Stock arrives at a warehouse (an inbound receipt is put away): on hand grows by `quantity`
   * and the earliest inbound line of the position is consumed. What the hub sees on its next
   * read of the positions (`getInventory`).
   */
  receiveStock(sku: string, warehouseId: string, quantity: number): void {
    if (!this.warehouses.has(warehouseId))
      throw CrossdockError.dataQuality(`Unknown warehouse ${warehouseId}`);
    if (!(quantity > 0)) throw CrossdockError.dataQuality('A receipt needs a positive quantity');
    this.inventory.receive(sku, warehouseId, quantity, this.clock.now().toISOString());
  }

  /**
   * Moves a warehouse order forward (`picked` → `packed` → `shipped`) and emits the milestone;
   * `shipped` issues the allocated stock. Moving backwards or repeating throws a conflict.
   */
  advance(wmsOrderId: string, milestone: WmsAdvanceMilestone, detail?: string): WmsMilestone {
    const record = this.requireOrder(wmsOrderId);
    if (order[milestone] <= order[record.status]) {
      throw CrossdockError.conflict(
        `Warehouse order ${wmsOrderId} is ${record.status}; cannot move to ${milestone}`,
      );
    }
    record.status = milestone;
    if (finished.has(milestone)) this.orders.settle(wmsOrderId);
    if (milestone === 'shipped') {
      const now = this.clock.now().toISOString();
      for (const l of record.lines) {
        if (l.allocated > 0) this.inventory.issue(l.sku, record.warehouseId, l.allocated, now);
      }
    }
    const shipped =
      milestone === 'shipped'
        ? record.lines.filter((l) => l.allocated > 0).map((l) => ({ sku: l.sku, quantity: l.allocated }))
        : undefined;
    return this.emit(record, milestone, detail, shipped);
  }

  /**
   * A short pick: the picker finds fewer of `sku` on the shelf than the order was allocated
   * (`quantity` units missing). Before the order is picked only. The missing units leave the
   * books (on hand and allocated both drop: the count was wrong), the line's allocation moves to
   * its backorder, and a `backordered` milestone with that quantity is emitted (what the hub's
   * backorder path takes). At least one unit must stay allocated on the order, so the warehouse
   * order still ships something; a conflict otherwise.
   */
  shortPick(wmsOrderId: string, sku: string, quantity: number): WmsMilestone {
    const record = this.requireOrder(wmsOrderId);
    if (record.status !== 'released') {
      throw CrossdockError.conflict(`Warehouse order ${wmsOrderId} is ${record.status}; cannot short-pick`);
    }
    const line = record.lines.find((l) => l.sku === sku && l.allocated >= quantity);
    const left = record.lines.reduce((n, l) => n + l.allocated, 0) - quantity;
    if (!line || !(quantity > 0) || left <= 0) {
      throw CrossdockError.conflict(
        `Warehouse order ${wmsOrderId} cannot be short ${quantity} of ${sku} and still ship something`,
      );
    }
    line.allocated = Math.round((line.allocated - quantity) * 10_000) / 10_000;
    line.backordered = Math.round((line.backordered + quantity) * 10_000) / 10_000;
    this.inventory.writeOff(sku, record.warehouseId, quantity, this.clock.now().toISOString());
    return this.emit(record, 'backordered', `short pick: ${sku}×${quantity}`, [{ sku, quantity }]);
  }

  /** Records an authorized return the warehouse will receive (idempotent by return id). */
  async expectReturn(input: WmsReturnExpectation): Promise<{ duplicate: boolean }> {
    const g = this.faults.before('expectReturn');
    if (g) await g;
    if (this.expectedReturns.has(input.returnId)) return { duplicate: true };
    this.expectedReturns.set(input.returnId, { ...structuredClone(input), received: false });
    this.faults.effect();
    return { duplicate: false };
  }

  /**
   * Driver: the goods of an expected return arrive and are inspected. Per line, how many came
   * and how many were accepted (the rest rejected, with `reason`); accepted goods go back on the
   * shelf. One receipt per return: a second call throws a conflict. Published on
   * `returnReceiptsSince`.
   */
  receiveReturn(
    returnId: string,
    lines: { sku: string; received: number; accepted: number; reason?: string }[],
  ): WmsReturnReceipt {
    const expected = this.expectedReturns.get(returnId);
    if (!expected) throw CrossdockError.dataQuality(`No return ${returnId} is expected`);
    if (expected.received) throw CrossdockError.conflict(`Return ${returnId} was received already`);
    expected.received = true;
    const at = this.clock.now().toISOString();
    for (const l of lines) {
      if (l.accepted > 0) this.inventory.receive(l.sku, expected.warehouseId, l.accepted, at);
    }
    const receipt: WmsReturnReceipt = {
      deliveryId: `return-receipt:${this.receipts.length + 1}`,
      returnId,
      hubOrderId: expected.hubOrderId,
      warehouseId: expected.warehouseId,
      at,
      lines: lines.map((l) => ({
        sku: l.sku,
        received: l.received,
        accepted: l.accepted,
        rejected: Math.max(0, Math.round((l.received - l.accepted) * 10_000) / 10_000),
        ...(l.reason !== undefined ? { reason: l.reason } : {}),
      })),
    };
    this.receipts.push(receipt);
    return structuredClone(receipt);
  }

  /** The expected return of a return id (a copy), or null. */
  expectedReturn(returnId: string): (WmsReturnExpectation & { received: boolean }) | null {
    const r = this.expectedReturns.get(returnId);
    return r ? structuredClone(r) : null;
  }

  async returnReceiptsSince(since: string | null, limit = 100): Promise<WmsReturnReceiptPage> {
    const g = this.faults.before('returnReceiptsSince');
    if (g) await g;
    const start = since === null || since === '' ? 0 : Number(since);
    if (!Number.isInteger(start) || start < 0) {
      throw CrossdockError.dataQuality(`Invalid return-receipt watermark ${JSON.stringify(since)}`, {
        details: { system: this.system, field: 'since' },
      });
    }
    const page = this.receipts.slice(start, start + Math.max(1, limit));
    return { receipts: structuredClone(page), watermark: String(start + page.length) };
  }

  /**
   * Re-emits an earlier milestone of an order as a new log entry, to simulate a late or
   * duplicated delivery from the warehouse (the hub must not move the order backwards).
   */
  replayMilestone(seq: number): WmsMilestone {
    const m = this.log.get(seq);
    if (!m) throw CrossdockError.dataQuality(`No WMS milestone ${seq} (never emitted, or evicted)`);
    const copy: WmsMilestone = { ...m, seq: this.log.length + 1 };
    this.log.push(copy);
    for (const l of this.listeners) l(copy);
    return copy;
  }

  /**
   * The port's change feed: milestones after the watermark (the last seq read, `null` = from
   * the start). Each log entry is one delivery (`deliveryId` = its seq); a replayed milestone
   * keeps its `id`, as a warehouse re-sending a scan would.
   */
  async milestonesSince(since: string | null, limit = 100): Promise<WmsMilestonePage> {
    const g = this.faults.before('milestonesSince');
    if (g) await g;
    const { page, watermark } = feedPage(this.log, since, limit, this.system);
    return { milestones: page.map(toFeedMilestone), watermark };
  }

  /** The kept milestone log after `seq` (0 = from the oldest kept), up to `limit`, for inspection. */
  milestoneLog(seq: number, limit = 100): WmsMilestone[] {
    return this.log.after(seq, limit).entries;
  }

  /** Kept milestones from the `offset`-th kept one, paged (for the inspection route). */
  listMilestones(offset: number, limit: number): { items: WmsMilestone[]; total: number } {
    return { items: this.log.page(offset, limit), total: this.log.size };
  }

  /** Number of milestones emitted so far, evicted ones included (the log's latest seq). */
  get milestoneCount(): number {
    return this.log.length;
  }

  /** Subscribes to milestones as they are emitted; returns the unsubscribe function. */
  onMilestone(listener: (m: WmsMilestone) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The stored warehouse order (a copy). */
  order(wmsOrderId: string): WmsOrderRecord | null {
    const o = this.orders.get(wmsOrderId);
    return o ? structuredClone(o) : null;
  }

  /** Kept warehouse orders of a hub order. */
  ordersOf(hubOrderId: string): WmsOrderRecord[] {
    return [...this.orders.values()]
      .filter((o) => o.hubOrderId === hubOrderId)
      .map((o) => structuredClone(o));
  }

  /** Kept warehouse orders in creation order, paged. */
  listOrders(offset: number, limit: number): { items: WmsOrderRecord[]; total: number } {
    return {
      items: pageOf(this.orders.values(), offset, limit).map((o) => structuredClone(o)),
      total: this.orders.size,
    };
  }

  /** Canonical inventory positions, paged (for inspection routes). */
  listInventory(offset: number, limit: number, sku?: string): { items: InventoryPosition[]; total: number } {
    const all: InventoryPosition[] = [];
    for (const s of sku ? [sku] : this.inventory.skus()) {
      for (const p of this.inventory.positions(s)) all.push(InventoryBook.toCanonical(p));
    }
    return { items: all.slice(offset, offset + limit), total: all.length };
  }

  /** Number of warehouse orders released, evicted ones included (each key counts once). */
  get orderCount(): number {
    return this.nextOrder - 1;
  }

  /** Records evicted from memory so far, per kind. */
  get evictedCounts(): { orders: number; milestones: number } {
    return { orders: this.orders.evicted, milestones: this.log.evicted };
  }

  private requireOrder(wmsOrderId: string): WmsOrderRecord {
    const o = this.orders.get(wmsOrderId);
    if (!o)
      throw CrossdockError.dataQuality(`Unknown warehouse order ${wmsOrderId} (never released, or evicted)`);
    return o;
  }

  private emit(
    record: WmsOrderRecord,
    type: WmsMilestoneType,
    detail?: string,
    lines?: { sku: string; quantity: number }[],
  ): WmsMilestone {
    const seq = this.log.length + 1;
    const m: WmsMilestone = {
      id: `WMS-EV-${seq}`,
      shipmentId: record.wmsOrderId,
      type,
      at: this.clock.now().toISOString(),
      location: record.warehouseId,
      source: 'wms',
      seq,
      hubOrderId: record.hubOrderId,
      wmsOrderId: record.wmsOrderId,
      warehouseId: record.warehouseId,
    };
    if (detail !== undefined) m.detail = detail;
    if (lines !== undefined) m.lines = lines;
    this.log.push(m);
    for (const l of this.listeners) l(m);
    return m;
  }
}

/** The port's view of a log entry. */
function toFeedMilestone(m: WmsMilestone): WmsFeedMilestone {
  const out: WmsFeedMilestone = {
    id: m.id,
    deliveryId: String(m.seq),
    hubOrderId: m.hubOrderId,
    shipmentId: m.wmsOrderId,
    warehouseId: m.warehouseId,
    type: m.type,
    at: m.at,
  };
  if (m.detail !== undefined) out.detail = m.detail;
  if (m.lines !== undefined) out.lines = m.lines.map((l) => ({ ...l }));
  return out;
}
