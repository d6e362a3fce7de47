/**
 * ERP simulator: a Tryton-like ERP behind `ErpPort`, seeded with the demo data set.
 *
 * Why it behaves like Tryton where it matters: the hub's quote-to-order flow must cope with a
 * real ERP's semantics, so the simulator refuses to confirm an order that would take a party
 * over its credit limit (policy_violation, with Tryton's wording), counts credit exposure as
 * open receivables plus confirmed-but-uninvoiced orders, keeps a version token per customer for
 * optimistic writes, and publishes shipment and invoice milestones on a watermarked change feed.
 * Writes are idempotent by the hub's key: `effects` counts what really changed.
 *
 * Bounded: the last `maxRecords` sales orders and change-feed entries are kept. Confirmed (and
 * later) orders are evicted before quotations still awaiting confirmation. An evicted confirmed
 * order leaves its idempotency key (the hub order id) → ERP number and its last state in light
 * indexes for `maxKeys` more evictions, so the hub retrying its ERP step inside that window
 * still gets the same order back (`created: false`) and a confirmation answer, never a second
 * order. An unconfirmed quotation is only evicted when every kept order is one; it had no effect
 * yet (no credit exposure, no shipment), so its key goes with it and a retry starts a new one:
 * the ERP still holds at most one order per key.
 */
import { CrossdockError } from '../domain/index.js';
import type {
  Clock,
  CreditExposure,
  ErpCancelInput,
  ErpCancelRefusal,
  ErpCancelResult,
  ErpChange,
  ErpChangePage,
  ErpCustomer,
  ErpCustomerInput,
  ErpCustomerPrice,
  ErpInvoiceStatus,
  ErpOrderInput,
  ErpOrderRef,
  ErpOrderState,
  ErpOrderStatus,
  ErpPort,
  ErpProduct,
  ErpReturnCreditInput,
  ErpReturnInput,
  ErpReturnRefusal,
  ErpReturnResult,
  ErpShipmentState,
  ErpShipmentStatus,
  ErpStock,
} from '../ports/index.js';
import { BoundedLog, BoundedMap, BoundedRecords, pageOf } from './bounded.js';
import type { DemoDataSet } from './demo-data.js';
import type { FaultInjector } from './faults.js';
import type { InventoryBook } from './inventory-book.js';

/** The ERP's stored customer (native record, with what ErpCustomer does not show). */
export interface ErpCustomerRecord {
  erpId: string;
  externalId: string;
  name: string;
  creditLimit: number;
  currency: string;
  paymentTerms: string;
  taxExempt: boolean;
  blocked: boolean;
  addresses: ErpCustomer['addresses'];
  /** Bumped on every write; the version token is its string form. */
  revision: number;
}

/** The ERP's stored sales order. */
export interface ErpOrderRecord {
  erpOrderId: string;
  erpOrderNumber: string;
  idempotencyKey: string;
  hubOrderId: string;
  erpCustomerId: string;
  poNumber: string | null;
  currency: string;
  shipTo: ErpOrderInput['shipTo'];
  requestedDate: string | null;
  lines: { sku: string; quantity: number; unitPrice: number; warehouseId: string | null }[];
  total: number;
  state: ErpOrderState;
  shipments: ErpShipmentStatus[];
  invoices: ErpInvoiceStatus[];
  createdAt: string;
  updatedAt: string;
}

const shipmentRank: Record<ErpShipmentState, number> = {
  waiting: 0,
  assigned: 1,
  picked: 2,
  packed: 3,
  done: 4,
  cancelled: 5,
};

const round4 = (n: number): number => Math.round(n * 10_000) / 10_000;

/** Options of the ERP simulator. */
export interface ErpSimulatorOptions {
  data: DemoDataSet;
  clock: Clock;
  faults: FaultInjector;
  inventory: InventoryBook;
  /** The warehouse an order line ships from when the hub did not say; default `WH-EAST`. */
  defaultWarehouseId?: string;
  /** Sales orders, and change-feed entries, kept; older ones are evicted. Default 50,000. */
  maxRecords?: number;
  /** Evicted confirmed orders whose key and state are remembered; default 4 × `maxRecords`. */
  maxKeys?: number;
}

/** What an evicted confirmed order leaves behind (see the file comment). */
interface EvictedOrder {
  hubOrderId: string;
  state: ErpOrderState;
}

const isOpen = (state: ErpOrderState): boolean => state === 'draft' || state === 'quotation';
const orderNumber = (erpOrderId: string): string => `SO${erpOrderId.padStart(5, '0')}`;

/** The ERP stand-in; see the file comment for the behaviour it reproduces. */
export class ErpSimulator implements ErpPort {
  readonly system = 'erp-sim';
  /** Fault settings and call/effect counters of this system. */
  readonly faults: FaultInjector;
  private readonly clock: Clock;
  private readonly inventory: InventoryBook;
  private readonly defaultWarehouseId: string;
  private readonly customers = new Map<string, ErpCustomerRecord>();
  private readonly customerByExternalId = new Map<string, string>();
  private readonly products = new Map<string, ErpProduct>();
  /** erpCustomerId → sku → agreements (a few per pair at most). */
  private readonly agreements = new Map<string, Map<string, DemoDataSet['priceAgreements']>>();
  /**
   * erpCustomerId → open receivable items (unpaid invoices with what is left of them and their
   * due date; an unapplied credit memo as a negative item without one). Per item, so the
   * exposure can tell the overdue part (due date before the clock's today).
   */
  private readonly receivables = new Map<string, OpenItem[]>();
  /** Return authorizations by the hub's return id. */
  private readonly returns = new Map<string, ErpReturnRecord>();
  private nextReturn = 1;
  /** erpCustomerId → confirmed, not yet invoiced order totals. */
  private readonly uninvoiced = new Map<string, number>();
  /** Kept sales orders, in creation order; confirmed ones are evicted first. */
  private readonly orders: BoundedRecords<string, ErpOrderRecord>;
  /** Idempotency key → ERP order id, for kept orders. */
  private readonly orderByKey = new Map<string, string>();
  /** Idempotency key → ERP order id, and ERP order id → last state, of evicted confirmed orders. */
  private readonly evictedKeys: BoundedMap<string, string>;
  private readonly evictedOrders: BoundedMap<string, EvictedOrder>;
  private readonly feed: BoundedLog<ErpChange>;
  private nextCustomer: number;
  private nextOrder = 1;
  private nextShipment = 1;
  private nextInvoice = 1;

