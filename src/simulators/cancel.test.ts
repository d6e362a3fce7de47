/**
 * Cancellation in the simulated ERP and WMS beyond the port contract: the unshipped remainder of
 * a split order (the ERP takes the hub's quantities off its open shipments and releases their
 * value from the exposure; the shipped part stays), and the WMS stopping the warehouse orders
 * that have not shipped (allocations given back) while reporting those that had.
 */
import { describe, expect, test } from 'vitest';
import { createSimulators } from './index.js';

const clock = { now: () => new Date() };

describe('simulated ERP and WMS cancellation', () => {
  test('the ERP cancels the remainder of a split order: the shipped shipment stays, the open one goes, the exposure drops by its value', async () => {
    const sims = createSimulators({ seed: 42, clock });
    const seed = sims.data.erpCustomers.find((c) => c.externalId === sims.picks.inPolicy.customer.id)!;
    const [a, b] = sims.picks.inPolicy.lines;
    const ref = await sims.erp.createSalesOrder({
      idempotencyKey: 'hub-1',
      hubOrderId: 'hub-1',
      erpCustomerId: seed.erpId,
      currency: 'USD',
      shipTo: seed.addresses[0]!,
      lines: [
        { sku: a!.sku, quantity: 2, unitPrice: 10, warehouseId: 'WH-EAST' },
        { sku: b!.sku, quantity: 4, unitPrice: 5, warehouseId: 'WH-WEST' },
      ],
    });
    const confirmed = await sims.erp.confirmSalesOrder(ref.erpOrderId);
    expect(confirmed.shipments).toHaveLength(2);
    const east = confirmed.shipments.find((s) => s.warehouseId === 'WH-EAST')!;
    sims.erp.advanceShipment(ref.erpOrderId, 'done', east.erpShipmentId);
    const before = await sims.erp.getCreditExposure(seed.erpId);
    const input = { idempotencyKey: 'hub-1', hubOrderId: 'hub-1', reason: 'customer_request' };
    expect(await sims.erp.cancelSalesOrder({ ...input, scope: 'order' })).toMatchObject({
      outcome: 'refused',
      reason: 'shipped',
    });
    const r = await sims.erp.cancelSalesOrder({
      ...input,
      scope: 'remainder',
      lines: [{ sku: b!.sku, quantity: 3 }],
    });
    expect(r).toMatchObject({ outcome: 'cancelled', changed: true, lines: [{ sku: b!.sku, quantity: 3 }] });
    let status = await sims.erp.getSalesOrder(ref.erpOrderId);
    expect(status.shipments.find((s) => s.warehouseId === 'WH-WEST')).toMatchObject({
      state: 'waiting',
      lines: [{ sku: b!.sku, quantity: 1 }],
    });
    expect((await sims.erp.getCreditExposure(seed.erpId)).exposure).toBeCloseTo(before.exposure - 15, 4);
    // Without quantities, the remainder is every open shipment.
    await sims.erp.cancelSalesOrder({ ...input, scope: 'remainder' });
    status = await sims.erp.getSalesOrder(ref.erpOrderId);
    expect(status.shipments.map((s) => s.state).sort()).toEqual(['cancelled', 'done']);
    expect(status.state).toBe('processing');
    expect(await sims.erp.cancelSalesOrder({ ...input, scope: 'remainder' })).toMatchObject({
      outcome: 'refused',
      reason: 'shipped',
    });
  });

  test('the WMS stops the warehouse orders that have not shipped, gives their allocation back, and reports the shipped one', async () => {
    const sims = createSimulators({ seed: 42, clock });
    const [a, b] = sims.picks.inPolicy.lines;
    const shipTo = sims.picks.inPolicy.customer.addresses[0]!;
    const east = await sims.wms.releaseOrder({
      idempotencyKey: 'k:WH-EAST',
      hubOrderId: 'hub-2',
      warehouseId: 'WH-EAST',
      shipTo,
      shippingMethod: 'ground',
      lines: [{ sku: a!.sku, quantity: 1 }],
    });
    const west = await sims.wms.releaseOrder({
      idempotencyKey: 'k:WH-WEST',
      hubOrderId: 'hub-2',
      warehouseId: 'WH-WEST',
      shipTo,
      shippingMethod: 'ground',
      lines: [{ sku: b!.sku, quantity: 1 }],
    });
    sims.wms.advance(east.wmsOrderId, 'shipped');
    const allocatedBefore = (await sims.wms.getInventory([b!.sku])).find(
      (p) => p.warehouseId === 'WH-WEST',
    )!.allocated;
    const r = await sims.wms.cancelRelease({
      idempotencyKey: 'c-1',
      hubOrderId: 'hub-2',
      reason: 'customer_request',
    });
    expect(r.shipped).toEqual([{ wmsOrderId: east.wmsOrderId, warehouseId: 'WH-EAST' }]);
    expect(r.cancelled.map((c) => c.wmsOrderId)).toEqual([west.wmsOrderId]);
    expect(sims.wms.order(west.wmsOrderId)?.status).toBe('cancelled');
    const allocatedAfter = (await sims.wms.getInventory([b!.sku])).find(
      (p) => p.warehouseId === 'WH-WEST',
    )!.allocated;
    expect(allocatedAfter).toBeCloseTo(allocatedBefore - 1, 4);
    const effects = sims.faults.wms.effects;
    expect(
      await sims.wms.cancelRelease({ idempotencyKey: 'c-1', hubOrderId: 'hub-2', reason: 'again' }),
    ).toEqual(r);
    expect(sims.faults.wms.effects).toBe(effects);
  });
});
