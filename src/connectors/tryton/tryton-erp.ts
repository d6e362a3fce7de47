/**
 * TrytonErp: the ErpPort over a real Tryton 6.0 (sale, sale_price_list, sale_credit_limit, stock,
 * account_invoice).
 *
 * Why it is shaped this way:
 * - Idempotency lives in Tryton itself, so it survives a hub crash: customers are anchored by
 *   party `code` (unique in Tryton) = the hub's external id; sales by `description` =
 *   `crossdock:<idempotency key>`, searched before every create.
 * - Every method is safe to repeat, so the whole method is retried on retryable failures. After
 *   an *ambiguous* failure (timeout or dropped socket after the create was sent), the retry
 *   waits up to `settleMs` for the first create to become visible before creating again.
 * - Buttons are pressed only from the right state and verified after (see workflow.ts).
 */
import { CrossdockError, toCrossdockError } from '../../domain/errors.js';
import type { Address } from '../../domain/index.js';
import type {
  CreditExposure,
  ErpCancelInput,
  ErpCancelRefusal,
  ErpCancelResult,
  ErpChangePage,
  ErpCustomer,
  ErpCustomerInput,
  ErpCustomerPrice,
  ErpOrderInput,
  ErpOrderRef,
  ErpOrderStatus,
  ErpPort,
  ErpProduct,
  ErpReturnInput,
  ErpReturnResult,
  ErpShipmentStatus,
  ErpStock,
} from '../../ports/erp.js';
import { readChanges } from './change-feed.js';
import { ConcurrencyLimiter } from './limiter.js';
import {
  addressFields,
  fromAddress,
  hubOrderIdFromComment,
  hubOrderMarker,
  partyFields,
  recordVersion,
  relatedId,
  relatedIds,
  roundMoney,
  saleAnchor,
  sameAddress,
  toAddress,
  toCustomer,
  toInvoice,
  toOrderState,
  toProduct,
  toShipmentState,
} from './mapping.js';
import { defaultRetryPolicy, type RetryPolicy, withRetry } from './retry.js';
import { type TrytonClientOptions, type TrytonContext, TrytonRpcClient } from './rpc-client.js';
import {
  numberOf,
  stringOf,
  TrytonDate,
  TrytonDateTime,
  TrytonDecimal,
  type TrytonRecord,
  type TrytonValue,
} from './values.js';
import {
  cancelInvoice,
  cancelSale,
  cancelShipment,
  confirmSale,
  draftSale,
  pressGuarded,
  quoteSale,
} from './workflow.js';

/** Configuration of the Tryton connector (the `erp.tryton` block of the hub config). */
export interface TrytonErpConfig extends TrytonClientOptions {
  /** Warehouse code (stock.location of type warehouse) used when a line names none. Default `WH`. */
  defaultWarehouse?: string;
  /**
   * Sales orders created or confirmed at once. Default 2: Tryton on SQLite serialises writes,
   * so more parallel orders only interleave their calls and make every order late (measured:
   * 25 orders through 4 interleaved slots all finished after ~20 s instead of one by one).
   */
  maxConcurrentOrders?: number;
  /**
   * Who owns credit limits. `erp` (default): the hub never writes `credit_limit_amount` (Tryton
   * lets only the "Account Credit Limit" group write it, which the integration user must not
   * have), so a `creditLimit` in create/update input is ignored. `hub`: it is written, and the
   * user then needs that group.
   */
  creditLimitOwner?: 'erp' | 'hub';
  /** Retries of a whole port method on retryable failures. */
  retry?: RetryPolicy;
  /** After an ambiguous write failure, how long to wait for the first write to show. Default 3 s. */
  settleMs?: number;
}

interface Warehouse {
  id: number;
  code: string;
}

const saleFields = ['id', 'number', 'state', 'description', 'comment', 'party', 'shipments', 'invoices'];
const system = 'tryton';

/** Builds the ErpPort for a Tryton server; the composition root calls this from config. */
export function createTrytonErp(config: TrytonErpConfig): TrytonErp {
  return new TrytonErp(config);
}

/** The ErpPort implementation over Tryton JSON-RPC. */
export class TrytonErp implements ErpPort {
  readonly system = system;
  /** The underlying client, for the harness's fulfillment operations and for metrics. */
  readonly client: TrytonRpcClient;
  private readonly retry: RetryPolicy;
  private readonly settleMs: number;
  private readonly defaultWarehouseCode: string;
  private readonly keyLocks = new Map<string, Promise<unknown>>();
  private readonly orderLimiter: ConcurrencyLimiter;
  private readonly writesCreditLimit: boolean;
  private companyCurrency: Promise<{ id: number; code: string }> | null = null;
  private warehouses: Promise<Warehouse[]> | null = null;
  private readonly countries = new Map<string, number>();