  constructor(options: ErpSimulatorOptions) {
    this.clock = options.clock;
    this.faults = options.faults;
    this.inventory = options.inventory;
    this.defaultWarehouseId = options.defaultWarehouseId ?? 'WH-EAST';
    const maxRecords = options.maxRecords ?? 50_000;
    const maxKeys = options.maxKeys ?? 4 * maxRecords;
    this.evictedKeys = new BoundedMap(maxKeys);
    this.evictedOrders = new BoundedMap(maxKeys);
    this.orders = new BoundedRecords(maxRecords, (id, o) => {
      this.orderByKey.delete(o.idempotencyKey);
      if (isOpen(o.state)) return;
      this.evictedKeys.set(o.idempotencyKey, id);
      this.evictedOrders.set(id, { hubOrderId: o.hubOrderId, state: o.state });
    });
    this.feed = new BoundedLog(maxRecords);
    const { data } = options;
    for (const c of data.erpCustomers) {
      this.customers.set(c.erpId, { ...c, addresses: c.addresses.map((a) => ({ ...a })), revision: 1 });
      this.customerByExternalId.set(c.externalId, c.erpId);
    }
    this.nextCustomer = 10001 + data.erpCustomers.length;
    for (const p of data.products) {
      this.products.set(
        p.sku,
        Object.freeze({
          sku: p.sku,
          erpId: p.externalIds['erp'] ?? p.sku,
          name: p.name,
          uom: p.uom,
          listPrice: p.listPrice,
          active: p.active,
        }),
      );
    }
    const erpIdOfHub = new Map(data.erpCustomers.map((c) => [c.externalId, c.erpId]));
    for (const a of data.priceAgreements) {
      const erpId = erpIdOfHub.get(a.customerId);
      if (!erpId) continue;
      let bySku = this.agreements.get(erpId);
      if (!bySku) {
        bySku = new Map();
        this.agreements.set(erpId, bySku);
      }
      const list = bySku.get(a.sku);
      if (list) list.push(a);
      else bySku.set(a.sku, [a]);
    }
    for (const r of data.receivables) {
      this.openItem(r.erpCustomerId, { id: r.invoiceNumber, amount: r.amount, dueOn: r.dueOn });
    }
  }

  // --- ErpPort -----------------------------------------------------------------------------

  async findCustomerByExternalId(externalId: string): Promise<ErpCustomer | null> {
    const g = this.faults.before('findCustomerByExternalId');
    if (g) await g;
    const erpId = this.customerByExternalId.get(externalId);
    return erpId ? this.view(this.customers.get(erpId)!) : null;
  }

  async createCustomer(input: ErpCustomerInput): Promise<ErpCustomer> {
    const g = this.faults.before('createCustomer');
    if (g) await g;
    const existing = this.customerByExternalId.get(input.externalId);
    if (existing) return this.view(this.customers.get(existing)!);
    if (!input.name.trim()) {
      throw CrossdockError.dataQuality('Customer name is required', {
        details: { system: this.system, field: 'name' },
      });
    }
    const erpId = `C-${this.nextCustomer++}`;
    const record: ErpCustomerRecord = {
      erpId,
      externalId: input.externalId,
      name: input.name,
      creditLimit: input.creditLimit ?? 0,
      currency: input.currency ?? 'USD',
      paymentTerms: input.paymentTerms ?? 'NET30',
      taxExempt: input.taxExempt ?? false,
      blocked: false,
      addresses: input.addresses.map((a) => ({ ...a })),
      revision: 1,
    };
    this.customers.set(erpId, record);
    this.customerByExternalId.set(input.externalId, erpId);
    this.faults.effect();
    return this.view(record);
  }

  async updateCustomer(
    erpId: string,
    patch: Partial<Omit<ErpCustomerInput, 'externalId'>>,
    expectedVersion?: string,
  ): Promise<ErpCustomer> {
    const g = this.faults.before('updateCustomer');
    if (g) await g;
    const record = this.requireCustomer(erpId);
    if (expectedVersion !== undefined && expectedVersion !== String(record.revision)) {
      throw CrossdockError.conflict(
        `Customer ${erpId} was modified by someone else (version ${record.revision}, expected ${expectedVersion})`,
        { details: { system: this.system, erpId, currentVersion: String(record.revision), expectedVersion } },
      );
    }
    if (patch.name !== undefined) record.name = patch.name;
    if (patch.addresses !== undefined) record.addresses = patch.addresses.map((a) => ({ ...a }));
    if (patch.creditLimit !== undefined) record.creditLimit = patch.creditLimit;
    if (patch.currency !== undefined) record.currency = patch.currency;
    if (patch.paymentTerms !== undefined) record.paymentTerms = patch.paymentTerms;
    if (patch.taxExempt !== undefined) record.taxExempt = patch.taxExempt;
    record.revision++;
    this.faults.effect();
    return this.view(record);
  }

