/**
 * Inventory refresh: re-reads the positions the warehouse owns (on hand, allocated, inbound)
 * into the hub's ATP cache on an interval, and publishes what arrived.
 *
 * Why it belongs with fulfillment: when the WMS allocates an order, the sync gives back the
 * hub's soft reservation for it, because from then on the WMS counts that stock as allocated.
 * Availability stays right only if the WMS's allocated figure reaches the hub soon after; this
 * refresh is that path (the store keeps the hub's own `reserved` across a refresh).
 *
 * Receipts: a position whose on-hand grew since the hub's copy is stock that arrived; after the
 * new positions are written, one `inventory.received.v1` per such position goes to the outbox
 * (subject `inventory:<sku>`), which is what releases backorders (`Backorders`). Written after
 * the positions, so a handler reads them; a crash in between loses that receipt's event (the
 * backorder stays promised and is served by the next receipt of the SKU).
 */
import { type CloudEvent, type InventoryPosition, newEvent } from '../../domain/index.js';
import type { Clock, Store } from '../../ports/index.js';

/** Anything that reports inventory positions: a `WmsPort`, or an ERP stock adapter. */
export interface InventorySource {
  readonly system: string;
  getInventory(skus?: string[]): Promise<InventoryPosition[]>;
}

/** Options of {@link InventoryRefresh}. */
export interface InventoryRefreshDeps {
  store: Store;
  source: InventorySource;
  /** Default 30 s. */
  intervalMs?: number;
  onError?: (error: unknown) => void;
  /** Publish `inventory.received.v1` for positions whose on-hand grew (default true). */
  receipts?: boolean;
  /** Time of the receipt events; the system clock by default. */
  clock?: Clock;
}

/** Periodic copy of the warehouse's positions into the store. */
export class InventoryRefresh {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(private readonly deps: InventoryRefreshDeps) {}

  /** One refresh; returns how many positions were written. */
  async refreshOnce(): Promise<number> {
    if (this.running) return this.running;
    const run = (async () => {
      const { store } = this.deps;
      const positions = await this.deps.source.getInventory();
      if (positions.length === 0) return 0;
      const received = this.deps.receipts === false ? [] : await this.receipts(positions);
      await store.upsertInventoryPositions(positions);
      if (received.length > 0) await store.commit({ events: received });
      return positions.length;
    })().finally(() => {
      this.running = null;
    });
    this.running = run;
    return run;
  }

  /** `inventory.received.v1` for each position whose on-hand grew since the hub's copy. */
  private async receipts(positions: InventoryPosition[]): Promise<CloudEvent[]> {
    const before = new Map<string, number>();
    for (const p of await this.deps.store.getInventory([...new Set(positions.map((x) => x.sku))])) {
      before.set(`${p.sku}|${p.warehouseId}`, p.onHand);
    }
    const time = (this.deps.clock ?? { now: () => new Date() }).now();
    const out: CloudEvent[] = [];
    for (const p of positions) {
      const was = before.get(`${p.sku}|${p.warehouseId}`);
      if (was === undefined || p.onHand <= was + 1e-9) continue;
      out.push(
        newEvent(
          'inventory.received.v1',
          `inventory:${p.sku}`,
          {
            sku: p.sku,
            warehouseId: p.warehouseId,
            quantity: Math.round((p.onHand - was) * 10_000) / 10_000,
            onHand: p.onHand,
            asOf: p.asOf,
          },
          { source: `/crossdock/inventory-refresh/${this.deps.source.system}`, time },
        ),
      );
    }
    return out;
  }

  /** Refreshes every `intervalMs` until `stop()`. */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.refreshOnce()
        .catch((err: unknown) => this.deps.onError?.(err))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.deps.intervalMs ?? 30_000);
        });
    };
    this.timer = setTimeout(tick, 0);
    this.timer.unref?.();
  }

  /** Stops refreshing and waits for a refresh in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }
}