  constructor(config: TrytonErpConfig) {
    this.client = new TrytonRpcClient(config);
    this.retry = config.retry ?? defaultRetryPolicy;
    this.settleMs = config.settleMs ?? 3000;
    this.defaultWarehouseCode = config.defaultWarehouse ?? 'WH';
    this.writesCreditLimit = config.creditLimitOwner === 'hub';
    this.orderLimiter = new ConcurrencyLimiter({
      maxConcurrency: config.maxConcurrentOrders ?? 2,
      maxQueue: config.maxQueue ?? 256,
      retryAfterMs: 2000,
    });
  }

  /** Releases connections. */
  async close(): Promise<void> {
    await this.client.close();
  }

  // Customers ----------------------------------------------------------------------------------

  async findCustomerByExternalId(externalId: string): Promise<ErpCustomer | null> {
    return withRetry(this.retry, async () => {
      const parties = await this.client.searchRead('party.party', [['code', '=', externalId]], partyFields, {
        limit: 1,
      });
      const party = parties[0];
      return party ? this.customerFrom(party) : null;
    });
  }

  async createCustomer(input: ErpCustomerInput): Promise<ErpCustomer> {
    if (!input.externalId?.trim()) throw missing('externalId', 'customer');
    if (!input.name?.trim()) throw missing('name', 'customer');
    return this.serialised(`customer:${input.externalId}`, () =>
      withRetry(this.retry, async (attempt) => {
        const existing = await this.findPartyWithSettle(input.externalId, attempt > 0);
        if (existing) return this.customerFrom(existing);
        const values: Record<string, TrytonValue> = { name: input.name, code: input.externalId };
        if (this.writesCreditLimit && input.creditLimit !== undefined)
          values['credit_limit_amount'] = TrytonDecimal.fromNumber(input.creditLimit, 2);
        if (input.paymentTerms)
          values['customer_payment_term'] = await this.paymentTermId(input.paymentTerms);
        if (input.addresses.length > 0)
          values['addresses'] = [['create', await this.addressValues(input.addresses)]];
        try {
          await this.client.create('party.party', values);
        } catch (err) {
          // Lost a race with another writer of the same external id: the unique code says so.
          if (toCrossdockError(err).kind !== 'conflict') throw err;
        }
        const created = await this.findPartyWithSettle(input.externalId, false);
        if (!created)
          throw CrossdockError.transient('created party not visible yet', { details: { system } });
        return this.customerFrom(created);
      }),
    );
  }

  async updateCustomer(
    erpId: string,
    patch: Partial<Omit<ErpCustomerInput, 'externalId'>>,
    expectedVersion?: string,
  ): Promise<ErpCustomer> {
    const id = partyId(erpId);
    return withRetry(this.retry, async () => {
      const party = await this.readParty(id);
      if (expectedVersion !== undefined && recordVersion(party) !== expectedVersion) {
        throw CrossdockError.conflict(
          `customer ${erpId} changed in Tryton since version ${expectedVersion}`,
          {
            details: { system, erpId, expectedVersion, actualVersion: recordVersion(party) },
          },
        );
      }
      const values: Record<string, TrytonValue> = {};
      if (patch.name !== undefined) {
        if (!patch.name.trim()) throw missing('name', 'customer');
        values['name'] = patch.name;
      }
      if (this.writesCreditLimit && patch.creditLimit !== undefined)
        values['credit_limit_amount'] = TrytonDecimal.fromNumber(patch.creditLimit, 2);
      if (patch.paymentTerms !== undefined)
        values['customer_payment_term'] = await this.paymentTermId(patch.paymentTerms);
      if (patch.addresses !== undefined) {
        const current = (
          await this.client.read('party.address', relatedIds(party, 'addresses'), addressFields)
        ).map(toAddress);
        const toAdd = patch.addresses.filter((a) => !current.some((c) => sameAddress(c, a)));
        if (toAdd.length > 0) values['addresses'] = [['create', await this.addressValues(toAdd)]];
      }
      if (Object.keys(values).length > 0) {
        // Tryton's own optimistic lock as a second guard: `_timestamp` in the context makes the
        // write fail with ConcurrencyException if the record moved between our read and write.
        const timestamp = await this.client.read('party.party', [id], ['_timestamp']);
        const stamp = stringOf(timestamp[0]?.['_timestamp']);
        const context: TrytonContext =
          expectedVersion !== undefined && stamp ? { _timestamp: { [`party.party,${id}`]: stamp } } : {};
        await this.client.write('party.party', [id], values, context);
      }
      return this.customerFrom(await this.readParty(id));
    });
  }

