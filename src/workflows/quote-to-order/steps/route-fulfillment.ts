/**
 * Step 6, fulfillment routing: fill the whole order from the best single warehouse (one that
 * serves the destination region first, then the one with most headroom); otherwise split line
 * by line, keeping lines together where possible; backorder what no warehouse has, promised by
 * the inbound receipt that covers it. The rationale is recorded for the people who ask "why
 * did this ship from the west coast?".
 */
import type { OrderLine } from '../../../domain/index.js';
import type { InventoryDelta } from '../../../ports/index.js';
import type { StepReport } from '../../engine/index.js';
import { promiseDate } from '../../fulfillment/backorders.js';
import type { FulfillmentPlan, QuoteToOrderDeps, RunContext } from '../context.js';

export const routeFulfillmentStepId = 'route-fulfillment';

export function routeFulfillment(ctx: RunContext, deps: QuoteToOrderDeps): StepReport {
  const region = ctx.submission.shipTo.region ?? '';
  const serving = new Set(deps.policies.warehouses.filter((w) => w.serves.includes(region)).map((w) => w.id));
  const avail = new Map<string, number>(); // `${sku}|${wh}` → available
  const headroom = new Map<string, number>();
  for (const p of ctx.inventory) {
    avail.set(`${p.sku}|${p.warehouseId}`, p.available);
    headroom.set(p.warehouseId, (headroom.get(p.warehouseId) ?? 0) + p.available);
  }
  const ranked = [...headroom.keys()].sort(
    (a, b) =>
      Number(serving.has(b)) - Number(serving.has(a)) ||
      (headroom.get(b) ?? 0) - (headroom.get(a) ?? 0) ||
      a.localeCompare(b),
  );

  const lines: OrderLine[] = ctx.lines.map((l) => ({
    ...l,
    allocations: [],
    backorderedQuantity: 0,
    promiseDate: null,
  }));
  const reservations: InventoryDelta[] = [];
  let strategy: FulfillmentPlan['strategy'];
  let rationale: string;

  const single = ranked.find((wh) => lines.every((l) => (avail.get(`${l.sku}|${wh}`) ?? 0) >= l.quantity));
  if (single) {
    for (const l of lines) {
      l.allocations.push({ warehouseId: single, quantity: l.quantity });
      reservations.push({ sku: l.sku, warehouseId: single, reservedDelta: l.quantity });
    }
    strategy = 'single_warehouse';
    rationale = `${single} fills all ${lines.length} line(s)${serving.has(single) ? ` and serves ${region}` : ''}`;
  } else {
    // Greedy split: each line from the ranked warehouses, preferring one already in use.
    const used = new Set<string>();
    for (const l of lines) {
      let remaining = l.quantity;
      const order = [...ranked].sort((a, b) => Number(used.has(b)) - Number(used.has(a)));
      for (const wh of order) {
        if (remaining <= 0) break;
        const key = `${l.sku}|${wh}`;
        const take = Math.min(remaining, avail.get(key) ?? 0);
        if (take <= 0) continue;
        l.allocations.push({ warehouseId: wh, quantity: take });
        reservations.push({ sku: l.sku, warehouseId: wh, reservedDelta: take });
        avail.set(key, (avail.get(key) ?? 0) - take);
        used.add(wh);
        remaining -= take;
      }
      if (remaining > 0) {
        l.backorderedQuantity = remaining;
        l.promiseDate = promiseDate(
          ctx.inventory,
          l.sku,
          remaining,
          ctx.today,
          ctx.policy.backorderLeadDays,
          {
            overdueReceipts: true,
          },
        );
      }
    }
    const backordered = lines.filter((l) => l.backorderedQuantity > 0);
    strategy = backordered.length > 0 ? 'backorder' : 'split';
    rationale =
      `no single warehouse fills the order; split across ${[...used].join(', ') || 'none'}` +
      (backordered.length > 0
        ? `; ${backordered.length} line(s) backordered, promised ${backordered.map((l) => `${l.sku} by ${l.promiseDate}`).join(', ')}`
        : '');
  }
  ctx.lines = lines;
  ctx.plan = { strategy, rationale, lines, reservations };
  return {
    outcome: 'passed',
    summary: { strategy, rationale, warehouses: [...new Set(reservations.map((r) => r.warehouseId))] },
  };
}
