import { describe, expect, test } from 'vitest';
import { CrossdockError } from '../domain/index.js';
import type { ErpOrderInput } from '../ports/index.js';
import { createSimulators } from './index.js';

const clock = { now: () => new Date('2025-06-15T12:00:00Z') };
const setup = () => createSimulators({ seed: 42, clock });

function orderFor(
  sims: ReturnType<typeof setup>,
  key: string,
  erpCustomerId: string,
  quantity = 2,
): ErpOrderInput {
  const line = sims.picks.inPolicy.lines[0]!;
  return {
    idempotencyKey: key,
    hubOrderId: `ORD-${key}`,
    erpCustomerId,
    currency: 'USD',
    shipTo: sims.picks.inPolicy.customer.addresses[1]!,
    lines: [{ sku: line.sku, quantity, unitPrice: line.unitPrice, warehouseId: line.warehouseId }],
  };
}

async function rejection(p: Promise<unknown>): Promise<CrossdockError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CrossdockError);
  return err as CrossdockError;
}

describe('ERP simulator', () => {
  test('finds seeded customers by the hub id and creates new ones idempotently by external id', async () => {
    const { erp, picks } = setup();
    const found = await erp.findCustomerByExternalId(picks.inPolicy.customer.id);
    expect(found?.erpId).toBe(picks.inPolicy.customer.externalIds['erp']);
    const input = { externalId: 'CUST-NEW-1', name: 'Newco Supply', addresses: [], creditLimit: 5000 };
    const first = await erp.createCustomer(input);
    const again = await erp.createCustomer(input);
    expect(again.erpId).toBe(first.erpId);
    expect(erp.faults.effects).toBe(1);
  });

  test('a customer update with a stale version token is refused as a conflict and changes nothing', async () => {
    const { erp, picks } = setup();
    const erpId = picks.inPolicy.customer.externalIds['erp']!;
    const before = (await erp.findCustomerByExternalId(picks.inPolicy.customer.id))!;
    const updated = await erp.updateCustomer(erpId, { name: 'Renamed Ltd.' }, before.version);
    expect(updated.version).not.toBe(before.version);
    const err = await rejection(erp.updateCustomer(erpId, { name: 'Lost Update Inc.' }, before.version));
    expect(err.kind).toBe('conflict');
    expect(erp.customerRecord(erpId)?.name).toBe('Renamed Ltd.');
  });

  test('a repeated sales-order creation returns the same ERP order with created false and makes one order', async () => {
    const sims = setup();
    const erpId = sims.picks.inPolicy.customer.externalIds['erp']!;
    const first = await sims.erp.createSalesOrder(orderFor(sims, 'k1', erpId));
    const second = await sims.erp.createSalesOrder(orderFor(sims, 'k1', erpId));
    expect(first.created).toBe(true);
    expect(second).toEqual({ ...first, created: false });
    expect(sims.erp.orderCount).toBe(1);
    expect(sims.erp.faults.effects).toBe(1);
    expect(sims.erp.faults.calls).toBe(2);
  });

  test('customer prices come from a valid agreement, else the list price', async () => {
    const { erp, picks, data } = setup();
    const erpId = picks.inPolicy.customer.externalIds['erp']!;
    const agreed = picks.inPolicy.lines[0]!;
    const expired = picks.expiredAgreement;
    const expiredCustomer = data.customers.find((c) => c.id === expired.customerId)!;
    const [price] = await erp.getCustomerPrices(erpId, [agreed.sku]);
    expect(price?.unitPrice).toBe(agreed.unitPrice);
    const stillValid = data.priceAgreements.some(
      (a) =>
        a.customerId === expired.customerId &&
        a.sku === expired.sku &&
        a.validTo >= data.today &&
        a.validFrom <= data.today,
    );
    if (!stillValid) {
      const [listed] = await erp.getCustomerPrices(expiredCustomer.externalIds['erp']!, [expired.sku]);
      expect(listed?.unitPrice).toBe(data.products.find((p) => p.sku === expired.sku)!.listPrice);
    }
  });

  test('confirming an order for an over-limit customer is refused as a policy violation, like Tryton', async () => {
    const sims = setup();
    const erpId = sims.picks.overCredit.externalIds['erp']!;
    const ref = await sims.erp.createSalesOrder(orderFor(sims, 'over-1', erpId));
    const err = await rejection(sims.erp.confirmSalesOrder(ref.erpOrderId));
    expect(err.kind).toBe('policy_violation');
    expect(err.owner).toBe('credit');
    expect(err.message).toMatch(/^Party ".+" has reached their credit limit of \d+\.\d\d USD$/);
    expect((await sims.erp.getSalesOrder(ref.erpOrderId)).state).toBe('quotation');
  });

  test('credit exposure counts open receivables plus confirmed uninvoiced orders, and invoicing moves not adds it', async () => {
    const sims = setup();
    const erpId = sims.picks.inPolicy.customer.externalIds['erp']!;
    const open = sims.data.receivables
      .filter((r) => r.erpCustomerId === erpId)
      .reduce((s, r) => s + r.amount, 0);
    const before = await sims.erp.getCreditExposure(erpId);
    expect(before.exposure).toBeCloseTo(open, 2);
    const ref = await sims.erp.createSalesOrder(orderFor(sims, 'exp-1', erpId, 10));
    expect((await sims.erp.getCreditExposure(erpId)).exposure).toBeCloseTo(open, 2);
    await sims.erp.confirmSalesOrder(ref.erpOrderId);
    const total = 10 * sims.picks.inPolicy.lines[0]!.unitPrice;
    expect((await sims.erp.getCreditExposure(erpId)).exposure).toBeCloseTo(open + total, 2);
    sims.erp.invoiceOrder(ref.erpOrderId);
    expect((await sims.erp.getCreditExposure(erpId)).exposure).toBeCloseTo(open + total, 2);
    sims.erp.payInvoice(ref.erpOrderId);
    expect((await sims.erp.getCreditExposure(erpId)).exposure).toBeCloseTo(open, 2);
  });

  test('a near-limit customer is refused once an order would push exposure past the limit', async () => {
    const sims = setup();
    const c = sims.picks.nearCredit;
    const erpId = c.externalIds['erp']!;
    const exposure = (await sims.erp.getCreditExposure(erpId)).exposure;
    const line = sims.picks.inPolicy.lines[0]!;
    const qty = Math.ceil((c.creditLimit - exposure) / line.unitPrice) + 1;
    const ref = await sims.erp.createSalesOrder(orderFor(sims, 'near-1', erpId, qty));
    expect((await rejection(sims.erp.confirmSalesOrder(ref.erpOrderId))).kind).toBe('policy_violation');
  });

  test('confirming twice is a no-op and counts one effect', async () => {
    const sims = setup();
    const erpId = sims.picks.inPolicy.customer.externalIds['erp']!;
    const ref = await sims.erp.createSalesOrder(orderFor(sims, 'c2', erpId));
    const a = await sims.erp.confirmSalesOrder(ref.erpOrderId);
    const b = await sims.erp.confirmSalesOrder(ref.erpOrderId);
    expect(a).toEqual(b);
    expect(a.state).toBe('confirmed');
    expect(a.shipments).toHaveLength(1);
    expect(sims.erp.faults.effects).toBe(2);
  });

  test('the change feed emits shipment and invoice milestones after a watermark, in order, without repeats', async () => {
    const sims = setup();
    const erpId = sims.picks.inPolicy.customer.externalIds['erp']!;
    const ref = await sims.erp.createSalesOrder(orderFor(sims, 'feed-1', erpId));
    await sims.erp.confirmSalesOrder(ref.erpOrderId);
    const first = await sims.erp.changesSince(null);
    expect(first.changes.map((c) => `${c.kind}:${c.milestone}`)).toEqual([
      'order:quotation',
      'order:confirmed',
      'shipment:waiting',
    ]);
    for (const state of ['assigned', 'picked', 'packed', 'done'] as const)
      sims.erp.advanceShipment(ref.erpOrderId, state);
    sims.erp.invoiceOrder(ref.erpOrderId);
    const next = await sims.erp.changesSince(first.watermark, 3);
    expect(next.changes.map((c) => `${c.kind}:${c.milestone}`)).toEqual([
      'shipment:assigned',
      'order:processing',
      'shipment:picked',
    ]);
    const rest = await sims.erp.changesSince(next.watermark);
    expect(rest.changes.map((c) => `${c.kind}:${c.milestone}`)).toEqual([
      'shipment:packed',
      'shipment:done',
      'invoice:posted',
      'order:done',
    ]);
    expect(rest.changes.every((c) => c.hubOrderId === 'ORD-feed-1')).toBe(true);
    const empty = await sims.erp.changesSince(rest.watermark);
    expect(empty).toEqual({ changes: [], watermark: rest.watermark });
    expect((await rejection(sims.erp.changesSince('not-a-watermark'))).kind).toBe('data_quality');
  });

  test('a shipment cannot be moved backwards', async () => {
    const sims = setup();
    const erpId = sims.picks.inPolicy.customer.externalIds['erp']!;
    const ref = await sims.erp.createSalesOrder(orderFor(sims, 'back-1', erpId));
    await sims.erp.confirmSalesOrder(ref.erpOrderId);
    sims.erp.advanceShipment(ref.erpOrderId, 'packed');
    expect(() => sims.erp.advanceShipment(ref.erpOrderId, 'picked')).toThrow(CrossdockError);
  });

  test('an order with an unknown sku is refused as a data-quality error naming the line', async () => {
    const sims = setup();
    const erpId = sims.picks.inPolicy.customer.externalIds['erp']!;
    const input = orderFor(sims, 'bad-1', erpId);
    input.lines = [{ sku: 'NOPE-1', quantity: 1, unitPrice: 1 }];
    const err = await rejection(sims.erp.createSalesOrder(input));
    expect(err.kind).toBe('data_quality');
    expect(err.details['field']).toBe('lines[0].sku');
    expect(sims.erp.orderCount).toBe(0);
  });

  test('stock reports on-hand per warehouse and a forecast including inbound receipts', async () => {
    const sims = setup();
    const sku = sims.picks.outOfStock.sku;
    const stock = await sims.erp.getStock([sku]);
    expect(stock.length).toBeGreaterThan(0);
    expect(stock.every((s) => s.onHand === 0)).toBe(true);
    expect(stock.some((s) => s.forecast > 0)).toBe(true);
  });
});