  async getCreditExposure(erpCustomerId: string): Promise<CreditExposure> {
    const g = this.faults.before('getCreditExposure');
    if (g) await g;
    const c = this.requireCustomer(erpCustomerId);
    const today = this.clock.now().toISOString().slice(0, 10);
    let open = 0;
    let overdue = 0;
    for (const item of this.receivables.get(erpCustomerId) ?? []) {
      open += item.amount;
      if (item.amount > 0 && item.dueOn !== null && item.dueOn < today) overdue += item.amount;
    }
    return {
      erpCustomerId,
      creditLimit: c.creditLimit,
      exposure: this.exposureOf(erpCustomerId),
      currency: c.currency,
      asOf: this.clock.now().toISOString(),
      openReceivables: round4(open),
      overdueReceivables: round4(overdue),
      uninvoicedOrders: round4(this.uninvoiced.get(erpCustomerId) ?? 0),
    };
  }

  async getProducts(skus?: string[]): Promise<ErpProduct[]> {
    const g = this.faults.before('getProducts');
    if (g) await g;
    if (!skus) return [...this.products.values()];
    const out: ErpProduct[] = [];
    for (const sku of skus) {
      const p = this.products.get(sku);
      if (p) out.push(p);
    }
    return out;
  }

  async getCustomerPrices(erpCustomerId: string, skus: string[]): Promise<ErpCustomerPrice[]> {
    const g = this.faults.before('getCustomerPrices');
    if (g) await g;
    const c = this.requireCustomer(erpCustomerId);
    const today = this.clock.now().toISOString().slice(0, 10);
    const bySku = this.agreements.get(erpCustomerId);
    const out: ErpCustomerPrice[] = [];
    for (const sku of skus) {
      const product = this.products.get(sku);
      if (!product) continue;
      let price = product.listPrice;
      let currency = c.currency;
      const list = bySku?.get(sku);
      if (list) {
        for (const a of list) {
          if (a.validFrom <= today && a.validTo >= today) {
            price = a.unitPrice;
            currency = a.currency;
            break;
          }
        }
      }
      out.push({ sku, unitPrice: price, currency });
    }
    return out;
  }

  async getStock(skus: string[]): Promise<ErpStock[]> {
    const g = this.faults.before('getStock');
    if (g) await g;
    const out: ErpStock[] = [];
    for (const sku of skus) {
      for (const p of this.inventory.positions(sku)) {
        let incoming = 0;
        for (const r of p.inbound) incoming += r.quantity;
        out.push({
          sku,
          warehouseId: p.warehouseId,
          onHand: p.onHand,
          forecast: round4(p.onHand - p.allocated + incoming),
          asOf: p.asOf,
        });
      }
    }
    return out;
  }

  async createSalesOrder(input: ErpOrderInput): Promise<ErpOrderRef> {
    const g = this.faults.before('createSalesOrder');
    if (g) await g;
    const seen = this.orderByKey.get(input.idempotencyKey) ?? this.evictedKeys.get(input.idempotencyKey);
    if (seen) return { erpOrderId: seen, erpOrderNumber: orderNumber(seen), created: false };
    this.requireCustomer(input.erpCustomerId);
    if (input.lines.length === 0) {
      throw CrossdockError.dataQuality('A sales order needs at least one line', {
        details: { system: this.system, field: 'lines' },
      });
    }
    let total = 0;
    for (const [i, line] of input.lines.entries()) {
      if (!this.products.has(line.sku)) {
        throw CrossdockError.dataQuality(`Unknown product ${line.sku}`, {
          details: { system: this.system, field: `lines[${i}].sku`, sku: line.sku },
        });
      }
      if (!(line.quantity > 0)) {
        throw CrossdockError.dataQuality(`Quantity must be positive on line ${i + 1}`, {
          details: { system: this.system, field: `lines[${i}].quantity` },
        });
      }
      total += line.quantity * line.unitPrice;
    }
    const n = this.nextOrder++;
    const now = this.clock.now().toISOString();
    const order: ErpOrderRecord = {
      erpOrderId: String(n),
      erpOrderNumber: orderNumber(String(n)),
      idempotencyKey: input.idempotencyKey,
      hubOrderId: input.hubOrderId,
      erpCustomerId: input.erpCustomerId,
      poNumber: input.poNumber ?? null,
      currency: input.currency,
      shipTo: { ...input.shipTo },
      requestedDate: input.requestedDate ?? null,
      lines: input.lines.map((l) => ({
        sku: l.sku,
        quantity: l.quantity,
        unitPrice: l.unitPrice,
        warehouseId: l.warehouseId ?? null,
      })),
      total: round4(total),
      state: 'quotation',
      shipments: [],
      invoices: [],
      createdAt: now,
      updatedAt: now,
    };
    this.orders.add(order.erpOrderId, order);
    this.orderByKey.set(input.idempotencyKey, order.erpOrderId);
    this.faults.effect();
    this.emit('order', order, 'quotation', order.erpOrderId);
    return { erpOrderId: order.erpOrderId, erpOrderNumber: order.erpOrderNumber, created: true };
  }

