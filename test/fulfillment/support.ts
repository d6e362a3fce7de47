/**
 * Test support for order → fulfillment suites: a simulated estate (quote-to-order, the built-in
 * subscriptions on a dispatcher driven by hand, the fulfillment sync over the simulated ERP, WMS
 * and TMS) on a real store of any backend, and order builders that make the decision split an
 * order across warehouses without touching the simulators' stock.
 */
import { loadDemoMasterData } from '../../src/app/master-data.js';
import type { OrderSubmission, SalesOrder } from '../../src/domain/index.js';
import { Dispatcher, MemoryAnalyticsSink, standardSubscriptions } from '../../src/events/index.js';
import type { Clock, Store } from '../../src/ports/index.js';
import { createSimulators, type DemoDataSet, type Simulators } from '../../src/simulators/index.js';
import {
  Backorders,
  CarrierBooking,
  type CarrierServiceRule,
  FulfillmentSync,
} from '../../src/workflows/fulfillment/index.js';
import { CreditExposureCache, defaultPolicies, QuoteToOrder } from '../../src/workflows/index.js';
import { openTestStore, type TestBackend } from '../events/support.js';

/** A simulated estate on one store. */
export interface Estate {
  store: Store;
  sims: Simulators;
  workflow: QuoteToOrder;
  dispatcher: Dispatcher;
  sync: FulfillmentSync;
  clock: Clock;
  dispose(): Promise<void>;
}

/** Options of {@link openEstate}. */
export interface EstateOptions {
  seed?: number;
  /** Register the carrier-booking subscription (with these rules, or the shipped defaults). */
  booking?: boolean | { rules: CarrierServiceRule[] };
  /** Register the backorders subscription. */
  backorders?: boolean;
  /** Inventory policy of every segment (the demo defaults differ by segment). */
  inventoryPolicy?: 'ship_complete' | 'allow_split' | 'allow_backorder' | 'reject';
}

/** Builds an estate on `backend` (simulators seeded with `seed`, 11 by default). */
export async function openEstate(backend: TestBackend, options: EstateOptions = {}): Promise<Estate> {
  const seed = options.seed ?? 11;
  const clock: Clock = { now: () => new Date() };
  const { store, dispose } = await openTestStore(backend);
  const sims = createSimulators({ seed, clock, customerCount: 60, productCount: 80 });
  await loadDemoMasterData(store, sims.data);
  const inventory = options.inventoryPolicy;
  const policies = {
    ...defaultPolicies,
    ...(inventory
      ? {
          default: { ...defaultPolicies.default, inventory },
          segments: Object.fromEntries(
            Object.entries(defaultPolicies.segments).map(([k, v]) => [k, { ...v, inventory }]),
          ),
        }
      : {}),
    warehouses: sims.data.warehouses.map((w) => ({ id: w.id, serves: [w.region] })),
  };
  const workflow = new QuoteToOrder({
    store,
    erp: sims.erp,
    crm: sims.crm,
    clock,
    policies,
    credit: new CreditExposureCache(sims.erp, clock),
  });
  const dispatcher = new Dispatcher({ store, clock, owner: `test-${process.pid}` });
  const booking = options.booking
    ? new CarrierBooking({
        store,
        clock,
        tms: sims.tms,
        ...(typeof options.booking === 'object' ? { rules: options.booking.rules } : {}),
      })
    : null;
  for (const reg of standardSubscriptions({
    crm: sims.crm,
    notifications: sims.notifications,
    wms: sims.wms,
    store,
    analytics: new MemoryAnalyticsSink(),
    ...(booking ? { bookCarrier: booking.handle } : {}),
    ...(options.backorders
      ? { handleBackorders: new Backorders({ store, clock, wms: sims.wms }).handle }
      : {}),
  })) {
    dispatcher.register(reg);
  }
  await dispatcher.init();
  const sync = new FulfillmentSync({ store, clock, erp: sims.erp, wms: sims.wms, tms: sims.tms });
  return {
    store,
    sims,
    workflow,
    dispatcher,
    sync,
    clock,
    dispose: async () => {
      await sync.stop();
      await dispose();
    },
  };
}

