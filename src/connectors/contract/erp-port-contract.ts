/**
 * The ErpPort contract suite: one set of vitest tests every ERP connector must pass (the
 * simulator, Tryton, and any future NetSuite or Dynamics connector).
 *
 * Why a function that registers tests: the process layer is written against the port, not a
 * vendor, so the port's promises (idempotent writes, typed errors, monotonic fulfillment) must
 * hold for every backend alike. A backend supplies a harness with its seeded data and the few
 * hooks a black-box test cannot do through the port (advance a warehouse, inject a fault).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrossdockError, type ErrorKind } from '../../domain/errors.js';
import type { Address } from '../../domain/index.js';
import type { ErpChange, ErpOrderInput, ErpPort } from '../../ports/erp.js';

/** A port wired to fail in one way, plus its clean-up. */
export interface FaultyErp {
  port: ErpPort;
  dispose(): Promise<void>;
}

/** What a backend provides to the contract suite. */
export interface ErpContractHarness {
  port: ErpPort;
  /** A seeded customer far inside its credit limit. */
  inCreditCustomer: { erpId: string; externalId: string };
  /** A seeded customer whose credit limit any order exceeds. */
  overLimitCustomer: { erpId: string };
  /** At least two SKUs with stock in `warehouseId`. */
  skusInStock: string[];
  warehouseId: string;
  currency: string;
  shipTo: Address;
  /** Drives every shipment of the order to done, as a warehouse would. */
  advanceFulfillment(erpOrderId: string): Promise<void>;
  /** Issues (posts) the order's invoices, where the backend needs a separate step. */
  issueInvoices?(erpOrderId: string): Promise<void>;
  /** A port whose calls hang past its timeout (expect `transient`). */
  timingOutPort(): Promise<FaultyErp>;
  /** A port whose connections are refused (expect `downstream_outage`). */
  refusingPort(): Promise<FaultyErp>;
  dispose(): Promise<void>;
}

