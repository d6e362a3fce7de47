/**
 * Cancellation on a real Tryton 6.0, beyond the port contract: a cancellation cut short after
 * Tryton cancelled the shipment (a crash before the sale's exception was handled) is finished by
 * the next call, which ends with the sale closed and its exposure released; the steps Tryton
 * takes are the supported ones (shipment cancel, then the sale's exception wizards).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relatedIds } from '../../src/connectors/tryton/mapping.js';
import type { ErpOrderInput } from '../../src/ports/index.js';
import { makeTrytonHarness, type TrytonHarness } from './tryton-harness.js';

describe('Tryton cancellation', () => {
  let h: TrytonHarness;
  beforeAll(async () => {
    h = await makeTrytonHarness();
  });
  afterAll(async () => {
    await h?.dispose();
  });

  const order = (hubOrderId: string): ErpOrderInput => ({
    idempotencyKey: hubOrderId,
    hubOrderId,
    erpCustomerId: h.inCreditCustomer.erpId,
    currency: h.currency,
    shipTo: h.shipTo,
    lines: [{ sku: h.skusInStock[0]!, quantity: 3, unitPrice: 7, warehouseId: h.warehouseId }],
  });

  it('a cancellation cut short after the shipment was cancelled is finished by the next call', async () => {
    const before = await h.port.getCreditExposure(h.inCreditCustomer.erpId);
    const input = order(`ord-cut-${Date.now()}`);
    const ref = await h.port.createSalesOrder(input);
    await h.port.confirmSalesOrder(ref.erpOrderId);
    const sale = (await h.port.client.read('sale.sale', [Number(ref.erpOrderId)], ['shipments']))[0]!;
    // What a crash leaves: the shipment cancelled in Tryton, the sale in shipment exception.
    for (const id of relatedIds(sale, 'shipments'))
      await h.port.client.button('stock.shipment.out', 'cancel', [id]);
    const shipmentState = (
      await h.port.client.read('sale.sale', [Number(ref.erpOrderId)], ['shipment_state'])
    )[0]!;
    expect(shipmentState['shipment_state']).toBe('exception');

    const result = await h.port.cancelSalesOrder!({
      idempotencyKey: input.idempotencyKey,
      hubOrderId: input.hubOrderId,
      scope: 'order',
      reason: 'customer_request',
    });
    expect(result).toMatchObject({
      outcome: 'cancelled',
      erpOrderId: ref.erpOrderId,
      changed: true,
      state: 'done',
    });
    expect(result.outcome === 'cancelled' && result.detail).toContain('closes as done');
    const status = await h.port.getSalesOrder(ref.erpOrderId);
    expect(status.shipments.map((s) => s.state)).toEqual(['cancelled']);
    expect(status.invoices.map((i) => i.state)).toEqual(['cancelled']);
    expect((await h.port.getCreditExposure(h.inCreditCustomer.erpId)).exposure).toBeCloseTo(
      before.exposure,
      2,
    );
    const again = await h.port.cancelSalesOrder!({
      idempotencyKey: input.idempotencyKey,
      hubOrderId: input.hubOrderId,
      scope: 'order',
      reason: 'customer_request',
    });
    expect(again).toMatchObject({ outcome: 'cancelled', changed: false });
  });
});