  async getCreditExposure(erpCustomerId: string): Promise<CreditExposure> {
    const id = partyId(erpCustomerId);
    return withRetry(this.retry, async () => {
      const rows = await this.client.read('party.party', [id], ['credit_limit_amount', 'credit_amount']);
      const row = rows[0];
      if (!row) throw notFound('customer', erpCustomerId);
      return {
        erpCustomerId,
        creditLimit: roundMoney(numberOf(row['credit_limit_amount'])),
        exposure: roundMoney(numberOf(row['credit_amount'])),
        currency: (await this.currency()).code,
        asOf: new Date().toISOString(),
      };
    });
  }

  // Products, prices, stock --------------------------------------------------------------------

  async getProducts(skus?: string[]): Promise<ErpProduct[]> {
    return withRetry(this.retry, async () => {
      const domain: TrytonValue[] = [['active', 'in', [true, false]]];
      if (skus) domain.push(['code', 'in', skus]);
      const rows = await this.client.searchRead(
        'product.product',
        domain,
        ['id', 'code', 'name', 'list_price', 'active', 'default_uom.symbol'],
        { order: [['code', 'ASC']] },
      );
      return rows.map(toProduct);
    });
  }

  async getCustomerPrices(erpCustomerId: string, skus: string[]): Promise<ErpCustomerPrice[]> {
    const id = partyId(erpCustomerId);
    return withRetry(this.retry, async () => {
      const party = (await this.client.read('party.party', [id], ['sale_price_list']))[0];
      if (!party) throw notFound('customer', erpCustomerId);
      const context: TrytonContext = { customer: id };
      const priceList = relatedId(party, 'sale_price_list');
      if (priceList !== null) context['price_list'] = priceList;
      const rows = await this.client.searchRead(
        'product.product',
        [['code', 'in', skus]],
        ['code', 'sale_price_uom'],
        {
          context,
        },
      );
      const currency = (await this.currency()).code;
      return rows.map((r) => ({
        sku: stringOf(r['code']) ?? '',
        unitPrice: roundMoney(numberOf(r['sale_price_uom'])),
        currency,
      }));
    });
  }

  async getStock(skus: string[]): Promise<ErpStock[]> {
    return withRetry(this.retry, async () => {
      const today = new Date().toISOString().slice(0, 10);
      const out: ErpStock[] = [];
      for (const warehouse of await this.warehouseList()) {
        const rows = await this.client.searchRead(
          'product.product',
          [['code', 'in', skus]],
          ['code', 'quantity', 'forecast_quantity'],
          {
            context: { locations: [warehouse.id], stock_date_end: new TrytonDate(today), with_childs: true },
          },
        );
        const asOf = new Date().toISOString();
        for (const r of rows) {
          out.push({
            sku: stringOf(r['code']) ?? '',
            warehouseId: warehouse.code,
            onHand: numberOf(r['quantity']),
            forecast: numberOf(r['forecast_quantity']),
            asOf,
          });
        }
      }
      return out;
    });
  }

  // Sales orders -------------------------------------------------------------------------------

  async createSalesOrder(input: ErpOrderInput): Promise<ErpOrderRef> {
    validateOrder(input);
    const anchor = saleAnchor(input.idempotencyKey);
    return this.serialised(`sale:${input.idempotencyKey}`, async () => {
      let ambiguous = false;
      return withRetry(this.retry, () =>
        this.orderLimiter.run(async () => {
          const existing = await this.findSaleWithSettle(anchor, ambiguous);
          if (existing) {
            await pressGuarded(this.client, quoteSale, existing.id);
            return {
              erpOrderId: String(existing.id),
              erpOrderNumber: await this.saleNumber(existing.id),
              created: false,
            };
          }
          const values = await this.saleValues(input, anchor);
          let saleId: number;
          try {
            saleId = await this.client.create('sale.sale', values);
          } catch (err) {
            const typed = toCrossdockError(err);
            if (typed.details['ambiguous'] === true) ambiguous = true;
            throw typed;
          }
          ambiguous = false;
          // Just created by this call, so it is a draft: the guard's pre-read is skipped.
          await pressGuarded(this.client, quoteSale, saleId, 'draft');
          return { erpOrderId: String(saleId), erpOrderNumber: await this.saleNumber(saleId), created: true };
        }),
      );
    });
  }

