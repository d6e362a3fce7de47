/**
 * The scenario's thousand orders: which path each takes through its life and what it is
 * submitted with. Deterministic (by position), so a failure names the same order every run.
 *
 * | share | path | submitted as |
 * | --- | --- | --- |
 * | 10 % | backordered, released when stock is received | one line of a SKU no warehouse has |
 * | 5 % | split over two warehouses, two shipments | one line each of two SKUs stocked in different warehouses |
 * | 3 % | held for pricing, released by the pricing desk | one line 30 % under its price |
 * | 2 % | cancelled after release to the warehouse | an ordinary order |
 * | 2 % | returned after delivery (RMA) | an ordinary order |
 * | the rest | accepted, shipped, delivered, invoiced | one line of a SKU stocked in one warehouse |
 */
import type { OrderSubmission } from '../../src/domain/index.js';
import type { Store } from '../../src/ports/index.js';
import type { DemoDataSet, Simulators } from '../../src/simulators/index.js';
import { orderingCustomers, stockedSkus } from './estate.js';

export type OrderPath = 'ordinary' | 'backordered' | 'split' | 'held' | 'cancelled' | 'returned';

/** An order of the scenario: its path, what is submitted, and (once accepted) its hub id. */
export interface ScenarioOrder {
  n: number;
  path: OrderPath;
  customerId: string;
  submission: OrderSubmission;
  id: string;
}

/** The path of the n-th order (0-based): the shares of the table above, none overlapping. */
export function pathOf(n: number): OrderPath {
  if (n % 10 === 0) return 'backordered';
  if (n % 20 === 1) return 'split';
  if ([2, 35, 68].includes(n % 100)) return 'held';
  if (n % 50 === 3) return 'cancelled';
  if (n % 50 === 7) return 'returned';
  return 'ordinary';
}

/** Builds `count` submissions over the demo data (prices as the decision accepts them today). */
export async function planOrders(
  store: Store,
  sims: Simulators,
  count: number,
  today: string,
): Promise<{ orders: ScenarioOrder[]; backorderedSku: string }> {
  const data: DemoDataSet = sims.data;
  const customers = orderingCustomers(data, 40);
  const singles = stockedSkus(data, 200);
  // Split pairs: two SKUs, each stocked in one warehouse only, not the same one.
  const pairs: [{ sku: string }, { sku: string }][] = [];
  const used = new Set<string>();
  const splitPool = stockedSkus(data, 100);
  for (const a of splitPool) {
    if (used.has(a.sku)) continue;
    const b = splitPool.find((x) => !used.has(x.sku) && x.sku !== a.sku && x.warehouseId !== a.warehouseId);
    if (!b) continue;
    used.add(a.sku);
    used.add(b.sku);
    pairs.push([a, b]);
    if (pairs.length === 10) break;
  }
  const ordinary = singles.filter((s) => !used.has(s.sku)).slice(0, 40);
  if (ordinary.length < 10 || pairs.length < 3)
    throw new Error('the demo data set is too small for the scenario');
  const backorderedSku = sims.picks.outOfStock.sku;

  const products = await store.getProducts([
    ...ordinary.map((s) => s.sku),
    ...pairs.flat().map((s) => s.sku),
    backorderedSku,
  ]);
  const priceCache = new Map<string, number>();
  const price = async (customerId: string, sku: string): Promise<number> => {
    const k = `${customerId}|${sku}`;
    const hit = priceCache.get(k);
    if (hit !== undefined) return hit;
    const [agreement] = await store.getPriceAgreements(customerId, [sku], today);
    const p = agreement?.unitPrice ?? products.get(sku)?.listPrice;
    if (p === undefined) throw new Error(`no price for ${sku}`);
    priceCache.set(k, p);
    return p;
  };

  const orders: ScenarioOrder[] = [];
  for (let n = 0; n < count; n++) {
    const path = pathOf(n);
    const customer = customers[n % customers.length]!;
    let lines: { sku: string; quantity: number; unitPrice: number }[];
    if (path === 'backordered') {
      lines = [{ sku: backorderedSku, quantity: 1, unitPrice: await price(customer.id, backorderedSku) }];
    } else if (path === 'split') {
      const [a, b] = pairs[n % pairs.length]!;
      lines = [
        { sku: a.sku, quantity: 1, unitPrice: await price(customer.id, a.sku) },
        { sku: b.sku, quantity: 1, unitPrice: await price(customer.id, b.sku) },
      ];
    } else {
      const { sku } = ordinary[n % ordinary.length]!;
      const p = await price(customer.id, sku);
      lines = [{ sku, quantity: 1, unitPrice: path === 'held' ? Math.round(p * 0.7 * 100) / 100 : p }];
    }
    orders.push({
      n,
      path,
      customerId: customer.id,
      submission: {
        customer: { id: customer.id },
        shipTo: customer.addresses.find((a) => a.kind === 'shipping')!,
        shippingMethod: 'ground',
        currency: 'USD',
        poNumber: `PO-SCN-${String(n).padStart(5, '0')}`,
        lines,
      },
      id: '',
    });
  }
  return { orders, backorderedSku };
}

/** Runs `fn` over `items`, at most `limit` at a time, in order of start. */
export async function inPool<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
