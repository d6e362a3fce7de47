/**
 * The ERP simulator's invoices, credit memos and receivables: due dates from payment terms, the
 * exposure in its parts (open, overdue on the injected clock, uninvoiced), a payment and a credit
 * memo taking receivables down, and return authorizations refused where an ERP would.
 */
import { describe, expect, test } from 'vitest';
import { paymentTermsDueDate } from '../../src/simulators/erp-simulator.js';
import { createSimulators } from '../../src/simulators/index.js';

function world(start = '2026-03-10T12:00:00Z') {
  let now = new Date(start);
  const clock = { now: () => now };
  const sims = createSimulators({ seed: 42, clock });
  const customer = sims.picks.inPolicy.customer;
  const erpId = customer.externalIds['erp']!;
  const line = sims.picks.inPolicy.lines[0]!;
  const order = async (key: string, quantity = 4) => {
    const ref = await sims.erp.createSalesOrder({
      idempotencyKey: key,
      hubOrderId: key,
      erpCustomerId: erpId,
      currency: 'USD',
      shipTo: customer.addresses[0]!,
      lines: [{ sku: line.sku, quantity, unitPrice: line.unitPrice, warehouseId: line.warehouseId }],
    });
    await sims.erp.confirmSalesOrder(ref.erpOrderId);
    return ref.erpOrderId;
  };
  return {
    sims,
    erpId,
    line,
    order,
    advance: (days: number) => (now = new Date(now.getTime() + days * 86_400_000)),
  };
}

describe('ERP simulator receivables', () => {
  test('payment terms give the due date', () => {
    expect(paymentTermsDueDate('2026-01-31', 'NET30')).toBe('2026-03-02');
    expect(paymentTermsDueDate('2026-01-31', 'NET 45')).toBe('2026-03-17');
    expect(paymentTermsDueDate('2026-01-31', 'DUE_ON_RECEIPT')).toBe('2026-01-31');
    expect(paymentTermsDueDate('2026-02-10', 'EOM')).toBe('2026-02-28');
    expect(paymentTermsDueDate('2026-02-10', 'whatever')).toBe('2026-03-12');
  });

  test('an invoice carries lines, terms and due date; it turns overdue on the clock; payment clears it', async () => {
    const w = world();
    const id = await w.order('ORD-FIN-1');
    const before = await w.sims.erp.getCreditExposure(w.erpId);
    const invoice = w.sims.erp.invoiceOrder(id);
    const terms = w.sims.erp.customerRecord(w.erpId)!.paymentTerms;
    expect(invoice).toMatchObject({
      kind: 'invoice',
      issueDate: '2026-03-10',
      dueDate: paymentTermsDueDate('2026-03-10', terms),
      paymentTerms: terms,
      lines: [{ sku: w.line.sku, quantity: 4, unitPrice: w.line.unitPrice }],
    });
    const after = await w.sims.erp.getCreditExposure(w.erpId);
    // Moved from uninvoiced to open; the total is unchanged.
    expect(after.exposure).toBeCloseTo(before.exposure, 4);
    expect(after.openReceivables! - before.openReceivables!).toBeCloseTo(invoice.amount, 4);
    expect(before.uninvoicedOrders! - after.uninvoicedOrders!).toBeCloseTo(invoice.amount, 4);
    const overdueBefore = after.overdueReceivables!;
    w.advance(120);
    const late = await w.sims.erp.getCreditExposure(w.erpId);
    expect(late.overdueReceivables! - overdueBefore).toBeGreaterThanOrEqual(invoice.amount - 1e-6);
    w.sims.erp.payInvoice(id);
    const paid = await w.sims.erp.getCreditExposure(w.erpId);
    expect(late.openReceivables! - paid.openReceivables!).toBeCloseTo(invoice.amount, 4);
    expect(late.overdueReceivables! - paid.overdueReceivables!).toBeCloseTo(invoice.amount, 4);
  });

  test('a return is authorized once per return id, refused past what was ordered, and its credit memo takes receivables down', async () => {
    const w = world();
    const id = await w.order('ORD-FIN-2', 4);
    const invoice = w.sims.erp.invoiceOrder(id);
    const input = {
      returnId: 'ORD-FIN-2-R1',
      hubOrderId: 'ORD-FIN-2',
      orderIdempotencyKey: 'ORD-FIN-2',
      lines: [{ sku: w.line.sku, quantity: 3, reason: 'damaged' }],
    };
    const ra = await w.sims.erp.createReturnAuthorization(input);
    expect(ra).toMatchObject({ outcome: 'authorized', created: true });
    expect(await w.sims.erp.createReturnAuthorization(input)).toMatchObject({
      outcome: 'authorized',
      created: false,
    });
    const more = await w.sims.erp.createReturnAuthorization({
      ...input,
      returnId: 'ORD-FIN-2-R2',
      lines: [{ sku: w.line.sku, quantity: 2, reason: 'damaged' }],
    });
    expect(more).toMatchObject({ outcome: 'refused', reason: 'over_return' });
    const open = (await w.sims.erp.getCreditExposure(w.erpId)).openReceivables!;
    if (ra.outcome !== 'authorized') throw new Error('not authorized');
    const memo = await w.sims.erp.creditReturn({
      returnId: input.returnId,
      erpReturnId: ra.erpReturnId,
      lines: [{ sku: w.line.sku, quantity: 2 }],
    });
    expect(memo).toMatchObject({
      kind: 'credit_memo',
      state: 'posted',
      creditsInvoiceId: invoice.erpInvoiceId,
      returnId: input.returnId,
    });
    expect(memo.amount).toBeCloseTo(2 * w.line.unitPrice, 4);
    const again = await w.sims.erp.creditReturn({
      returnId: input.returnId,
      erpReturnId: ra.erpReturnId,
      lines: [],
    });
    expect(again.erpInvoiceId).toBe(memo.erpInvoiceId);
    expect(open - (await w.sims.erp.getCreditExposure(w.erpId)).openReceivables!).toBeCloseTo(memo.amount, 4);
    await expect(
      w.sims.erp.creditReturn({ returnId: 'nope', erpReturnId: 'x', lines: [] }),
    ).rejects.toMatchObject({ kind: 'policy_violation' });
  });
});