  async confirmSalesOrder(erpOrderId: string): Promise<ErpOrderStatus> {
    const g = this.faults.before('confirmSalesOrder');
    if (g) await g;
    const evicted = this.evictedStatus(erpOrderId);
    if (evicted) return evicted;
    const order = this.requireOrder(erpOrderId);
    if (order.state === 'cancelled') {
      throw CrossdockError.conflict(`Sales order ${order.erpOrderNumber} is cancelled`, {
        details: { system: this.system, erpOrderId },
      });
    }
    if (order.state !== 'draft' && order.state !== 'quotation') return this.status(order);
    const customer = this.requireCustomer(order.erpCustomerId);
    if (customer.blocked) {
      throw CrossdockError.policyViolation(`Party "${customer.name}" is blocked`, {
        owner: 'credit',
        details: { system: this.system, erpCustomerId: customer.erpId },
      });
    }
    const exposure = this.exposureOf(customer.erpId);
    if (exposure + order.total > customer.creditLimit) {
      throw CrossdockError.policyViolation(
        `Party "${customer.name}" has reached their credit limit of ${customer.creditLimit.toFixed(2)} ${customer.currency}`,
        {
          owner: 'credit',
          details: {
            system: this.system,
            erpCustomerId: customer.erpId,
            creditLimit: customer.creditLimit,
            exposure,
            orderTotal: order.total,
          },
        },
      );
    }
    order.state = 'confirmed';
    this.orders.settle(order.erpOrderId);
    order.updatedAt = this.clock.now().toISOString();
    this.uninvoiced.set(customer.erpId, round4((this.uninvoiced.get(customer.erpId) ?? 0) + order.total));
    const byWarehouse = new Map<string, { sku: string; quantity: number }[]>();
    for (const l of order.lines) {
      const wh = l.warehouseId ?? this.defaultWarehouseId;
      const list = byWarehouse.get(wh);
      if (list) list.push({ sku: l.sku, quantity: l.quantity });
      else byWarehouse.set(wh, [{ sku: l.sku, quantity: l.quantity }]);
    }
    this.faults.effect();
    this.emit('order', order, 'confirmed', order.erpOrderId);
    for (const [warehouseId, lines] of byWarehouse) {
      const shipment: ErpShipmentStatus = {
        erpShipmentId: `OUT/${String(this.nextShipment++).padStart(5, '0')}`,
        state: 'waiting',
        warehouseId,
        lines,
      };
      order.shipments.push(shipment);
      this.emit('shipment', order, 'waiting', shipment.erpShipmentId);
    }
    return this.status(order);
  }

  /**
   * Cancels the order (`order`) or what has not shipped (`remainder`), like Tryton would: a
   * quotation is cancelled outright; a confirmed order has its shipments not done cancelled (or,
   * for the remainder with `lines`, reduced by those quantities) and the cancelled value leaves
   * the customer's exposure. Refused, changing nothing, once an invoice is posted or paid, and for
   * `order` once a shipment is done. Idempotent: a repeat finds nothing left and says so.
   */
  async cancelSalesOrder(input: ErpCancelInput): Promise<ErpCancelResult> {
    const g = this.faults.before('cancelSalesOrder');
    if (g) await g;
    const id =
      input.erpOrderId ??
      this.orderByKey.get(input.idempotencyKey) ??
      this.evictedKeys.get(input.idempotencyKey);
    if (id === undefined) return { outcome: 'not_found' };
    const evicted = this.evictedStatus(id);
    if (evicted) {
      return {
        outcome: 'refused',
        erpOrderId: id,
        state: evicted.state,
        reason: 'unsupported',
        detail: `sales order ${evicted.erpOrderNumber} is no longer held by the simulator`,
      };
    }
    const order = this.orders.get(id);
    if (!order) return { outcome: 'not_found' };
    const refused = (reason: ErpCancelRefusal, detail: string): ErpCancelResult => ({
      outcome: 'refused',
      erpOrderId: id,
      state: order.state,
      reason,
      detail,
    });
    const done = (changed: boolean, lines: { sku: string; quantity: number }[]): ErpCancelResult => ({
      outcome: 'cancelled',
      erpOrderId: id,
      state: order.state,
      changed,
      lines,
    });
    if (order.state === 'cancelled') return done(false, []);
    if (order.invoices.some((i) => i.state === 'posted' || i.state === 'paid')) {
      return refused('invoiced', `sales order ${order.erpOrderNumber} is invoiced; a credit note is needed`);
    }
    const now = this.clock.now().toISOString();
    if (isOpen(order.state)) {
      order.state = 'cancelled';
      order.updatedAt = now;
      this.orders.settle(id);
      this.faults.effect();
      this.emit('order', order, 'cancelled', id);
      return done(
        true,
        order.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
      );
    }
    const open = order.shipments.filter((s) => s.state !== 'done' && s.state !== 'cancelled');
    const shipped = order.shipments.filter((s) => s.state === 'done');
    if (input.scope === 'order' && shipped.length > 0) {
      return refused(
        'shipped',
        `sales order ${order.erpOrderNumber} has shipped ${shipped.length} shipment(s)`,
      );
    }
    // What to take off the open shipments: the hub's remainder per SKU, or all of them.
    const wanted = input.scope === 'remainder' && input.lines ? new Map<string, number>() : null;
    for (const l of input.lines ?? []) wanted?.set(l.sku, (wanted.get(l.sku) ?? 0) + l.quantity);
    const cancelled = new Map<string, number>();
    for (const s of open) {
      const left: { sku: string; quantity: number }[] = [];
      for (const line of s.lines) {
        const want = wanted ? (wanted.get(line.sku) ?? 0) : line.quantity;
        const take = round4(Math.min(want, line.quantity));
        if (take > 0) {
          cancelled.set(line.sku, round4((cancelled.get(line.sku) ?? 0) + take));
          wanted?.set(line.sku, round4(want - take));
        }
        if (line.quantity - take > 0) left.push({ sku: line.sku, quantity: round4(line.quantity - take) });
      }
      if (left.length === 0) {
        // Cancelled whole: its lines stay readable on the cancelled shipment, as in an ERP.
        s.state = 'cancelled';
        this.emit('shipment', order, 'cancelled', s.erpShipmentId);
      } else {
        s.lines = left;
      }
    }
    if (cancelled.size === 0) {
      return input.scope === 'order' || shipped.length === 0
        ? done(false, [])
        : refused('shipped', `sales order ${order.erpOrderNumber} has nothing left to ship`);
    }
    let value = 0;
    for (const [sku, quantity] of cancelled) {
      const price = order.lines.find((l) => l.sku === sku)?.unitPrice ?? 0;
      value += quantity * price;
    }
    const c = order.erpCustomerId;
    this.uninvoiced.set(c, round4(Math.max(0, (this.uninvoiced.get(c) ?? 0) - value)));
    if (order.shipments.every((s) => s.state === 'cancelled')) {
      order.state = 'cancelled';
      this.orders.settle(id);
      this.emit('order', order, 'cancelled', id);
    } else {
      this.maybeDone(order);
    }
    order.updatedAt = now;
    this.faults.effect();
    return done(
      true,
      [...cancelled].map(([sku, quantity]) => ({ sku, quantity })),
    );
  }