  async confirmSalesOrder(erpOrderId: string): Promise<ErpOrderStatus> {
    const id = saleId(erpOrderId);
    return this.serialised(`confirm:${id}`, () =>
      withRetry(this.retry, () =>
        this.orderLimiter.run(async () => {
          const state = await this.readSaleState(id);
          if (state === 'cancelled') {
            throw CrossdockError.conflict(`sale ${erpOrderId} is cancelled in Tryton`, {
              details: { system, erpOrderId },
            });
          }
          const quoted =
            state === 'draft' ? (await pressGuarded(this.client, quoteSale, id, state)).after : state;
          await pressGuarded(this.client, confirmSale, id, quoted);
          const sale = (
            await this.client.searchRead('sale.sale', [['id', '=', id]], saleFields, { limit: 1 })
          )[0];
          if (!sale) throw notFound('sales order', erpOrderId);
          return this.orderStatus(sale);
        }),
      ),
    );
  }

  async getSalesOrder(erpOrderId: string): Promise<ErpOrderStatus> {
    const id = saleId(erpOrderId);
    return withRetry(this.retry, async () => {
      const sale = (
        await this.client.searchRead('sale.sale', [['id', '=', id]], saleFields, { limit: 1 })
      )[0];
      if (!sale) throw notFound('sales order', erpOrderId);
      return this.orderStatus(sale);
    });
  }

  /**
   * Cancels a sale the way Tryton 6.0 allows, one state at a time, every step guarded and
   * idempotent (a repeat, or a retry after a crash half-way, finishes what is left):
   * - draft / quotation: the sale's `cancel` button;
   * - confirmed (not processed yet): `draft`, then `cancel`;
   * - processing: each customer shipment not done is cancelled, the sale's shipment exception
   *   is handled by ignoring those moves (`sale.handle.shipment.exception`), and for the whole
   *   order its draft invoice is cancelled and ignored too (`sale.handle.invoice.exception`).
   *   Tryton has no way back from processing, so the sale then closes as `done` with nothing
   *   shipped or invoiced and its credit exposure released; the answer says so in `detail`.
   * Refused (nothing changed): a posted or paid invoice (`invoiced`: a credit note is needed),
   * a done shipment for the whole order (`shipped`), and the unshipped remainder of a sale whose
   * draft invoice covers the whole order (`unsupported`: Tryton invoices on order by default, and
   * editing that invoice is left to accounting). A remainder is cancelled by whole shipments
   * (`lines` is not used: a Tryton sale ships from one warehouse, and its open shipments are the
   * remainder).
   */
  /**
   * Returns are not driven through this connector yet: it answers a typed `unsupported` refusal
   * (the hub then rejects the return with `erp_unsupported` and says so to the CRM and the
   * customer), never an error. What is missing is written in docs/connectors/tryton.md
   * ("Returns and credit notes").
   */
  async createReturnAuthorization(input: ErpReturnInput): Promise<ErpReturnResult> {
    return {
      outcome: 'refused',
      reason: 'unsupported',
      detail: `${this.system} connector cannot create a return for ${input.hubOrderId} yet: authorize it in Tryton (Sale → Return Sale)`,
    };
  }

  async cancelSalesOrder(input: ErpCancelInput): Promise<ErpCancelResult> {
    return this.serialised(`sale:${input.idempotencyKey}`, () =>
      withRetry(this.retry, () => this.orderLimiter.run(() => this.cancelSale(input))),
    );
  }

  async changesSince(since: string | null, limit = 100): Promise<ErpChangePage> {
    return withRetry(this.retry, () => readChanges(this.client, since, limit));
  }

  // Internals ----------------------------------------------------------------------------------

