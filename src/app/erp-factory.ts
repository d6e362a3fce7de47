/**
 * The ERP of a hub, chosen by configuration: the built-in simulator, or a real Tryton.
 *
 * Why a factory beside `hub.ts`: the composition root should not know how each ERP gets its
 * master data into the hub. For Tryton that is: products and stock from Tryton, the configured
 * customers read through the connector (their `externalIds.erp` are Tryton party ids, so
 * orders are created for the right party), and their contract prices from the party's price
 * list, so quote-to-order decides against what Tryton will accept.
 *
 * Warehouse ids: the hub routes to its own warehouse ids (config `warehouseId`), Tryton knows
 * its warehouse by `stock.location` code (`warehouseCode`). A thin port decorator translates
 * between the two at the ERP boundary, so neither side's ids leak into the other.
 */

import { createTrytonErp, type TrytonErp, TrytonFulfillment } from '../connectors/tryton/index.js';
import {
  type Address,
  CrossdockError,
  type Customer,
  type InventoryPosition,
  type PriceAgreement,
  type Product,
  type Uom,
  uoms,
} from '../domain/index.js';
import type {
  CreditExposure,
  ErpChangePage,
  ErpCustomer,
  ErpCustomerInput,
  ErpCustomerPrice,
  ErpOrderInput,
  ErpOrderRef,
  ErpOrderStatus,
  ErpPort,
  ErpProduct,
  ErpStock,
  Store,
} from '../ports/index.js';
import type { Simulators } from '../simulators/index.js';
import type { InventorySource } from '../workflows/fulfillment/index.js';
import type { CrossdockConfig, TrytonErpConfig } from './config.js';
import { demoWarehouseRegions, loadDemoMasterData } from './master-data.js';

/** What `masterData` loaded. */
export interface MasterDataCounts {
  customers: number;
  products: number;
  agreements: number;
  positions: number;
}

/** The configured ERP and what the rest of the hub needs from it. */
export interface ErpSetup {
  erp: ErpPort;
  /** Guarded warehouse and billing operations on Tryton (demos, console, tests); Tryton only. */
  fulfillment?: TrytonFulfillment;
  /** Loads the hub's master data (customers, products, prices, stock) from their owners. */
  masterData: (store: Store) => Promise<MasterDataCounts>;
  /** Warehouses orders may be routed to, for `policies.warehouses` when the config names none. */
  warehouses: { id: string; serves: string[] }[];
  /** Where `InventoryRefresh` re-reads stock: the WMS simulator, or Tryton's stock per warehouse. */
  inventory: InventorySource;
  /** Releases connections (Tryton); a no-op for the simulator. */
  close(): Promise<void>;
}

/** Builds the ERP named by `config.erp`; the simulator needs `sims`. */
export function createErp(config: CrossdockConfig, sims: Simulators | null): ErpSetup {
  if (config.erp.kind === 'tryton') return createTryton(config.erp);
  if (!sims) {
    throw CrossdockError.dataQuality('erp.kind is simulator but the simulators are disabled', {
      owner: 'integration',
      details: { field: 'erp.kind' },
    });
  }
  return {
    erp: sims.erp,
    masterData: (store) => loadDemoMasterData(store, sims.data),
    warehouses: sims.data.warehouses.map((w) => ({
      id: w.id,
      serves: demoWarehouseRegions[w.id] ?? [w.region],
    })),
    inventory: sims.wms,
    close: async () => undefined,
  };
}