  async getSalesOrder(erpOrderId: string): Promise<ErpOrderStatus> {
    const g = this.faults.before('getSalesOrder');
    if (g) await g;
    return this.evictedStatus(erpOrderId) ?? this.status(this.requireOrder(erpOrderId));
  }

  async changesSince(since: string | null, limit = 100): Promise<ErpChangePage> {
    const g = this.faults.before('changesSince');
    if (g) await g;
    const start = since === null || since === '' ? 0 : Number(since);
    if (!Number.isInteger(start) || start < 0) {
      throw CrossdockError.dataQuality(`Invalid change-feed watermark ${JSON.stringify(since)}`, {
        details: { system: this.system, field: 'since' },
      });
    }
    return this.feedPage(start, limit);
  }

  // --- drivers for tests, demos and the HTTP inspection routes (no fault injection) ------------

  /**
   * Moves the order's shipments (or the one given) to a later state: `assigned`, `picked`,
   * `packed`, `done` or `cancelled`; each move is one change-feed entry. A move
   * backwards or sideways throws, as a real warehouse workflow would refuse it.
   */
  advanceShipment(erpOrderId: string, state: ErpShipmentState, erpShipmentId?: string): ErpOrderStatus {
    const order = this.requireOrder(erpOrderId);
    const targets = order.shipments.filter(
      (s) => erpShipmentId === undefined || s.erpShipmentId === erpShipmentId,
    );
    if (targets.length === 0) {
      throw CrossdockError.dataQuality(
        `Sales order ${order.erpOrderNumber} has no shipment to advance (confirm it first)`,
      );
    }
    const now = this.clock.now().toISOString();
    for (const s of targets) {
      if (shipmentRank[state] <= shipmentRank[s.state]) {
        throw CrossdockError.conflict(`Shipment ${s.erpShipmentId} is ${s.state}; cannot move to ${state}`);
      }
      // Stock is moved by the WMS simulator (release/ship), not here: in the demo estate the
      // WMS owns the shelves, and moving it twice would double-count allocations.
      s.state = state;
      this.emit('shipment', order, state, s.erpShipmentId);
    }
    if (order.state === 'confirmed') {
      order.state = 'processing';
      this.emit('order', order, 'processing', order.erpOrderId);
    }
    this.maybeDone(order);
    order.updatedAt = now;
    return this.status(order);
  }

  /**
   * Invoices the order in full and posts the invoice: its amount moves from "confirmed,
   * uninvoiced" to open receivables (the exposure is unchanged), and an invoice `posted`
   * change is emitted. The invoice carries its lines, the invoice date (today on the clock) and
   * the due date from the customer's payment terms (`paymentTermsDueDate`). A second call is a
   * no-op returning the same invoice.
   */
  invoiceOrder(erpOrderId: string): ErpInvoiceStatus {
    const order = this.requireOrder(erpOrderId);
    const existing = order.invoices.find((i) => i.state !== 'cancelled' && i.kind !== 'credit_memo');
    if (existing) return structuredClone(existing);
    if (order.state === 'draft' || order.state === 'quotation' || order.state === 'cancelled') {
      throw CrossdockError.conflict(`Sales order ${order.erpOrderNumber} is ${order.state}; cannot invoice`);
    }
    const customer = this.requireCustomer(order.erpCustomerId);
    const n = this.nextInvoice++;
    const issueDate = this.clock.now().toISOString().slice(0, 10);
    const invoice: ErpInvoiceStatus = {
      erpInvoiceId: `INV-ID-${n}`,
      number: `INV/${String(n).padStart(6, '0')}`,
      state: 'posted',
      amount: order.total,
      currency: order.currency,
      kind: 'invoice',
      issueDate,
      dueDate: paymentTermsDueDate(issueDate, customer.paymentTerms),
      paymentTerms: customer.paymentTerms,
      lines: order.lines.map((l) => ({
        sku: l.sku,
        quantity: l.quantity,
        unitPrice: l.unitPrice,
        amount: round4(l.quantity * l.unitPrice),
      })),
      creditsInvoiceId: null,
      returnId: null,
    };
    order.invoices.push(invoice);
    const c = order.erpCustomerId;
    this.uninvoiced.set(c, round4((this.uninvoiced.get(c) ?? 0) - order.total));
    this.openItem(c, { id: invoice.erpInvoiceId, amount: order.total, dueOn: invoice.dueDate ?? null });
    this.emit('invoice', order, 'posted', invoice.erpInvoiceId);
    this.maybeDone(order);
    order.updatedAt = this.clock.now().toISOString();
    return structuredClone(invoice);
  }