  private async cancelSale(input: ErpCancelInput): Promise<ErpCancelResult> {
    const fields = [
      'id',
      'state',
      'number',
      'lines',
      'shipments',
      'invoices',
      'shipment_state',
      'invoice_state',
    ];
    const readSale = async (): Promise<TrytonRecord | null> => {
      const domain: TrytonValue[] =
        input.erpOrderId !== undefined
          ? [['id', '=', saleId(input.erpOrderId)]]
          : [['description', '=', saleAnchor(input.idempotencyKey)]];
      return (
        (
          await this.client.searchRead('sale.sale', domain, fields, { limit: 1, order: [['id', 'ASC']] })
        )[0] ?? null
      );
    };
    let sale = await readSale();
    if (!sale) return { outcome: 'not_found' };
    const id = sale.id;
    const erpOrderId = String(id);
    const number = stringOf(sale['number']) ?? erpOrderId;
    const state = () => toOrderState(sale?.['state']);
    const refused = (reason: ErpCancelRefusal, detail: string): ErpCancelResult => ({
      outcome: 'refused',
      erpOrderId,
      state: state(),
      reason,
      detail,
    });
    if (state() === 'cancelled')
      return { outcome: 'cancelled', erpOrderId, state: 'cancelled', changed: false, lines: [] };

    const invoices = await this.client.read('account.invoice', relatedIds(sale, 'invoices'), ['id', 'state']);
    if (invoices.some((i) => ['posted', 'paid'].includes(stringOf(i['state']) ?? ''))) {
      return refused('invoiced', `sale ${number} has a posted invoice; a credit note is needed`);
    }

    if (state() === 'draft' || state() === 'quotation' || stringOf(sale['state']) === 'confirmed') {
      if (stringOf(sale['state']) === 'confirmed')
        await pressGuarded(this.client, draftSale, id, 'confirmed');
      await pressGuarded(this.client, cancelSale, id);
      const lines = await this.client.read('sale.line', relatedIds(sale, 'lines'), [
        'type',
        'product.code',
        'quantity',
      ]);
      return {
        outcome: 'cancelled',
        erpOrderId,
        state: 'cancelled',
        changed: true,
        lines: lines
          .filter((l) => stringOf(l['type']) === 'line')
          .map((l) => ({ sku: nested(l, 'product', 'code') ?? '', quantity: numberOf(l['quantity']) })),
      };
    }

    // Processing (or done): work on the shipments, then the invoice.
    const shipments = await this.client.read('stock.shipment.out', relatedIds(sale, 'shipments'), [
      'id',
      'state',
      'outgoing_moves',
    ]);
    const shipped = shipments.filter((s) => stringOf(s['state']) === 'done');
    const open = shipments.filter((s) => !['done', 'cancelled'].includes(stringOf(s['state']) ?? ''));
    const scope = shipped.length === 0 ? 'order' : input.scope;
    if (scope === 'order' && shipped.length > 0) {
      return refused('shipped', `sale ${number} has ${shipped.length} shipment(s) done`);
    }
    const draftInvoices = invoices.filter((i) => ['draft', 'validated'].includes(stringOf(i['state']) ?? ''));
    if (scope === 'remainder') {
      if (open.length === 0) return refused('shipped', `sale ${number} has nothing left to ship`);
      if (draftInvoices.length > 0) {
        return refused(
          'unsupported',
          `sale ${number} is invoiced on order (draft invoice for the whole sale): cancel the remainder in Tryton by hand`,
        );
      }
    }
    let changed = false;
    const lines = new Map<string, number>();
    for (const s of open) {
      await pressGuarded(this.client, cancelShipment, s.id, stringOf(s['state']) ?? undefined);
      changed = true;
      const moves = await this.client.read('stock.move', relatedIds(s, 'outgoing_moves'), [
        'product.code',
        'quantity',
      ]);
      for (const m of moves) {
        const sku = nested(m, 'product', 'code') ?? '';
        lines.set(sku, roundMoney((lines.get(sku) ?? 0) + numberOf(m['quantity'])));
      }
    }
    sale = (await readSale()) ?? sale;
    if (stringOf(sale['shipment_state']) === 'exception') {
      // Ignore the cancelled moves (recreate none): what the wizard's "OK" does with nothing ticked.
      const ask = await this.client.wizard(
        'sale.handle.shipment.exception',
        'ask',
        {},
        { model: 'sale.sale', id },
      );
      const moves = wizardDefaults(ask, 'domain_moves');
      await this.client.wizard(
        'sale.handle.shipment.exception',
        'handle',
        { ask: { recreate_moves: [], domain_moves: moves } },
        { model: 'sale.sale', id },
      );
      changed = true;
    }
    if (scope === 'order') {
      for (const i of draftInvoices) {
        await pressGuarded(this.client, cancelInvoice, i.id, stringOf(i['state']) ?? undefined);
        changed = true;
      }
      sale = (await readSale()) ?? sale;
      if (stringOf(sale['invoice_state']) === 'exception') {
        const ask = await this.client.wizard(
          'sale.handle.invoice.exception',
          'ask',
          {},
          { model: 'sale.sale', id },
        );
        await this.client.wizard(
          'sale.handle.invoice.exception',
          'handle',
          { ask: { recreate_invoices: [], domain_invoices: wizardDefaults(ask, 'domain_invoices') } },
          { model: 'sale.sale', id },
        );
        changed = true;
      }
    }
    sale = (await readSale()) ?? sale;
    const result: ErpCancelResult = {
      outcome: 'cancelled',
      erpOrderId,
      state: state(),
      changed,
      lines: [...lines].map(([sku, quantity]) => ({ sku, quantity })),
    };
    if (scope === 'order' && state() !== 'cancelled') {
      result.detail = `Tryton cannot cancel a processed sale: its shipments and draft invoice are cancelled and ignored, and sale ${number} closes as ${state()} with nothing shipped or invoiced`;
    }
    return result;
  }