function createTryton(config: TrytonErpConfig): ErpSetup {
  const tryton: TrytonErp = createTrytonErp({
    url: config.url,
    database: config.database,
    username: config.username,
    password: config.password,
    timeoutMs: config.timeoutMs,
    maxConcurrency: config.concurrency,
    maxConcurrentOrders: config.maxConcurrentOrders,
    defaultWarehouse: config.warehouseCode,
  });
  const erp = new WarehouseMappedErp(tryton, { hubId: config.warehouseId, erpCode: config.warehouseCode });
  let skus: string[] = [];
  const inventory: InventorySource = {
    system: erp.system,
    getInventory: async (wanted) => positionsFrom(await erp.getStock(wanted ?? skus), config.warehouseId),
  };
  return {
    erp,
    fulfillment: new TrytonFulfillment(tryton.client),
    warehouses: [{ id: config.warehouseId, serves: [] }],
    inventory,
    masterData: async (store) => {
      const loaded = await loadTrytonMasterData(store, erp, config);
      skus = loaded.skus;
      return loaded.counts;
    },
    close: () => tryton.close(),
  };
}

/** Reads products, stock, the configured customers and their prices from Tryton into the store. */
async function loadTrytonMasterData(
  store: Store,
  erp: ErpPort,
  config: TrytonErpConfig,
): Promise<{ counts: MasterDataCounts; skus: string[] }> {
  const now = new Date();
  const nowIso = now.toISOString();
  const products = (await erp.getProducts()).filter((p) => p.sku !== '');
  const skus = products.map((p) => p.sku);
  await store.upsertProducts(products.map((p) => toProduct(p, nowIso)));
  const positions = skus.length > 0 ? positionsFrom(await erp.getStock(skus), config.warehouseId) : [];
  if (positions.length > 0) await store.upsertInventoryPositions(positions);

  const customers: Customer[] = [];
  const missing: string[] = [];
  for (const code of config.customers) {
    const c = await erp.findCustomerByExternalId(code);
    if (c) customers.push(toCustomer(c, config.segment, nowIso));
    else missing.push(code);
  }
  if (missing.length > 0) {
    throw CrossdockError.dataQuality(`customers not found in Tryton by party code: ${missing.join(', ')}`, {
      owner: 'master_data',
      details: { system: erp.system, field: 'erp.customers', missing },
    });
  }
  if (customers.length > 0) await store.upsertCustomers(customers);

  const today = nowIso.slice(0, 10);
  const until = new Date(now.getTime() + config.priceValidityDays * 86_400_000).toISOString().slice(0, 10);
  const agreements: PriceAgreement[] = [];
  for (const c of customers) {
    const erpId = c.externalIds['erp'];
    if (!erpId || skus.length === 0) continue;
    for (const price of await erp.getCustomerPrices(erpId, skus)) {
      agreements.push({
        id: `tryton:${c.id}:${price.sku}`,
        customerId: c.id,
        sku: price.sku,
        unitPrice: price.unitPrice,
        currency: price.currency,
        validFrom: today,
        validTo: until,
        tolerancePct: 0.5,
      });
    }
  }
  if (agreements.length > 0) await store.upsertPriceAgreements(agreements);
  return {
    counts: {
      customers: customers.length,
      products: products.length,
      agreements: agreements.length,
      positions: positions.length,
    },
    skus,
  };
}

function toProduct(p: ErpProduct, nowIso: string): Product {
  const uom: Uom = (uoms as readonly string[]).includes(p.uom) ? (p.uom as Uom) : 'EA';
  return {
    sku: p.sku,
    name: p.name || p.sku,
    uom,
    // Tryton 6.0's product weight needs the product_measurements module; ground parcel by default.
    weightKg: 0,
    hazmat: null,
    shippingClass: 'parcel',
    taxClass: 'standard',
    listPrice: p.listPrice,
    active: p.active,
    externalIds: { erp: p.erpId },
    updatedAt: nowIso,
  };
}

/**
 * A Tryton party as a hub customer. The hub id is the party code (the connector's idempotency
 * anchor for customers), so a customer the hub later creates in Tryton lands on the same code.
 * Tryton flags one address as both invoice and delivery; the hub wants a billing address for
 * the order to be complete, so such an address also becomes the billing address.
 */