  /**
   * Records payment of the order's invoice: what is left of it leaves the receivables, an invoice
   * `paid` change is emitted.
   */
  payInvoice(erpOrderId: string): ErpInvoiceStatus {
    const order = this.requireOrder(erpOrderId);
    const invoice = order.invoices.find((i) => i.state === 'posted' && i.kind !== 'credit_memo');
    if (!invoice) throw CrossdockError.conflict(`Sales order ${order.erpOrderNumber} has no posted invoice`);
    invoice.state = 'paid';
    this.closeItem(order.erpCustomerId, invoice.erpInvoiceId);
    this.emit('invoice', order, 'paid', invoice.erpInvoiceId);
    return structuredClone(invoice);
  }

  /**
   * Authorizes a return of shipped goods (an RMA), like NetSuite's Return Authorization:
   * idempotent by the hub's return id; refused, changing nothing, for an order that is
   * cancelled or has shipped nothing, a SKU not on the order, or more than shipped less what
   * earlier authorizations of the order claim.
   */
  async createReturnAuthorization(input: ErpReturnInput): Promise<ErpReturnResult> {
    const g = this.faults.before('createReturnAuthorization');
    if (g) await g;
    const seen = this.returns.get(input.returnId);
    if (seen) {
      return {
        outcome: 'authorized',
        erpReturnId: seen.erpReturnId,
        rmaNumber: seen.rmaNumber,
        created: false,
      };
    }
    const id = input.erpOrderId ?? this.orderByKey.get(input.orderIdempotencyKey);
    const order = id === undefined ? undefined : this.orders.get(id);
    if (!order) {
      throw CrossdockError.dataQuality(`Unknown ERP sales order for ${input.hubOrderId}`, {
        details: { system: this.system, field: 'erpOrderId', hubOrderId: input.hubOrderId },
      });
    }
    const refused = (reason: ErpReturnRefusal, detail: string): ErpReturnResult => ({
      outcome: 'refused',
      reason,
      detail,
    });
    if (order.state === 'cancelled')
      return refused('cancelled', `sales order ${order.erpOrderNumber} is cancelled`);
    const shipped = new Map<string, number>();
    for (const s of order.shipments) {
      if (s.state !== 'done') continue;
      for (const l of s.lines) shipped.set(l.sku, round4((shipped.get(l.sku) ?? 0) + l.quantity));
    }
    // A simulated estate whose WMS ships (not the ERP's own shipments): count the order as
    // shipped once the hub says so, i.e. trust the ordered quantities when no ERP shipment is done.
    const basis = shipped.size > 0 ? shipped : new Map(order.lines.map((l) => [l.sku, l.quantity]));
    for (const r of this.returns.values()) {
      if (r.erpOrderId !== order.erpOrderId) continue;
      for (const l of r.lines) basis.set(l.sku, round4((basis.get(l.sku) ?? 0) - l.quantity));
    }
    for (const l of input.lines) {
      if (!order.lines.some((o) => o.sku === l.sku)) {
        return refused('unknown_sku', `${l.sku} is not on sales order ${order.erpOrderNumber}`);
      }
      if (l.quantity > (basis.get(l.sku) ?? 0) + 1e-9) {
        return refused(
          'over_return',
          `${l.quantity} of ${l.sku} exceeds what may be returned (${basis.get(l.sku) ?? 0})`,
        );
      }
    }
    const n = this.nextReturn++;
    const record: ErpReturnRecord = {
      returnId: input.returnId,
      erpReturnId: `RA-ID-${n}`,
      rmaNumber: `RMA/${String(n).padStart(6, '0')}`,
      erpOrderId: order.erpOrderId,
      lines: input.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
      creditMemo: null,
    };
    this.returns.set(input.returnId, record);
    this.faults.effect();
    this.emit('order', order, 'return_authorized', record.erpReturnId);
    return {
      outcome: 'authorized',
      erpReturnId: record.erpReturnId,
      rmaNumber: record.rmaNumber,
      created: true,
    };
  }

