/**
 * Inventory refresh: re-reads the positions the warehouse owns (on hand, allocated, inbound)
 * into the hub's ATP cache on an interval.
 *
 * Why it belongs with fulfillment: when the WMS allocates an order, the sync gives back the
 * hub's soft reservation for it, because from then on the WMS counts that stock as allocated.
 * Availability stays right only if the WMS's allocated figure reaches the hub soon after; this
 * refresh is that path (the store keeps the hub's own `reserved` across a refresh).
 */
import type { InventoryPosition } from '../../domain/index.js';
import type { Store } from '../../ports/index.js';

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
      const positions = await this.deps.source.getInventory();
      if (positions.length > 0) await this.deps.store.upsertInventoryPositions(positions);
      return positions.length;
    })().finally(() => {
      this.running = null;
    });
    this.running = run;
    return run;
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