function toCustomer(c: ErpCustomer, segment: string, nowIso: string): Customer {
  const addresses: Address[] = [...c.addresses];
  const first = addresses[0];
  if (first && !addresses.some((a) => a.kind === 'billing')) addresses.push({ ...first, kind: 'billing' });
  return {
    id: c.externalId,
    accountNumber: c.externalId,
    name: c.name,
    status: 'active',
    segment,
    contacts: [],
    addresses,
    currency: c.currency,
    creditLimit: c.creditLimit,
    paymentTerms: 'NET30',
    taxStatus: 'taxable',
    exemptionCertificates: [],
    externalIds: { erp: c.erpId, account: c.externalId },
    updatedAt: nowIso,
  };
}

/** ERP stock as hub positions; Tryton's forecast below on-hand is stock promised to confirmed sales. */
function positionsFrom(stock: ErpStock[], warehouseId: string): InventoryPosition[] {
  return stock
    .filter((s) => s.warehouseId === warehouseId)
    .map((s) => {
      const allocated = Math.max(0, round4(s.onHand - s.forecast));
      return {
        sku: s.sku,
        warehouseId,
        onHand: s.onHand,
        allocated,
        reserved: 0,
        available: Math.max(0, round4(s.onHand - allocated)),
        inbound: [],
        asOf: s.asOf,
      };
    });
}

function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}

/** Translates the hub's warehouse id to the ERP's warehouse code and back at the port boundary. */
export class WarehouseMappedErp implements ErpPort {
  readonly system: string;

  constructor(
    private readonly inner: ErpPort,
    private readonly map: { hubId: string; erpCode: string },
  ) {
    this.system = inner.system;
  }

  findCustomerByExternalId(externalId: string): Promise<ErpCustomer | null> {
    return this.inner.findCustomerByExternalId(externalId);
  }
  createCustomer(input: ErpCustomerInput): Promise<ErpCustomer> {
    return this.inner.createCustomer(input);
  }
  updateCustomer(
    erpId: string,
    patch: Partial<Omit<ErpCustomerInput, 'externalId'>>,
    expectedVersion?: string,
  ): Promise<ErpCustomer> {
    return this.inner.updateCustomer(erpId, patch, expectedVersion);
  }
  getCreditExposure(erpCustomerId: string): Promise<CreditExposure> {
    return this.inner.getCreditExposure(erpCustomerId);
  }
  getProducts(skus?: string[]): Promise<ErpProduct[]> {
    return this.inner.getProducts(skus);
  }
  getCustomerPrices(erpCustomerId: string, skus: string[]): Promise<ErpCustomerPrice[]> {
    return this.inner.getCustomerPrices(erpCustomerId, skus);
  }
  async getStock(skus: string[]): Promise<ErpStock[]> {
    return (await this.inner.getStock(skus)).map((s) => ({ ...s, warehouseId: this.toHub(s.warehouseId) }));
  }
  createSalesOrder(input: ErpOrderInput): Promise<ErpOrderRef> {
    return this.inner.createSalesOrder({
      ...input,
      lines: input.lines.map((l) =>
        l.warehouseId === undefined ? l : { ...l, warehouseId: this.toErp(l.warehouseId) },
      ),
    });
  }
  async confirmSalesOrder(erpOrderId: string): Promise<ErpOrderStatus> {
    return this.status(await this.inner.confirmSalesOrder(erpOrderId));
  }
  async getSalesOrder(erpOrderId: string): Promise<ErpOrderStatus> {
    return this.status(await this.inner.getSalesOrder(erpOrderId));
  }
  changesSince(since: string | null, limit?: number): Promise<ErpChangePage> {
    return this.inner.changesSince(since, limit);
  }

  private status(s: ErpOrderStatus): ErpOrderStatus {
    return {
      ...s,
      shipments: s.shipments.map((sh) =>
        sh.warehouseId === undefined ? sh : { ...sh, warehouseId: this.toHub(sh.warehouseId) },
      ),
    };
  }
  private toHub(code: string): string {
    return code === this.map.erpCode ? this.map.hubId : code;
  }
  private toErp(id: string): string {
    return id === this.map.hubId ? this.map.erpCode : id;
  }
}