  /**
   * Issues and posts the credit memo for a return's accepted lines, priced from the sales order
   * (idempotent by return id). It credits the order's invoice (what is left of it leaves the
   * receivables; beyond that, or with no invoice, it stands as a negative open item) and is
   * emitted on the change feed as an invoice `posted` change.
   */
  async creditReturn(input: ErpReturnCreditInput): Promise<ErpInvoiceStatus> {
    const g = this.faults.before('creditReturn');
    if (g) await g;
    const record = this.returns.get(input.returnId);
    if (!record) {
      throw CrossdockError.policyViolation(`No return authorization for ${input.returnId}`, {
        owner: 'credit',
        details: { system: this.system, field: 'returnId', returnId: input.returnId },
      });
    }
    const order = this.requireOrder(record.erpOrderId);
    if (record.creditMemo) {
      const kept = order.invoices.find((i) => i.erpInvoiceId === record.creditMemo);
      if (kept) return structuredClone(kept);
    }
    const lines: NonNullable<ErpInvoiceStatus['lines']> = [];
    for (const l of input.lines) {
      const authorized = record.lines.find((r) => r.sku === l.sku)?.quantity ?? 0;
      if (l.quantity > authorized + 1e-9) {
        throw CrossdockError.policyViolation(
          `${l.quantity} of ${l.sku} exceeds the ${authorized} authorized on ${record.rmaNumber}`,
          { owner: 'credit', details: { system: this.system, field: 'lines', sku: l.sku } },
        );
      }
      if (l.quantity <= 0) continue;
      const unitPrice = order.lines.find((o) => o.sku === l.sku)?.unitPrice ?? 0;
      lines.push({ sku: l.sku, quantity: l.quantity, unitPrice, amount: round4(l.quantity * unitPrice) });
    }
    const amount = round4(lines.reduce((sum, l) => sum + l.amount, 0));
    const invoice = order.invoices.find((i) => i.kind !== 'credit_memo' && i.state !== 'cancelled');
    const n = this.nextInvoice++;
    const memo: ErpInvoiceStatus = {
      erpInvoiceId: `CM-ID-${n}`,
      number: `CN/${String(n).padStart(6, '0')}`,
      state: 'posted',
      amount,
      currency: order.currency,
      kind: 'credit_memo',
      issueDate: this.clock.now().toISOString().slice(0, 10),
      dueDate: null,
      lines,
      creditsInvoiceId: invoice?.erpInvoiceId ?? null,
      returnId: input.returnId,
    };
    order.invoices.push(memo);
    record.creditMemo = memo.erpInvoiceId;
    this.applyCredit(order.erpCustomerId, invoice?.erpInvoiceId ?? null, memo.erpInvoiceId, amount);
    this.faults.effect();
    this.emit('invoice', order, 'posted', memo.erpInvoiceId);
    order.updatedAt = this.clock.now().toISOString();
    return structuredClone(memo);
  }

  /** The return authorization of a hub return id (a copy), for tests and inspection. */
  returnRecord(returnId: string): ErpReturnRecord | null {
    const r = this.returns.get(returnId);
    return r ? structuredClone(r) : null;
  }

  /** A customer's open receivable items (copies), for tests and inspection. */
  openItems(erpCustomerId: string): OpenItem[] {
    return (this.receivables.get(erpCustomerId) ?? []).map((i) => ({ ...i }));
  }

  /** Sets a customer's credit limit out of band (as a credit controller would in the ERP UI). */
  setCreditLimit(erpId: string, creditLimit: number): void {
    const c = this.requireCustomer(erpId);
    c.creditLimit = creditLimit;
    c.revision++;
  }

  /** The stored customer record (a copy), for tests and inspection routes. */
  customerRecord(erpId: string): ErpCustomerRecord | null {
    const c = this.customers.get(erpId);
    return c ? { ...c, addresses: c.addresses.map((a) => ({ ...a })) } : null;
  }

  /** The stored customer record by the hub's id (its cross-reference), for inspection. */
  customerRecordByExternalId(externalId: string): ErpCustomerRecord | null {
    const erpId = this.customerByExternalId.get(externalId);
    return erpId ? this.customerRecord(erpId) : null;
  }

  /** Reads the change feed like `changesSince` but without fault injection or call counting. */
  peekChanges(start: number, limit: number): ErpChangePage {
    return this.feedPage(start, limit);
  }

  /** Customers in ERP id order, paged, for inspection. */
  listCustomers(offset: number, limit: number): { items: ErpCustomer[]; total: number } {
    const all = [...this.customers.values()];
    return { items: all.slice(offset, offset + limit).map((c) => this.view(c)), total: all.length };
  }

  /** The stored order (a deep copy), for tests and inspection routes. */
  orderRecord(erpOrderId: string): ErpOrderRecord | null {
    const o = this.orders.get(erpOrderId);
    return o ? structuredClone(o) : null;
  }

  /** The order created for an idempotency key, if any. */
  orderByIdempotencyKey(key: string): ErpOrderRecord | null {
    const id = this.orderByKey.get(key);
    return id ? this.orderRecord(id) : null;
  }

  /** Kept orders in creation order, paged, for inspection. */
  listOrders(offset: number, limit: number): { items: ErpOrderStatus[]; total: number } {
    return {
      items: pageOf(this.orders.values(), offset, limit).map((o) => this.status(o)),
      total: this.orders.size,
    };
  }

  /** Number of sales orders created, evicted ones included (each idempotency key counts once). */
  get orderCount(): number {
    return this.nextOrder - 1;
  }

  /** The change feed's length (its latest watermark), evicted entries included. */
  get feedLength(): number {
    return this.feed.length;
  }

  /** Records evicted from memory so far, per kind. */
  get evictedCounts(): { orders: number; changes: number } {
    return { orders: this.orders.evicted, changes: this.feed.evicted };
  }

  // --- internals ----------------------------------------------------------------------------

  /** Feed entries after `start`, skipping what was evicted (see `feedPage` in feed.ts). */
  private feedPage(start: number, limit: number): ErpChangePage {
    const { entries, start: from } = this.feed.after(start, Math.max(1, limit));
    return { changes: entries, watermark: String(entries.length === 0 ? start : from + entries.length) };
  }

  /** The status of an evicted confirmed order, from what it left behind; null if not one. */
  private evictedStatus(erpOrderId: string): ErpOrderStatus | null {
    if (this.orders.has(erpOrderId)) return null;
    const e = this.evictedOrders.get(erpOrderId);
    if (!e) return null;
    return {
      erpOrderId,
      erpOrderNumber: orderNumber(erpOrderId),
      hubOrderId: e.hubOrderId,
      state: e.state,
      shipments: [],
      invoices: [],
    };
  }

