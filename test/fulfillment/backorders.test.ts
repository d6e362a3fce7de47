/**
 * Backorders at workflow level, on SQLite and on PostgreSQL: an order accepted with a backorder,
 * and an order the warehouse could not fully allocate after its release, are promised from the
 * inbound receipts and announced once per revision (customer notice, CRM task for the account's
 * owner); when stock arrives the backordered quantity is released to the warehouse (event-driven
 * from the receipt) and ships; the hub's soft reservations come out even.
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { SalesOrder } from '../../src/domain/index.js';
import { backordersSubscription } from '../../src/events/index.js';
import { InventoryRefresh } from '../../src/workflows/fulfillment/index.js';
import type { TestBackend } from '../events/support.js';
import { acceptOrder, drain, type Estate, openEstate, splitPick, submissionFor } from './support.js';

describe.each(['sqlite-file', 'postgres'] as TestBackend[])('backorders on %s', (backend) => {
  let e: Estate;

  afterEach(async () => {
    await e?.dispose();
  });

  const now = async (o: SalesOrder) => (await e.store.getOrder(o.id))!;
  const templates = (o: SalesOrder) =>
    e.sims.notifications.deliveredTo(o.customerId!, o.id).map((n) => n.template);
  const refresh = () =>
    new InventoryRefresh({ store: e.store, source: e.sims.wms, clock: e.clock }).refreshOnce();
  const reservedAt = async (sku: string, wh: string) =>
    (await e.store.getInventory([sku])).find((p) => p.warehouseId === wh)?.reserved ?? 0;

  test('an order accepted with a backorder is announced once (promise from the receipts, task for the account owner) and ships when stock arrives', async () => {
    e = await openEstate(backend, { backorders: true, inventoryPolicy: 'allow_backorder' });
    const { store, sims, dispatcher, sync } = e;
    const sku = sims.picks.outOfStock.sku;
    const positions = await store.getInventory([sku]);
    const receipts = positions
      .flatMap((p) => p.inbound.map((r) => ({ ...r, warehouseId: p.warehouseId })))
      .sort((a, b) => a.eta.localeCompare(b.eta));
    const first = receipts[0]!;
    const order = await acceptOrder(e, await submissionFor(store, sims, [{ sku, quantity: 2 }]));
    expect(order.state).toBe('backordered');
    expect(order.lines[0]).toMatchObject({ backorderedQuantity: 2, allocations: [] });

    await drain(dispatcher);
    await drain(dispatcher);
    expect(templates(order).filter((t) => t.startsWith('order-'))).toEqual([
      'order-confirmation',
      'order-backordered',
    ]);
    const notice = sims.notifications
      .deliveredTo(order.customerId!, order.id)
      .find((n) => n.template === 'order-backordered')!;
    expect(notice.data).toMatchObject({
      reason: 'decision',
      lines: [{ sku, backorderedQuantity: 2, promiseDate: order.lines[0]!.promiseDate }],
      promiseDate: order.lines[0]!.promiseDate,
    });
    const tasks = sims.crm.tasks(order.id);
    const crmId = sims.picks.inPolicy.customer.externalIds['crm']!;
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({
      accountCrmId: crmId,
      assignedTo: sims.crm.accountOwner(crmId),
      dueOn: order.lines[0]!.promiseDate,
    });
    expect(tasks[0]!.subject).toContain(`${sku} × 2`);
    expect(sims.wms.ordersOf(order.id)).toEqual([]);
    // One status everywhere: the hub's, the CRM's and the notice's.
    const expected = `Backordered (expected ${order.lines[0]!.promiseDate})`;
    expect((await now(order)).customerStatus).toBe(expected);
    expect(sims.crm.orderStatus(order.id)?.status).toBe(expected);
    expect(notice.data['customerStatus']).toBe(expected);

    // Stock arrives: the refresh publishes the receipt, the backorder goes to the warehouse.
    sims.wms.receiveStock(sku, first.warehouseId, 5);
    await refresh();
    await drain(dispatcher);
    const wos = sims.wms.ordersOf(order.id);
    expect(wos.map((w) => [w.warehouseId, w.lines.map((l) => [l.sku, l.quantity, l.allocated])])).toEqual([
      [first.warehouseId, [[sku, 2, 2]]],
    ]);
    let o = await now(order);
    expect(o.lines[0]).toMatchObject({
      backorderedQuantity: 0,
      promiseDate: null,
      allocations: [{ warehouseId: first.warehouseId, quantity: 2 }],
    });
    expect(await reservedAt(sku, first.warehouseId)).toBe(2);
    await drain(dispatcher);
    expect(templates(order).filter((t) => t === 'order-backorder-released')).toHaveLength(1);

    // A redelivered receipt releases nothing more.
    const receipt = (
      await store.readEvents({ fromSeq: 0, limit: 10_000, types: ['inventory.received.v1'] })
    ).at(-1)!;
    await store.enqueueDeliveries(backordersSubscription, [receipt.seq]);
    await drain(dispatcher);
    expect(sims.wms.ordersOf(order.id)).toHaveLength(1);

    await sync.syncOnce();
    expect(await reservedAt(sku, first.warehouseId)).toBe(0); // the warehouse allocated it
    for (const m of ['picked', 'packed', 'shipped'] as const) sims.wms.advance(wos[0]!.wmsOrderId, m);
    await sync.syncOnce();
    o = await now(order);
    expect(o.state).toBe('shipped');
    expect(o.customerStatus).toBe('Shipped');
    await drain(dispatcher);
    expect(sims.crm.tasks(order.id)).toHaveLength(1);
    expect(templates(order).filter((t) => t === 'order-backordered')).toHaveLength(1);
  });

  test('a short allocation after release becomes a backorder promised from the receipts; the order is not moved back; the remainder is released when stock arrives', async () => {
    e = await openEstate(backend, { backorders: true });
    const { store, sims, dispatcher, sync } = e;
    const pick = splitPick(sims.data);
    const order = await acceptOrder(e, await submissionFor(store, sims, [{ sku: pick.a.sku, quantity: 4 }]));
    const wh = order.lines[0]!.allocations[0]!.warehouseId;
    const reservedBefore = (await reservedAt(pick.a.sku, wh)) - 4;
    // Someone else's warehouse order takes all but one unit before ours is released.
    const free = (await sims.wms.getInventory([pick.a.sku])).find((p) => p.warehouseId === wh)!;
    await sims.wms.releaseOrder({
      idempotencyKey: `other-${order.id}`,
      hubOrderId: `other-${order.id}`,
      warehouseId: wh,
      shipTo: order.shipTo,
      shippingMethod: 'ground',
      lines: [{ sku: pick.a.sku, quantity: free.onHand - free.allocated - 1 }],
    });
    await drain(dispatcher);
    await sync.syncOnce();
    let o = await now(order);
    expect(o.state).toBe('released');
    expect(o.lines[0]).toMatchObject({
      backorderedQuantity: 3,
      allocations: [{ warehouseId: wh, quantity: 1 }],
    });
    // The soft reservation of the 4 is given back: 1 by the allocation, 3 by the backorder.
    expect(await reservedAt(pick.a.sku, wh)).toBe(reservedBefore);

    await drain(dispatcher); // the backordered milestone reaches Backorders: promised and announced
    await drain(dispatcher);
    o = await now(order);
    const today = new Date().toISOString().slice(0, 10);
    expect(o.lines[0]!.promiseDate! >= today).toBe(true);
    expect(o.state).toBe('released');
    const notices = sims.notifications
      .deliveredTo(order.customerId!, order.id)
      .filter((n) => n.template === 'order-backordered');
    expect(notices).toHaveLength(1);
    expect(o.customerStatus).toBe(`Partially backordered (rest expected ${o.lines[0]!.promiseDate})`);
    expect(notices[0]!.data).toMatchObject({
      reason: 'short_allocation',
      customerStatus: o.customerStatus,
      promiseDate: o.lines[0]!.promiseDate,
      lines: [{ sku: pick.a.sku, backorderedQuantity: 3 }],
    });
    expect(sims.crm.tasks(order.id)).toHaveLength(1);
    expect(sims.crm.orderStatus(order.id)?.status).toBe(o.customerStatus);

    // The one allocated unit ships: partially shipped (1 of 2).
    const [wo] = sims.wms.ordersOf(order.id);
    for (const m of ['picked', 'packed', 'shipped'] as const) sims.wms.advance(wo!.wmsOrderId, m);
    await sync.syncOnce();
    o = await now(order);
    expect(o.state).toBe('partially_shipped');
    expect(o.customerStatus).toBe('Partially shipped (1 of 2)');

    // Stock arrives at that warehouse: the 3 go to the warehouse and ship; the order is shipped.
    sims.wms.receiveStock(pick.a.sku, wh, 10);
    await refresh();
    await drain(dispatcher);
    const second = sims.wms.ordersOf(order.id).find((w) => w.wmsOrderId !== wo!.wmsOrderId)!;
    expect(second.lines).toEqual([{ sku: pick.a.sku, quantity: 3, allocated: 3, backordered: 0 }]);
    await sync.syncOnce();
    for (const m of ['picked', 'packed', 'shipped'] as const) sims.wms.advance(second.wmsOrderId, m);
    await sync.syncOnce();
    o = await now(order);
    expect(o.state).toBe('shipped');
    expect(o.lines[0]).toMatchObject({ backorderedQuantity: 0 });
    expect(await reservedAt(pick.a.sku, wh)).toBe(reservedBefore);
    await drain(dispatcher);
    expect(sims.crm.orderStatus(order.id)?.status).toBe('Shipped');
    const sent = templates(order);
    expect(sent.filter((t) => t === 'order-backordered')).toHaveLength(1);
    expect(sent.filter((t) => t === 'order-backorder-released')).toHaveLength(1);
    expect(sent.filter((t) => t === 'shipment-shipped')).toHaveLength(2);
  });
});
