/**
 * The physical stock shared by the ERP and WMS simulators.
 *
 * Why shared: in the demo estate the ERP's stock report and the WMS's inventory describe the
 * same shelves, so a WMS release (allocation) or shipment (issue) shows up in the ERP's
 * `getStock` as it would after the nightly/real-time sync of a real estate. Positions live in a
 * Map keyed by SKU, each holding its per-warehouse positions, so a lookup is O(1).
 */
import type { InventoryPosition } from '../domain/index.js';

/** A mutable stock position (the simulator's own record). */
export interface StockPosition {
  sku: string;
  warehouseId: string;
  onHand: number;
  allocated: number;
  inbound: { quantity: number; eta: string }[];
  asOf: string;
}

const round4 = (n: number): number => Math.round(n * 10_000) / 10_000;

/** Stock by SKU and warehouse; the one source both ERP and WMS simulators read and move. */
export class InventoryBook {
  private readonly bySku = new Map<string, StockPosition[]>();

  constructor(positions: readonly InventoryPosition[]) {
    for (const p of positions) {
      const pos: StockPosition = {
        sku: p.sku,
        warehouseId: p.warehouseId,
        onHand: p.onHand,
        allocated: p.allocated,
        inbound: p.inbound.map((r) => ({ ...r })),
        asOf: p.asOf,
      };
      const list = this.bySku.get(p.sku);
      if (list) list.push(pos);
      else this.bySku.set(p.sku, [pos]);
    }
  }

  /** Positions of one SKU (the live records; callers copy before handing them out). */
  positions(sku: string): readonly StockPosition[] {
    return this.bySku.get(sku) ?? [];
  }

  /** The position of a SKU in a warehouse, created empty when the SKU was not carried there. */
  position(sku: string, warehouseId: string, now: string): StockPosition {
    let list = this.bySku.get(sku);
    if (!list) {
      list = [];
      this.bySku.set(sku, list);
    }
    let pos = list.find((p) => p.warehouseId === warehouseId);
    if (!pos) {
      pos = { sku, warehouseId, onHand: 0, allocated: 0, inbound: [], asOf: now };
      list.push(pos);
    }
    return pos;
  }

  /** All SKUs carried anywhere. */
  skus(): IterableIterator<string> {
    return this.bySku.keys();
  }

  /** Allocates up to `quantity` from free stock; returns what could be allocated. */
  allocate(sku: string, warehouseId: string, quantity: number, now: string): number {
    const pos = this.position(sku, warehouseId, now);
    const free = Math.max(0, pos.onHand - pos.allocated);
    const take = round4(Math.min(free, quantity));
    pos.allocated = round4(pos.allocated + take);
    pos.asOf = now;
    return take;
  }

  /** Issues allocated stock (a shipment left the dock): on hand and allocated both drop. */
  issue(sku: string, warehouseId: string, quantity: number, now: string): void {
    const pos = this.position(sku, warehouseId, now);
    pos.onHand = round4(pos.onHand - quantity);
    pos.allocated = round4(Math.max(0, pos.allocated - quantity));
    pos.asOf = now;
  }

  /** Gives back allocated stock (a warehouse order was cancelled before it shipped). */
  deallocate(sku: string, warehouseId: string, quantity: number, now: string): void {
    const pos = this.position(sku, warehouseId, now);
    pos.allocated = round4(Math.max(0, pos.allocated - quantity));
    pos.asOf = now;
  }

  /**
   * Writes off allocated stock that is not on the shelf (a short pick: the count was wrong): on
   * hand and allocated both drop, as on an issue, but nothing left the dock.
   */
  writeOff(sku: string, warehouseId: string, quantity: number, now: string): void {
    this.issue(sku, warehouseId, quantity, now);
  }

  /** Receives stock (an inbound receipt arrived), consuming the earliest inbound line. */
  receive(sku: string, warehouseId: string, quantity: number, now: string): void {
    const pos = this.position(sku, warehouseId, now);
    pos.onHand = round4(pos.onHand + quantity);
    pos.inbound.shift();
    pos.asOf = now;
  }

  /** The canonical view of a position (`reserved` is the hub's, so always 0 here). */
  static toCanonical(p: StockPosition): InventoryPosition {
    return {
      sku: p.sku,
      warehouseId: p.warehouseId,
      onHand: p.onHand,
      allocated: p.allocated,
      reserved: 0,
      available: round4(Math.max(0, p.onHand - p.allocated)),
      inbound: p.inbound.map((r) => ({ ...r })),
      asOf: p.asOf,
    };
  }
}