  /** Builds the status of a sale record (shipments with lines, invoices). */
  async orderStatus(sale: TrytonRecord): Promise<ErpOrderStatus> {
    const shipmentRows = await this.client.read('stock.shipment.out', relatedIds(sale, 'shipments'), [
      'id',
      'state',
      'warehouse.code',
      'outgoing_moves',
    ]);
    const shipments: ErpShipmentStatus[] = [];
    for (const s of shipmentRows) {
      const moves = await this.client.read('stock.move', relatedIds(s, 'outgoing_moves'), [
        'product.code',
        'quantity',
      ]);
      const warehouse = nested(s, 'warehouse', 'code');
      const status: ErpShipmentStatus = {
        erpShipmentId: String(s.id),
        state: toShipmentState(s['state']),
        lines: moves.map((m) => ({
          sku: nested(m, 'product', 'code') ?? '',
          quantity: numberOf(m['quantity']),
        })),
      };
      if (warehouse) status.warehouseId = warehouse;
      shipments.push(status);
    }
    const invoices = await this.client.read('account.invoice', relatedIds(sale, 'invoices'), [
      'id',
      'number',
      'state',
      'total_amount',
      'currency.code',
    ]);
    return {
      erpOrderId: String(sale.id),
      erpOrderNumber: stringOf(sale['number']) ?? String(sale.id),
      hubOrderId: hubOrderIdFromComment(sale['comment']),
      state: toOrderState(sale['state']),
      shipments,
      invoices: invoices.map(toInvoice),
    };
  }

  private async saleValues(input: ErpOrderInput, anchor: string): Promise<Record<string, TrytonValue>> {
    const party = partyId(input.erpCustomerId);
    const partyRow = (
      await this.client.searchRead('party.party', [['id', '=', party]], ['id', 'addresses'], { limit: 1 })
    )[0];
    if (!partyRow) throw notFound('customer', input.erpCustomerId);
    const currency = await this.currency();
    if (input.currency !== currency.code) {
      throw CrossdockError.dataQuality(`Tryton sells in ${currency.code}, order is in ${input.currency}`, {
        owner: 'pricing',
        details: { system, field: 'currency' },
      });
    }
    const skus = [...new Set(input.lines.map((l) => l.sku))];
    const products = await this.client.searchRead(
      'product.product',
      [['code', 'in', skus]],
      ['id', 'code', 'default_uom', 'salable'],
    );
    const bySku = new Map(products.map((p) => [stringOf(p['code']) ?? '', p]));
    const unknown = skus.filter((s) => !bySku.has(s));
    if (unknown.length > 0) {
      throw CrossdockError.dataQuality(`unknown SKU(s) in Tryton: ${unknown.join(', ')}`, {
        details: { system, field: 'lines.sku', skus: unknown },
      });
    }
    const warehouseCodes = [...new Set(input.lines.map((l) => l.warehouseId ?? this.defaultWarehouseCode))];
    if (warehouseCodes.length > 1) {
      throw CrossdockError.dataQuality(
        'a Tryton sale ships from one warehouse; split the order per warehouse',
        {
          owner: 'logistics',
          details: { system, field: 'lines.warehouseId', warehouses: warehouseCodes },
        },
      );
    }
    const warehouse = (await this.warehouseList()).find((w) => w.code === warehouseCodes[0]);
    if (!warehouse)
      throw CrossdockError.dataQuality(`unknown warehouse ${warehouseCodes[0]}`, {
        owner: 'logistics',
        details: { system },
      });

    const defaults = await this.client.model<Record<string, TrytonValue>>('sale.sale', 'on_change', [
      { party },
      ['party'],
    ]);
    const shipmentAddress = await this.shipToAddress(party, relatedIds(partyRow, 'addresses'), input.shipTo);
    const invoiceAddress =
      typeof defaults['invoice_address'] === 'number' ? defaults['invoice_address'] : shipmentAddress;
    const comment = [`${hubOrderMarker} ${input.hubOrderId}`];
    if (input.requestedDate) comment.push(`requested date: ${input.requestedDate}`);
    const values: Record<string, TrytonValue> = {
      party,
      description: anchor,
      reference: input.poNumber ?? input.hubOrderId,
      comment: comment.join('\n'),
      invoice_address: invoiceAddress,
      shipment_address: shipmentAddress,
      warehouse: warehouse.id,
      currency: currency.id,
      lines: [
        [
          'create',
          input.lines.map((line) => {
            const product = bySku.get(line.sku) as TrytonRecord;
            return {
              type: 'line',
              product: product.id,
              quantity: line.quantity,
              unit: product['default_uom'] ?? null,
              unit_price: TrytonDecimal.fromNumber(line.unitPrice, 4),
              description: line.sku,
            };
          }),
        ],
      ],
    };
    if (typeof defaults['payment_term'] === 'number') values['payment_term'] = defaults['payment_term'];
    return values;
  }

