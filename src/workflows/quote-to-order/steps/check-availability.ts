/**
 * Step 3, inventory availability (ATP across warehouses) judged by the segment's policy:
 * ship complete, allow split, allow backorder, or reject. Once inventory released the order's
 * inventory hold (`ctx.approved`), what the policy would hold ships as it can: split across
 * warehouses, with what no warehouse has backordered (a `reject` policy still rejects).
 */
import type { StepReport } from '../../engine/index.js';
import type { LineAvailability, QuoteToOrderDeps, RunContext } from '../context.js';

export const checkAvailabilityStepId = 'check-availability';

export async function checkAvailability(ctx: RunContext, deps: QuoteToOrderDeps): Promise<StepReport> {
  const skus = ctx.lines.map((l) => l.sku);
  ctx.inventory = await deps.store.getInventory(skus);
  const positions = new Map<string, { warehouseId: string; available: number }[]>();
  for (const p of ctx.inventory) {
    let list = positions.get(p.sku);
    if (!list) {
      list = [];
      positions.set(p.sku, list);
    }
    list.push({ warehouseId: p.warehouseId, available: p.available });
  }
  ctx.availability = ctx.lines.map((line): LineAvailability => {
    const byWarehouse = positions.get(line.sku) ?? [];
    return {
      lineNo: line.lineNo,
      sku: line.sku,
      quantity: line.quantity,
      byWarehouse,
      totalAvailable: byWarehouse.reduce((s, w) => s + w.available, 0),
    };
  });

  const warehouses = new Set(ctx.inventory.map((p) => p.warehouseId));
  const singleFill = [...warehouses].filter((wh) =>
    ctx.availability.every(
      (l) => (l.byWarehouse.find((w) => w.warehouseId === wh)?.available ?? 0) >= l.quantity,
    ),
  );
  const short = ctx.availability.filter((l) => l.totalAvailable < l.quantity);
  const summary = {
    policy: ctx.policy.inventory,
    singleWarehouseCandidates: singleFill,
    shortLines: short.map((l) => ({ sku: l.sku, wanted: l.quantity, available: l.totalAvailable })),
  };

  if (singleFill.length > 0) {
    ctx.inventoryDecision = 'single';
    return { outcome: 'passed', summary: { ...summary, decision: 'single_warehouse' } };
  }
  const policy = ctx.policy.inventory;
  if (short.length === 0) {
    // Enough stock in total, but spread over warehouses.
    if (policy === 'allow_split' || policy === 'allow_backorder') {
      ctx.inventoryDecision = 'split';
      return { outcome: 'passed', summary: { ...summary, decision: 'split' } };
    }
    if (policy === 'reject') {
      ctx.rejection = { code: 'cannot_ship_complete', detail: 'no single warehouse can fill the order' };
      return { outcome: 'reject', summary: { ...summary, decision: 'reject' } };
    }
    return inventoryHold(
      ctx,
      'customer requires ship-complete; no single warehouse can fill the order',
      summary,
    );
  }
  if (policy === 'allow_backorder') {
    ctx.inventoryDecision = 'backorder';
    return { outcome: 'passed', summary: { ...summary, decision: 'backorder' } };
  }
  if (policy === 'reject') {
    ctx.rejection = {
      code: 'insufficient_inventory',
      detail: `insufficient stock for ${short.map((l) => l.sku).join(', ')}`,
    };
    return { outcome: 'reject', summary: { ...summary, decision: 'reject' } };
  }
  return inventoryHold(
    ctx,
    `insufficient stock for ${short.length} line(s) and policy ${policy} does not allow backorders`,
    summary,
  );
}

function inventoryHold(ctx: RunContext, detail: string, summary: Record<string, unknown>): StepReport {
  if (ctx.approved.has('inventory')) {
    const short = ctx.availability.some((l) => l.totalAvailable < l.quantity);
    ctx.inventoryDecision = short ? 'backorder' : 'split';
    return {
      outcome: 'passed',
      summary: { ...summary, decision: ctx.inventoryDecision, approvedDespite: detail },
    };
  }
  ctx.holds.push({ reason: 'inventory', detail, data: summary });
  ctx.inventoryDecision = 'none';
  return { outcome: 'hold', summary: { ...summary, reason: 'inventory' } };
}