/** Delivers every due delivery of every subscription (nothing here fails or waits). */
export async function drain(dispatcher: Dispatcher): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await dispatcher.drainOnce();
    if (r.claimed === 0) return;
  }
  throw new Error('the dispatcher did not drain in 100 cycles');
}

/** Two SKUs whose stock is in different warehouses only: an order of both must split. */
export interface SplitPick {
  a: { sku: string };
  b: { sku: string };
}

/** The warehouse the decision allocated a SKU of the order from (its first allocation). */
export function warehouseOf(order: SalesOrder, sku: string): string {
  const wh = order.lines.find((l) => l.sku === sku)?.allocations[0]?.warehouseId;
  if (!wh) throw new Error(`${sku} is not allocated in order ${order.id}`);
  return wh;
}

/**
 * Picks two active, non-hazmat, whole-unit SKUs such that no warehouse stocks both (each with
 * at least 5 available wherever it is stocked): the decision cannot fill an order of both from
 * one warehouse, and splits it (`warehouseOf` tells where each went).
 */
export function splitPick(data: DemoDataSet, skip: ReadonlySet<string> = new Set()): SplitPick {
  const stocked = new Map<string, Map<string, number>>();
  for (const p of data.inventory) {
    if (p.onHand - p.allocated <= 0) continue;
    const m = stocked.get(p.sku) ?? new Map<string, number>();
    m.set(p.warehouseId, p.onHand - p.allocated);
    stocked.set(p.sku, m);
  }
  const usable = data.products.filter(
    (p) =>
      p.active &&
      p.hazmat === null &&
      p.uom === 'EA' &&
      p.weightKg > 0 &&
      !skip.has(p.sku) &&
      (stocked.get(p.sku)?.size ?? 0) > 0 &&
      [...stocked.get(p.sku)!.values()].every((n) => n >= 5),
  );
  for (const a of usable) {
    const aw = stocked.get(a.sku)!;
    for (const b of usable) {
      if (b.sku === a.sku) continue;
      const bw = stocked.get(b.sku)!;
      if ([...aw.keys()].some((w) => bw.has(w))) continue;
      return { a: { sku: a.sku }, b: { sku: b.sku } };
    }
  }
  throw new Error('no two SKUs stocked in disjoint warehouses in this data set');
}

/** The price the decision accepts for a SKU: the customer's agreement valid today, else list. */
export async function priceFor(store: Store, customerId: string, sku: string): Promise<number> {
  const today = new Date().toISOString().slice(0, 10);
  const [agreement] = await store.getPriceAgreements(customerId, [sku], today);
  if (agreement) return agreement.unitPrice;
  const product = (await store.getProducts([sku])).get(sku);
  if (!product) throw new Error(`no product ${sku}`);
  return product.listPrice;
}

/** A submission of the in-policy customer for these lines at accepted prices. */
export async function submissionFor(
  store: Store,
  sims: Simulators,
  lines: { sku: string; quantity: number }[],
  shippingMethod: OrderSubmission['shippingMethod'] = 'ground',
): Promise<OrderSubmission> {
  const { customer } = sims.picks.inPolicy;
  return {
    customer: { id: customer.id },
    shipTo: customer.addresses.find((a) => a.kind === 'shipping') ?? customer.addresses[0]!,
    shippingMethod,
    currency: 'USD',
    lines: await Promise.all(
      lines.map(async (l) => ({ ...l, unitPrice: await priceFor(store, customer.id, l.sku) })),
    ),
  };
}

/** Decides an order through quote-to-order and expects it accepted. */
export async function acceptOrder(e: Estate, submission: OrderSubmission): Promise<SalesOrder> {
  const orderId = `ord_${crypto.randomUUID()}`;
  const res = await e.workflow.submit({ orderId, correlationId: `corr-${orderId}`, submission });
  if (res.order.state !== 'accepted' && res.order.state !== 'backordered') {
    throw new Error(
      `order not accepted: ${res.order.state} ${JSON.stringify(res.order.holds)} ${JSON.stringify(res.order.rejection)}`,
    );
  }
  return res.order;
}