  /** The party address matching `shipTo`, created on the party when it is a new place. */
  private async shipToAddress(party: number, addressIds: number[], shipTo: Address): Promise<number> {
    const current = await this.client.read('party.address', addressIds, addressFields);
    const match = current.find((a) => sameAddress(toAddress(a), shipTo));
    if (match) return match.id;
    const [values] = await this.addressValues([{ ...shipTo, kind: 'shipping' }], false);
    return this.client.create('party.address', { ...(values as Record<string, TrytonValue>), party });
  }

  private async addressValues(
    addresses: Address[],
    defaultInvoice = true,
  ): Promise<Record<string, TrytonValue>[]> {
    const hasBilling = addresses.some((a) => a.kind === 'billing');
    const out: Record<string, TrytonValue>[] = [];
    for (const [i, address] of addresses.entries()) {
      if (!address.line1 || !address.city || !address.postalCode || !address.country) {
        throw missing('address.line1/city/postalCode/country', 'address');
      }
      const invoice = address.kind === 'billing' || (defaultInvoice && !hasBilling && i === 0);
      out.push(fromAddress(address, await this.countryId(address.country), invoice));
    }
    return out;
  }

  private async countryId(code: string): Promise<number> {
    const cached = this.countries.get(code);
    if (cached !== undefined) return cached;
    const rows = await this.client.searchRead('country.country', [['code', '=', code]], ['id'], { limit: 1 });
    const row = rows[0];
    if (!row) {
      throw CrossdockError.dataQuality(`country ${code} is not set up in Tryton`, {
        details: { system, field: 'address.country' },
      });
    }
    this.countries.set(code, row.id);
    return row.id;
  }

  private async paymentTermId(name: string): Promise<number> {
    const rows = await this.client.searchRead('account.invoice.payment_term', [['name', '=', name]], ['id'], {
      limit: 1,
    });
    const row = rows[0];
    if (!row)
      throw CrossdockError.dataQuality(`payment term ${name} is not set up in Tryton`, {
        details: { system, field: 'paymentTerms' },
      });
    return row.id;
  }

  private async readParty(id: number): Promise<TrytonRecord> {
    const row = (
      await this.client.searchRead('party.party', [['id', '=', id]], partyFields, { limit: 1 })
    )[0];
    if (!row) throw notFound('customer', String(id));
    return row;
  }

  private async customerFrom(party: TrytonRecord): Promise<ErpCustomer> {
    const addresses = await this.client.read('party.address', relatedIds(party, 'addresses'), addressFields);
    return toCustomer(party, addresses, (await this.currency()).code);
  }

  private async findPartyWithSettle(externalId: string, settle: boolean): Promise<TrytonRecord | null> {
    return this.settle(settle, async () => {
      const rows = await this.client.searchRead('party.party', [['code', '=', externalId]], partyFields, {
        limit: 1,
      });
      return rows[0] ?? null;
    });
  }

  private async findSaleWithSettle(anchor: string, settle: boolean): Promise<TrytonRecord | null> {
    return this.settle(settle, async () => {
      const rows = await this.client.searchRead(
        'sale.sale',
        [['description', '=', anchor]],
        ['id', 'state'],
        {
          limit: 1,
          order: [['id', 'ASC']],
        },
      );
      return rows[0] ?? null;
    });
  }

