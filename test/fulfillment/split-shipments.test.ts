/**
 * Partial shipments and multi-warehouse splits end to end at workflow level, on SQLite and on
 * PostgreSQL: quote-to-order splits an order across warehouses, warehouse planning releases one
 * warehouse order per warehouse, the WMS and TMS feeds report each shipment, and the order is
 * `partially_shipped` until every line left, `delivered` when every shipment was; the CRM and the
 * customer read the same status; more shipped than ordered is refused whole.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { SalesOrder } from '../../src/domain/index.js';
import type { WmsPort } from '../../src/ports/index.js';
import { FulfillmentSync } from '../../src/workflows/fulfillment/index.js';
import type { TestBackend } from '../events/support.js';
import {
  acceptOrder,
  drain,
  type Estate,
  openEstate,
  type SplitPick,
  splitPick,
  submissionFor,
  warehouseOf,
} from './support.js';

const backends: TestBackend[] = ['sqlite-file', 'postgres'];

describe.each(backends)('partial shipments and splits on %s', (backend) => {
  let e: Estate;
  let pick: SplitPick;

  beforeEach(async () => {
    e = await openEstate(backend);
    pick = splitPick(e.sims.data);
  });

  afterEach(async () => {
    await e.dispose();
  });

  /** The order's warehouse orders, by warehouse. */
  function warehouseOrders(order: SalesOrder) {
    return new Map(e.sims.wms.ordersOf(order.id).map((o) => [o.warehouseId, o]));
  }

  async function now(order: SalesOrder): Promise<SalesOrder> {
    return (await e.store.getOrder(order.id))!;
  }

  test('a split order is partially shipped (1 of 2) until its second warehouse ships, and delivered only when both shipments are', async () => {
    const { store, sims, sync, dispatcher } = e;
    const order = await acceptOrder(
      e,
      await submissionFor(store, sims, [
        { sku: pick.a.sku, quantity: 2 },
        { sku: pick.b.sku, quantity: 3 },
      ]),
    );
    expect(order.fulfillmentPlan?.strategy).toBe('split');
    expect(warehouseOf(order, pick.a.sku)).not.toBe(warehouseOf(order, pick.b.sku));

    // Warehouse planning releases one warehouse order per warehouse; the WMS feed reports them.
    await drain(dispatcher);
    const wos = warehouseOrders(order);
    expect([...wos.keys()].sort()).toEqual(
      [warehouseOf(order, pick.a.sku), warehouseOf(order, pick.b.sku)].sort(),
    );
    await sync.syncOnce();
    expect((await now(order)).state).toBe('released');

    const first = wos.get(warehouseOf(order, pick.a.sku))!;
    const second = wos.get(warehouseOf(order, pick.b.sku))!;
    for (const m of ['picked', 'packed', 'shipped'] as const) sims.wms.advance(first.wmsOrderId, m);
    await sync.syncOnce();
    let o = await now(order);
    expect(o.state).toBe('partially_shipped');
    expect(o.customerStatus).toBe('Partially shipped (1 of 2)');
    expect(o.shipments.find((s) => s.id === first.wmsOrderId)?.lines).toEqual([
      { sku: pick.a.sku, quantity: 2 },
    ]);
    await drain(dispatcher);
    expect(sims.crm.orderStatus(order.id)?.status).toBe('Partially shipped (1 of 2)');

    for (const m of ['picked', 'packed', 'shipped'] as const) sims.wms.advance(second.wmsOrderId, m);
    await sync.syncOnce();
    o = await now(order);
    expect(o.state).toBe('shipped');
    expect(o.customerStatus).toBe('Shipped');

    // Each shipment has its own carrier booking and tracking; the first delivery is not the order's.
    const tracking: string[] = [];
    for (const wo of [first, second]) {
      const booked = await sims.tms.bookShipment({
        idempotencyKey: `booking:${wo.wmsOrderId}`,
        hubOrderId: order.id,
        shipmentId: wo.wmsOrderId,
        shippingMethod: 'ground',
        weightKg: 3,
        hazmat: false,
        destinationCountry: 'US',
      });
      tracking.push(booked.trackingNumber);
    }
    sims.tms.track(tracking[0]!, 'delivered');
    await sync.syncOnce();
    o = await now(order);
    expect(o.state).toBe('shipped');
    expect(o.customerStatus).toBe('Partially delivered (1 of 2)');
    sims.tms.track(tracking[1]!, 'delivered');
    await sync.syncOnce();
    o = await now(order);
    expect(o.state).toBe('delivered');
    expect(o.customerStatus).toBe('Delivered');
    expect(
      o.shipments
        .filter((s) => !s.id.startsWith('erp:'))
        .map((s) => [s.id, s.status, s.trackingNumber])
        .sort(),
    ).toEqual(
      [
        [first.wmsOrderId, 'delivered', tracking[0]],
        [second.wmsOrderId, 'delivered', tracking[1]],
      ].sort(),
    );

    // The CRM ends where the hub is; the customer heard of each shipment leaving and arriving once.
    await drain(dispatcher);
    expect(sims.crm.orderStatus(order.id)?.status).toBe('Delivered');
    const sent = sims.notifications.deliveredTo(order.customerId!, order.id).map((n) => n.template);
    expect(sent.filter((t) => t === 'shipment-shipped')).toHaveLength(2);
    expect(sent.filter((t) => t === 'shipment-delivered')).toHaveLength(2);
    expect(sent.filter((t) => t === 'order-confirmation')).toHaveLength(1);
    const statuses = (await store.readEvents({ fromSeq: 0, limit: 10_000 }))
      .map((r) => r.event)
      .filter((ev) => ev.subject === order.id && ev.type === 'order.status_changed.v1')
      .map((ev) => [ev.data['state'], ev.data['customerStatus']]);
    expect(statuses).toContainEqual(['partially_shipped', 'Partially shipped (1 of 2)']);
    expect(statuses.at(-1)).toEqual(['delivered', 'Delivered']);
  });

  test('a short pick ships what the warehouse had: the order is partially shipped, the remainder still open', async () => {
    const { store, sims, sync, dispatcher } = e;
    const order = await acceptOrder(e, await submissionFor(store, sims, [{ sku: pick.a.sku, quantity: 4 }]));
    const wh = order.lines[0]!.allocations[0]!.warehouseId;
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
    const [wo] = sims.wms.ordersOf(order.id);
    expect(wo!.lines[0]).toMatchObject({ allocated: 1, backordered: 3 });
    for (const m of ['picked', 'packed', 'shipped'] as const) sims.wms.advance(wo!.wmsOrderId, m);
    await sync.syncOnce();
    const o = await now(order);
    expect(o.state).toBe('partially_shipped');
    expect(o.customerStatus).toBe('Partially shipped (1 of 2)');
    expect(o.shipments.find((s) => s.id === wo!.wmsOrderId)?.lines).toEqual([
      { sku: pick.a.sku, quantity: 1 },
    ]);
  });

  test('a WMS feed entry shipping more than ordered is refused whole: no state, no event, an exception with the raw entry', async () => {
    const { store, sims, dispatcher } = e;
    const order = await acceptOrder(e, await submissionFor(store, sims, [{ sku: pick.a.sku, quantity: 2 }]));
    await drain(dispatcher);
    const [wo] = sims.wms.ordersOf(order.id);
    sims.wms.advance(wo!.wmsOrderId, 'picked');
    sims.wms.advance(wo!.wmsOrderId, 'packed');
    // A WMS that reports its shipped lines wrong (twice the quantity).
    const buggy: WmsPort = Object.create(sims.wms) as WmsPort;
    buggy.milestonesSince = async (since, limit) => {
      const page = await sims.wms.milestonesSince(since, limit);
      return {
        ...page,
        milestones: page.milestones.map((m) =>
          m.type === 'shipped'
            ? { ...m, lines: m.lines?.map((l) => ({ ...l, quantity: l.quantity * 2 })) }
            : m,
        ),
      };
    };
    const sync = new FulfillmentSync({ store, clock: e.clock, erp: sims.erp, wms: buggy });
    await sync.syncOnce();
    await drain(dispatcher);
    const before = await now(order);
    expect(before.state).toBe('packed');
    const eventsBefore = (await store.readEvents({ fromSeq: 0, limit: 10_000 })).length;
    const crmBefore = sims.crm.orderStatus(order.id);

    const shipped = sims.wms.advance(wo!.wmsOrderId, 'shipped');
    const pass = await sync.syncOnce();
    expect(pass.wms).toMatchObject({ refused: 1, applied: 0 });
    const after = await now(order);
    expect(after.version).toBe(before.version);
    expect(after.state).toBe('packed');
    expect(after.shipments).toEqual(before.shipments);
    expect((await store.readEvents({ fromSeq: 0, limit: 10_000 })).length).toBe(eventsBefore);
    await drain(dispatcher);
    expect(sims.crm.orderStatus(order.id)).toEqual(crmBefore);
    expect(sims.notifications.deliveredTo(order.customerId!, order.id).map((n) => n.template)).not.toContain(
      'shipment-shipped',
    );

    const refused = (await store.getTimeline(order.id)).filter((t) => t.outcome === 'refused');
    expect(refused.map((t) => [t.name, t.summary['reason']])).toEqual([
      ['shipment.shipped', 'over_shipment'],
    ]);
    const ex = await store.getException(`fulfillment:${order.id}:over_shipment:wms:${shipped.id}`);
    expect(ex).toMatchObject({ kind: 'data_quality', owner: 'logistics', status: 'open', orderId: order.id });
    expect(ex!.lastError['details']).toMatchObject({
      reason: 'over_shipment',
      overShipped: [{ sku: pick.a.sku, ordered: 2, shipped: 4 }],
    });
    expect(ex!.lastError['raw']).toMatchObject({
      id: shipped.id,
      type: 'shipped',
      lines: [{ sku: pick.a.sku, quantity: 4 }],
    });

    // The entry was taken (the cursor moved): a re-poll applies nothing and raises nothing new.
    const again = await sync.syncOnce();
    expect(again.wms).toMatchObject({ read: 0 });
    expect((await store.getException(ex!.id))?.attempts).toBe(1);
  });
});
