/**
 * What a cancellation takes off an order, decided from the order alone (pure, so a retry after a
 * version conflict plans again from the fresh order, and it can be tested without systems).
 *
 * - Until anything has left a warehouse the whole order is cancelled (`order`).
 * - After a partial shipment, what has not shipped is (`remainder`): per line, its open quantity
 *   less what the shipments that left carry; the order then counts as shipped in full.
 * - Once everything has shipped there is nothing to cancel: a typed refusal (`shipped`), as is an
 *   order still being decided (`order_pending`, retry shortly) or already closed.
 * Reservations given back are the hub's soft reservations still held: what the decision reserved
 * less what warehouse allocations released (as `planReport` releases them); an order on hold holds
 * none (a hold commits none, and the ERP's refusal gave them back). For a remainder, at most the
 * cancelled quantity per SKU is given back.
 */
import { CrossdockError, type OrderState, type SalesOrder, terminalStates } from '../../domain/index.js';
import type { InventoryDelta } from '../../ports/index.js';
import { countedShipments, hasShipped, openQuantity } from '../fulfillment/shipment-progress.js';
import { stateConflict } from './order-actions.js';

/** What a cancellation cancels. */
export interface CancelPlan {
  scope: 'order' | 'remainder';
  /** Quantity cancelled now, by line number. */
  byLine: Map<number, number>;
  /** The same, per SKU (what the ERP and the event are told). */
  lines: { sku: string; quantity: number }[];
  /** Reservations given back (negative deltas). */
  release: InventoryDelta[];
}

/** States at which the goods are gone: nothing left to cancel. */
const allShipped: ReadonlySet<OrderState> = new Set<OrderState>(['shipped', 'delivered', 'invoiced']);

const round4 = (n: number): number => Math.round(n * 10_000) / 10_000;

/** Plans the cancellation of `order` (see the file comment); throws the typed refusals. */
export function planCancellation(order: SalesOrder): CancelPlan {
  if (order.state === 'received' || order.state === 'validating') {
    throw CrossdockError.transient(`order ${order.id} is still being decided; cancel it again in a moment`, {
      retryAfterMs: 2000,
      details: { reason: 'order_pending', orderId: order.id, state: order.state },
    });
  }
  if (terminalStates.has(order.state)) {
    throw stateConflict(order, 'not_cancellable', `order ${order.id} is ${order.state}`);
  }
  if (allShipped.has(order.state)) {
    throw stateConflict(order, 'shipped', `order ${order.id} has shipped in full; nothing is left to cancel`);
  }
  const shipped = shippedQuantities(order);
  if (shipped === 'all') {
    throw stateConflict(order, 'shipped', `order ${order.id} has shipped in full; nothing is left to cancel`);
  }
  const byLine = new Map<number, number>();
  const perSku = new Map<string, number>();
  for (const line of order.lines) {
    const left = round4(Math.max(0, openQuantity(line) - (shipped.get(line.sku) ?? 0)));
    if (left <= 0) continue;
    byLine.set(line.lineNo, left);
    perSku.set(line.sku, round4((perSku.get(line.sku) ?? 0) + left));
  }
  if (byLine.size === 0) {
    throw stateConflict(order, 'shipped', `order ${order.id} has shipped in full; nothing is left to cancel`);
  }
  const scope = shipped.size > 0 ? 'remainder' : 'order';
  return {
    scope,
    byLine,
    lines: [...perSku].map(([sku, quantity]) => ({ sku, quantity })),
    release:
      order.state === 'on_hold' ? [] : reservationsToGiveBack(order, scope === 'order' ? null : perSku),
  };
}

/**
 * Quantity per SKU on the shipments that left a warehouse: their reported lines, else what the
 * decision allocated at their warehouse; `all` when one carries no lines and no allocation (it
 * stands for the whole order, as `fulfillmentProgress` reads it).
 */
function shippedQuantities(order: SalesOrder): Map<string, number> | 'all' {
  const out = new Map<string, number>();
  for (const s of countedShipments(order.shipments)) {
    if (!hasShipped(s)) continue;
    let lines = s.lines;
    if (lines.length === 0) {
      lines = order.lines.flatMap((l) =>
        l.allocations
          .filter((a) => a.warehouseId === s.warehouseId && a.quantity > 0)
          .map((a) => ({ sku: l.sku, quantity: a.quantity })),
      );
      if (lines.length === 0) return 'all';
    }
    for (const l of lines) out.set(l.sku, round4((out.get(l.sku) ?? 0) + l.quantity));
  }
  return out;
}

/**
 * The hub's reservations of the order still held, per SKU and warehouse (what the decision
 * reserved less what warehouse allocations gave back), capped per SKU by `cap` when given.
 */
function reservationsToGiveBack(order: SalesOrder, cap: Map<string, number> | null): InventoryDelta[] {
  const key = (sku: string, wh: string) => `${sku}|${wh}`;
  const held = new Map<string, { sku: string; warehouseId: string; quantity: number }>();
  for (const l of order.lines) {
    for (const a of l.allocations) {
      const k = key(l.sku, a.warehouseId);
      const h = held.get(k) ?? { sku: l.sku, warehouseId: a.warehouseId, quantity: 0 };
      h.quantity = round4(h.quantity + a.quantity);
      held.set(k, h);
    }
  }
  for (const s of order.shipments) {
    if (!s.events.some((e) => e.type === 'allocated')) continue;
    for (const l of s.lines) {
      const h = held.get(key(l.sku, s.warehouseId));
      if (h) h.quantity = round4(Math.max(0, h.quantity - l.quantity));
    }
  }
  const left = cap ? new Map(cap) : null;
  const out: InventoryDelta[] = [];
  for (const h of held.values()) {
    let give = h.quantity;
    if (left) {
      give = Math.min(give, left.get(h.sku) ?? 0);
      left.set(h.sku, round4((left.get(h.sku) ?? 0) - give));
    }
    give = round4(give);
    if (give > 0) out.push({ sku: h.sku, warehouseId: h.warehouseId, reservedDelta: -give });
  }
  return out;
}