  /**
   * Searches once, or, after an ambiguous failure, until found or `settleMs` passed: the first
   * request may still be running inside trytond and commit after our search.
   */
  private async settle<T>(settle: boolean, search: () => Promise<T | null>): Promise<T | null> {
    const deadline = Date.now() + (settle ? this.settleMs : 0);
    for (;;) {
      const found = await search();
      if (found || Date.now() >= deadline) return found;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  private async readSaleState(id: number): Promise<string> {
    const row = (await this.client.searchRead('sale.sale', [['id', '=', id]], ['state'], { limit: 1 }))[0];
    if (!row) throw notFound('sales order', String(id));
    return stringOf(row['state']) ?? 'draft';
  }

  private async saleNumber(id: number): Promise<string> {
    const row = (await this.client.read('sale.sale', [id], ['number']))[0];
    return stringOf(row?.['number']) ?? String(id);
  }

  private currency(): Promise<{ id: number; code: string }> {
    if (!this.companyCurrency) {
      const pending = (async () => {
        const rows = await this.client.searchRead(
          'company.company',
          [],
          ['id', 'currency', 'currency.code'],
          { limit: 1 },
        );
        const row = rows[0];
        if (!row)
          throw CrossdockError.dataQuality('no company in Tryton', {
            owner: 'integration',
            details: { system },
          });
        return { id: relatedId(row, 'currency') ?? 0, code: nested(row, 'currency', 'code') ?? 'USD' };
      })();
      this.companyCurrency = pending;
      pending.catch(() => {
        this.companyCurrency = null;
      });
    }
    return this.companyCurrency;
  }

  private warehouseList(): Promise<Warehouse[]> {
    if (!this.warehouses) {
      const pending = (async () => {
        const rows = await this.client.searchRead(
          'stock.location',
          [['type', '=', 'warehouse']],
          ['id', 'code'],
          {
            order: [['id', 'ASC']],
          },
        );
        return rows.map((r) => ({ id: r.id, code: stringOf(r['code']) ?? String(r.id) }));
      })();
      this.warehouses = pending;
      pending.catch(() => {
        this.warehouses = null;
      });
    }
    return this.warehouses;
  }

  /** One operation per key at a time in this process (two callers, one key → one create). */
  private async serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.keyLocks.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(fn);
    this.keyLocks.set(key, run);
    try {
      return await run;
    } finally {
      if (this.keyLocks.get(key) === run) this.keyLocks.delete(key);
    }
  }
}

/** The ids a wizard's `ask` view proposes in `field` (its defaults). */
function wizardDefaults(answer: TrytonValue, field: string): number[] {
  const view = (answer as { view?: { defaults?: Record<string, unknown> } } | null)?.view;
  const ids = view?.defaults?.[field];
  return Array.isArray(ids) ? ids.filter((v): v is number => typeof v === 'number') : [];
}

function nested(record: TrytonRecord, field: string, key: string): string | null {
  const value = record[`${field}.`];
  if (value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof TrytonDateTime)) {
    return stringOf((value as Record<string, TrytonValue>)[key]);
  }
  return null;
}

function partyId(erpId: string): number {
  const id = Number(erpId);
  if (!Number.isInteger(id) || id <= 0) {
    throw CrossdockError.dataQuality(`not a Tryton party id: ${erpId}`, {
      details: { system, field: 'erpCustomerId' },
    });
  }
  return id;
}

function saleId(erpOrderId: string): number {
  const id = Number(erpOrderId);
  if (!Number.isInteger(id) || id <= 0) {
    throw CrossdockError.dataQuality(`not a Tryton sale id: ${erpOrderId}`, {
      details: { system, field: 'erpOrderId' },
    });
  }
  return id;
}

function missing(field: string, record: string): CrossdockError {
  return CrossdockError.dataQuality(`${record}: ${field} is required`, { details: { system, field } });
}

function notFound(what: string, id: string): CrossdockError {
  return CrossdockError.dataQuality(`${what} ${id} does not exist in Tryton`, { details: { system, id } });
}

function validateOrder(input: ErpOrderInput): void {
  if (!input.idempotencyKey?.trim()) throw missing('idempotencyKey', 'sales order');
  if (!input.hubOrderId?.trim()) throw missing('hubOrderId', 'sales order');
  if (!input.erpCustomerId?.trim()) throw missing('erpCustomerId', 'sales order');
  if (!input.lines || input.lines.length === 0) throw missing('lines', 'sales order');
  for (const line of input.lines) {
    if (!line.sku?.trim()) throw missing('lines.sku', 'sales order');
    if (!(line.quantity > 0)) throw missing('lines.quantity (> 0)', 'sales order');
    if (!(line.unitPrice >= 0)) throw missing('lines.unitPrice (>= 0)', 'sales order');
  }
  if (!input.shipTo) throw missing('shipTo', 'sales order');
}