async function expectKind(promise: Promise<unknown>, kind: ErrorKind): Promise<CrossdockError> {
  const err = await promise.then(
    () => {
      throw new Error(`expected a ${kind} failure, the call succeeded`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CrossdockError);
  expect((err as CrossdockError).kind).toBe(kind);
  return err as CrossdockError;
}

let counter = 0;
function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${process.pid}-${counter}`;
}

/** Registers the ErpPort contract tests for one backend. */
export function erpPortContract(name: string, makeHarness: () => Promise<ErpContractHarness>): void {
  describe(`ErpPort contract: ${name}`, () => {
    let h: ErpContractHarness;
    beforeAll(async () => {
      h = await makeHarness();
    });
    afterAll(async () => {
      await h?.dispose();
    });

    const order = (overrides: Partial<ErpOrderInput> = {}): ErpOrderInput => {
      const hubOrderId = unique('ord');
      return {
        idempotencyKey: `${hubOrderId}:create`,
        hubOrderId,
        erpCustomerId: h.inCreditCustomer.erpId,
        poNumber: unique('PO'),
        currency: h.currency,
        shipTo: h.shipTo,
        lines: [
          { sku: h.skusInStock[0] as string, quantity: 2, unitPrice: 10, warehouseId: h.warehouseId },
          { sku: h.skusInStock[1] as string, quantity: 1, unitPrice: 5.5, warehouseId: h.warehouseId },
        ],
        ...overrides,
      };
    };

    describe('customers', () => {
      it('finds a seeded customer by its external id', async () => {
        const found = await h.port.findCustomerByExternalId(h.inCreditCustomer.externalId);
        expect(found?.erpId).toBe(h.inCreditCustomer.erpId);
        expect(found?.externalId).toBe(h.inCreditCustomer.externalId);
        expect(found?.version).toBeTruthy();
      });

      it('answers null for an external id the ERP has never seen', async () => {
        expect(await h.port.findCustomerByExternalId(unique('nobody'))).toBeNull();
      });

      it('creates a customer once: a repeat with the same external id returns the same record', async () => {
        const input = {
          externalId: unique('cust'),
          name: 'Contract Test Customer',
          addresses: [h.shipTo],
          currency: h.currency,
        };
        const first = await h.port.createCustomer(input);
        const again = await h.port.createCustomer(input);
        expect(again.erpId).toBe(first.erpId);
        expect(first.name).toBe(input.name);
        expect(first.addresses.length).toBeGreaterThanOrEqual(1);
        expect((await h.port.findCustomerByExternalId(input.externalId))?.erpId).toBe(first.erpId);
      });

      // Credit limits are deliberately not written here: in a real ERP they belong to the credit
      // team (Tryton lets only the "Account Credit Limit" group write them), not the hub.
      it('updates a customer with the current version and refuses a stale version as a conflict', async () => {
        const created = await h.port.createCustomer({
          externalId: unique('cust'),
          name: 'Before Rename',
          addresses: [h.shipTo],
        });
        const updated = await h.port.updateCustomer(created.erpId, { name: 'After Rename' }, created.version);
        expect(updated.name).toBe('After Rename');
        expect(updated.version).not.toBe(created.version);
        await expectKind(
          h.port.updateCustomer(created.erpId, { name: 'Lost Update' }, created.version),
          'conflict',
        );
        expect((await h.port.findCustomerByExternalId(created.externalId))?.name).toBe('After Rename');
      });

      it('refuses a customer without a name as data_quality', async () => {
        await expectKind(
          h.port.createCustomer({ externalId: unique('cust'), name: '', addresses: [h.shipTo] }),
          'data_quality',
        );
      });

      it('reads credit limit and exposure in the ERP currency', async () => {
        const credit = await h.port.getCreditExposure(h.inCreditCustomer.erpId);
        expect(credit.erpCustomerId).toBe(h.inCreditCustomer.erpId);
        expect(credit.creditLimit).toBeGreaterThan(0);
        expect(credit.exposure).toBeGreaterThanOrEqual(0);
        expect(credit.currency).toBe(h.currency);
        expect(Number.isNaN(Date.parse(credit.asOf))).toBe(false);
      });
    });

    describe('products, prices and stock', () => {
      it('reads products by SKU with a list price and unit', async () => {
        const products = await h.port.getProducts(h.skusInStock);
        expect(products.map((p) => p.sku).sort()).toEqual([...h.skusInStock].sort());
        for (const p of products) {
          expect(p.listPrice).toBeGreaterThan(0);
          expect(p.uom).toBeTruthy();
          expect(p.active).toBe(true);
        }
        const all = await h.port.getProducts();
        expect(all.length).toBeGreaterThanOrEqual(h.skusInStock.length);
      });

      it('reads one customer price per requested SKU', async () => {
        const prices = await h.port.getCustomerPrices(h.inCreditCustomer.erpId, h.skusInStock);
        expect(prices.map((p) => p.sku).sort()).toEqual([...h.skusInStock].sort());
        for (const p of prices) {
          expect(p.unitPrice).toBeGreaterThan(0);
          expect(p.currency).toBe(h.currency);
        }
      });

      it('reads stock per warehouse with stock on hand for the in-stock SKUs', async () => {
        const stock = await h.port.getStock(h.skusInStock);
        for (const sku of h.skusInStock) {
          const row = stock.find((s) => s.sku === sku && s.warehouseId === h.warehouseId);
          expect(row, `stock row for ${sku} in ${h.warehouseId}`).toBeDefined();
          expect(row?.onHand).toBeGreaterThan(0);
        }
      });
    });

    describe('sales orders', () => {
      it('creates a sales order once: a repeat with the same key returns the same ERP order', async () => {
        const input = order();
        const first = await h.port.createSalesOrder(input);
        const again = await h.port.createSalesOrder(input);
        expect(first.created).toBe(true);
        expect(again.created).toBe(false);
        expect(again.erpOrderId).toBe(first.erpOrderId);
        expect(again.erpOrderNumber).toBe(first.erpOrderNumber);
        const status = await h.port.getSalesOrder(first.erpOrderId);
        expect(status.hubOrderId).toBe(input.hubOrderId);
        expect(['draft', 'quotation']).toContain(status.state);
      });

      it('runs concurrent creates with one key into exactly one ERP order', async () => {
        const input = order();
        const refs = await Promise.all([
          h.port.createSalesOrder(input),
          h.port.createSalesOrder(input),
          h.port.createSalesOrder(input),
        ]);
        expect(new Set(refs.map((r) => r.erpOrderId)).size).toBe(1);
        expect(refs.filter((r) => r.created)).toHaveLength(1);
      });

      it('confirms an order, and a repeated confirm is a no-op', async () => {
        const ref = await h.port.createSalesOrder(order());
        const confirmed = await h.port.confirmSalesOrder(ref.erpOrderId);
        expect(['confirmed', 'processing']).toContain(confirmed.state);
        const again = await h.port.confirmSalesOrder(ref.erpOrderId);
        expect(['confirmed', 'processing', 'done']).toContain(again.state);
        expect(again.erpOrderId).toBe(ref.erpOrderId);
      });

      it('reports fulfillment and invoice state after the warehouse ships the order', async () => {
        const ref = await h.port.createSalesOrder(order());
        await h.port.confirmSalesOrder(ref.erpOrderId);
        await h.advanceFulfillment(ref.erpOrderId);
        if (h.issueInvoices) await h.issueInvoices(ref.erpOrderId);
        const status = await h.port.getSalesOrder(ref.erpOrderId);
        expect(status.shipments.length).toBeGreaterThanOrEqual(1);
        for (const s of status.shipments) {
          expect(s.state).toBe('done');
          expect(s.lines.length).toBeGreaterThan(0);
        }
        expect(status.invoices.length).toBeGreaterThanOrEqual(1);
        for (const inv of status.invoices) {
          expect(['draft', 'posted', 'paid']).toContain(inv.state);
          expect(inv.amount).toBeGreaterThan(0);
        }
      });

      it('publishes shipment milestones on the change feed behind a watermark', async () => {
        let page = await h.port.changesSince(null, 500);
        let watermark = page.watermark;
        while (page.changes.length > 0) {
          page = await h.port.changesSince(watermark, 500);
          watermark = page.watermark;
        }
        const ref = await h.port.createSalesOrder(order());
        await h.port.confirmSalesOrder(ref.erpOrderId);
        await h.advanceFulfillment(ref.erpOrderId);
        const seen: ErpChange[] = [];
        for (let i = 0; i < 50; i += 1) {
          page = await h.port.changesSince(watermark, 3);
          seen.push(...page.changes);
          watermark = page.watermark;
          if (page.changes.length === 0) break;
        }
        const mine = seen.filter((c) => c.erpOrderId === ref.erpOrderId);
        expect(mine.some((c) => c.kind === 'shipment' && c.milestone === 'done')).toBe(true);
        for (const c of mine) expect(Number.isNaN(Date.parse(c.at))).toBe(false);
        const after = await h.port.changesSince(watermark, 100);
        expect(after.changes.filter((c) => c.erpOrderId === ref.erpOrderId)).toHaveLength(0);
      });

      it('refuses to confirm past the credit limit as policy_violation and never reports the order accepted', async () => {
        const ref = await h.port.createSalesOrder(order({ erpCustomerId: h.overLimitCustomer.erpId }));
        const err = await expectKind(h.port.confirmSalesOrder(ref.erpOrderId), 'policy_violation');
        expect(err.retryable).toBe(false);
        const status = await h.port.getSalesOrder(ref.erpOrderId);
        expect(['draft', 'quotation']).toContain(status.state);
      });

      it('refuses an order with a missing SKU or an unknown SKU as data_quality', async () => {
        await expectKind(
          h.port.createSalesOrder(
            order({ lines: [{ sku: '', quantity: 1, unitPrice: 1, warehouseId: h.warehouseId }] }),
          ),
          'data_quality',
        );
        await expectKind(
          h.port.createSalesOrder(
            order({ lines: [{ sku: unique('NO-SUCH-SKU'), quantity: 1, unitPrice: 1 }] }),
          ),
          'data_quality',
        );
      });
    });

    describe('cancellation', () => {
      const cancel = (input: ErpOrderInput, scope: 'order' | 'remainder' = 'order', erpOrderId?: string) => {
        if (!h.port.cancelSalesOrder) throw new Error(`${name} does not implement cancelSalesOrder`);
        return h.port.cancelSalesOrder({
          idempotencyKey: input.idempotencyKey,
          hubOrderId: input.hubOrderId,
          ...(erpOrderId !== undefined ? { erpOrderId } : {}),
          scope,
          reason: 'customer_request',
        });
      };

      it('cancels a quotation never confirmed, found by its key alone; a repeat changes nothing', async () => {
        const input = order();
        const ref = await h.port.createSalesOrder(input);
        const first = await cancel(input);
        expect(first).toMatchObject({
          outcome: 'cancelled',
          erpOrderId: ref.erpOrderId,
          state: 'cancelled',
          changed: true,
        });
        if (first.outcome !== 'cancelled') return;
        expect(first.lines.map((l) => l.sku).sort()).toEqual(input.lines.map((l) => l.sku).sort());
        expect((await h.port.getSalesOrder(ref.erpOrderId)).state).toBe('cancelled');
        expect(await cancel(input, 'order', ref.erpOrderId)).toMatchObject({
          outcome: 'cancelled',
          changed: false,
        });
        // A cancelled order cannot be confirmed afterwards.
        await expectKind(h.port.confirmSalesOrder(ref.erpOrderId), 'conflict');
      });

      it('cancels a confirmed order that has not shipped: nothing stays open and its credit exposure is released', async () => {
        const before = await h.port.getCreditExposure(h.inCreditCustomer.erpId);
        const input = order();
        const ref = await h.port.createSalesOrder(input);
        await h.port.confirmSalesOrder(ref.erpOrderId);
        const during = await h.port.getCreditExposure(h.inCreditCustomer.erpId);
        expect(during.exposure).toBeCloseTo(before.exposure + 25.5, 2);
        const result = await cancel(input, 'order', ref.erpOrderId);
        expect(result).toMatchObject({ outcome: 'cancelled', changed: true });
        const status = await h.port.getSalesOrder(ref.erpOrderId);
        for (const s of status.shipments) expect(s.state).toBe('cancelled');
        for (const i of status.invoices) expect(['draft', 'cancelled']).toContain(i.state);
        expect(['cancelled', 'done']).toContain(status.state);
        const after = await h.port.getCreditExposure(h.inCreditCustomer.erpId);
        expect(after.exposure).toBeCloseTo(before.exposure, 2);
        expect(await cancel(input, 'order', ref.erpOrderId)).toMatchObject({
          outcome: 'cancelled',
          changed: false,
        });
      });

      it('refuses to cancel an order that has shipped, as a typed answer that changes nothing', async () => {
        const input = order();
        const ref = await h.port.createSalesOrder(input);
        await h.port.confirmSalesOrder(ref.erpOrderId);
        await h.advanceFulfillment(ref.erpOrderId);
        const before = await h.port.getSalesOrder(ref.erpOrderId);
        expect(await cancel(input, 'order', ref.erpOrderId)).toMatchObject({
          outcome: 'refused',
          reason: 'shipped',
        });
        expect(await cancel(input, 'remainder', ref.erpOrderId)).toMatchObject({
          outcome: 'refused',
          reason: 'shipped',
        });
        expect(await h.port.getSalesOrder(ref.erpOrderId)).toEqual(before);
        if (h.issueInvoices) {
          await h.issueInvoices(ref.erpOrderId);
          expect(await cancel(input, 'order', ref.erpOrderId)).toMatchObject({
            outcome: 'refused',
            reason: 'invoiced',
          });
        }
      });

      it('answers not_found for a key the ERP never saw', async () => {
        expect(await cancel(order())).toEqual({ outcome: 'not_found' });
      });
    });

    describe('returns', () => {
      it('authorizes a return of shipped goods once per return id (or refuses it as a typed unsupported), refuses more than shipped, and credits what was accepted once', async () => {
        const port = h.port;
        if (!port.createReturnAuthorization) return;
        const input = order();
        const ref = await port.createSalesOrder(input);
        await port.confirmSalesOrder(ref.erpOrderId);
        await h.advanceFulfillment(ref.erpOrderId);
        const line = input.lines[0]!;
        const ask = {
          returnId: unique('RET'),
          hubOrderId: input.hubOrderId,
          erpOrderId: ref.erpOrderId,
          orderIdempotencyKey: input.idempotencyKey,
          lines: [{ sku: line.sku, quantity: line.quantity, reason: 'damaged' }],
        };
        const first = await port.createReturnAuthorization(ask);
        if (first.outcome === 'refused') {
          expect(first.reason).toBe('unsupported');
          return;
        }
        expect(first.created).toBe(true);
        expect(await port.createReturnAuthorization(ask)).toMatchObject({
          outcome: 'authorized',
          erpReturnId: first.erpReturnId,
          created: false,
        });
        expect(
          await port.createReturnAuthorization({
            ...ask,
            returnId: unique('RET'),
            lines: [{ ...ask.lines[0]!, quantity: 1 }],
          }),
        ).toMatchObject({ outcome: 'refused', reason: 'over_return' });
        if (!port.creditReturn) return;
        const credit = {
          returnId: ask.returnId,
          erpReturnId: first.erpReturnId,
          lines: [{ sku: line.sku, quantity: 1 }],
        };
        const memo = await port.creditReturn(credit);
        expect(memo).toMatchObject({ kind: 'credit_memo', state: 'posted', returnId: ask.returnId });
        expect(memo.amount).toBeCloseTo(line.unitPrice, 2);
        expect((await port.creditReturn(credit)).erpInvoiceId).toBe(memo.erpInvoiceId);
        const memos = (await port.getSalesOrder(ref.erpOrderId)).invoices.filter(
          (i) => i.kind === 'credit_memo',
        );
        expect(memos.map((i) => i.erpInvoiceId)).toEqual([memo.erpInvoiceId]);
      });
    });

    describe('failures', () => {
      it('reports a call that times out as transient and retryable', async () => {
        const faulty = await h.timingOutPort();
        try {
          const err = await expectKind(faulty.port.getProducts(h.skusInStock), 'transient');
          expect(err.retryable).toBe(true);
        } finally {
          await faulty.dispose();
        }
      });

      it('reports refused connections as downstream_outage', async () => {
        const faulty = await h.refusingPort();
        try {
          const err = await expectKind(
            faulty.port.findCustomerByExternalId(h.inCreditCustomer.externalId),
            'downstream_outage',
          );
          expect(err.retryable).toBe(true);
        } finally {
          await faulty.dispose();
        }
      });
    });
  });
}