  private exposureOf(erpId: string): number {
    let open = 0;
    for (const item of this.receivables.get(erpId) ?? []) open += item.amount;
    return round4(open + (this.uninvoiced.get(erpId) ?? 0));
  }

  private openItem(erpCustomerId: string, item: OpenItem): void {
    const list = this.receivables.get(erpCustomerId);
    if (list) list.push(item);
    else this.receivables.set(erpCustomerId, [item]);
  }

  /** Removes a paid item (what is left of it). */
  private closeItem(erpCustomerId: string, id: string): void {
    const list = this.receivables.get(erpCustomerId);
    if (!list) return;
    const i = list.findIndex((x) => x.id === id);
    if (i >= 0) list.splice(i, 1);
  }

  /** A credit memo: first off what is left of the invoice it credits, the rest as a negative item. */
  private applyCredit(erpCustomerId: string, invoiceId: string | null, memoId: string, amount: number): void {
    let left = amount;
    const target = invoiceId
      ? (this.receivables.get(erpCustomerId) ?? []).find((x) => x.id === invoiceId)
      : undefined;
    if (target) {
      const take = Math.min(target.amount, left);
      target.amount = round4(target.amount - take);
      left = round4(left - take);
      if (target.amount <= 0) this.closeItem(erpCustomerId, target.id);
    }
    if (left > 0) this.openItem(erpCustomerId, { id: memoId, amount: -left, dueOn: null });
  }

  private maybeDone(order: ErpOrderRecord): void {
    if (order.state === 'done') return;
    const shipped =
      order.shipments.length > 0 &&
      order.shipments.every((s) => s.state === 'done' || s.state === 'cancelled');
    const invoiced = order.invoices.some(
      (i) => i.kind !== 'credit_memo' && (i.state === 'posted' || i.state === 'paid'),
    );
    if (shipped && invoiced) {
      order.state = 'done';
      this.emit('order', order, 'done', order.erpOrderId);
    }
  }

  private emit(kind: ErpChange['kind'], order: ErpOrderRecord, milestone: string, recordId: string): void {
    this.feed.push({
      kind,
      erpOrderId: order.erpOrderId,
      hubOrderId: order.hubOrderId,
      milestone,
      recordId,
      at: this.clock.now().toISOString(),
    });
  }

  private requireCustomer(erpId: string): ErpCustomerRecord {
    const c = this.customers.get(erpId);
    if (!c) {
      throw CrossdockError.dataQuality(`Unknown ERP customer ${erpId}`, {
        details: { system: this.system, erpCustomerId: erpId },
      });
    }
    return c;
  }

  private requireOrder(erpOrderId: string): ErpOrderRecord {
    const o = this.orders.get(erpOrderId);
    if (!o) {
      throw CrossdockError.dataQuality(`Unknown ERP sales order ${erpOrderId} (never created, or evicted)`, {
        details: { system: this.system, erpOrderId },
      });
    }
    return o;
  }

  private view(c: ErpCustomerRecord): ErpCustomer {
    return {
      erpId: c.erpId,
      externalId: c.externalId,
      name: c.name,
      creditLimit: c.creditLimit,
      currency: c.currency,
      addresses: c.addresses.map((a) => ({ ...a })),
      version: String(c.revision),
    };
  }

  private status(o: ErpOrderRecord): ErpOrderStatus {
    return {
      erpOrderId: o.erpOrderId,
      erpOrderNumber: o.erpOrderNumber,
      hubOrderId: o.hubOrderId,
      state: o.state,
      shipments: o.shipments.map((s) => ({ ...s, lines: s.lines.map((l) => ({ ...l })) })),
      invoices: o.invoices.map((i) => structuredClone(i)),
    };
  }
}

/** One open receivable item of a customer (see `ErpSimulator.receivables`). */
export interface OpenItem {
  id: string;
  /** What is left to pay; negative for an unapplied credit. */
  amount: number;
  /** Due date (YYYY-MM-DD); null for a credit. */
  dueOn: string | null;
}

/** A return authorization as the simulated ERP keeps it. */
export interface ErpReturnRecord {
  returnId: string;
  erpReturnId: string;
  rmaNumber: string;
  erpOrderId: string;
  lines: { sku: string; quantity: number }[];
  /** The credit memo issued for it (its ERP invoice id), once. */
  creditMemo: string | null;
}

/**
 * The due date of an invoice dated `issueDate` under `terms`: `NET<n>` is n days later, `EOM`
 * the month's last day, `DUE_ON_RECEIPT`/`COD`/`PREPAID` the invoice date itself. Unknown terms
 * count as NET30 (the ERP's default).
 */
export function paymentTermsDueDate(issueDate: string, terms: string): string {
  const t = terms.trim().toUpperCase();
  const day = Date.parse(`${issueDate}T00:00:00Z`);
  const net = /^NET\s*(\d{1,3})$/.exec(t);
  if (net) return new Date(day + Number(net[1]) * 86_400_000).toISOString().slice(0, 10);
  if (t === 'DUE_ON_RECEIPT' || t === 'COD' || t === 'PREPAID') return issueDate;
  if (t === 'EOM') {
    const d = new Date(day);
    return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).toISOString().slice(0, 10);
  }
  return new Date(day + 30 * 86_400_000).toISOString().slice(0, 10);
}
