/**
 * A multi-warehouse split through a whole hub on SQLite and on PostgreSQL: the order is taken
 * over HTTP, warehouse planning releases a warehouse order per warehouse, the first shipment is
 * reported by the polled WMS feed and the second by a signed WMS webhook. The order reads
 * "Partially shipped (1 of 2)" in the hub, the API and the CRM until both left; a webhook shipping
 * more than ordered is a 422 naming `data.lines`, an exception keeping the event, and no change;
 * its corrected re-send under the same event id is applied.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  cloudEvent,
  drained,
  type HubUnderTest,
  openHub,
  orderWhen,
  postWebhook,
  submitOrder,
} from './hub.js';
import { splitPick, submissionFor, warehouseOf } from './support.js';

describe.each(['sqlite', 'postgres'] as const)('a split order through a whole hub on %s', (backend) => {
  let h: HubUnderTest;

  beforeAll(async () => {
    h = await openHub('split', backend);
  });

  afterAll(async () => {
    await h?.close();
  });

  test('partially shipped (1 of 2) after the feed reports the first warehouse; an over-shipping webhook is refused whole; the corrected re-send ships the order', async () => {
    const { hub } = h;
    const sims = hub.sims!;
    const pick = splitPick(sims.data);
    const order = await submitOrder(
      h,
      await submissionFor(hub.store, sims, [
        { sku: pick.a.sku, quantity: 2 },
        { sku: pick.b.sku, quantity: 3 },
      ]),
    );
    expect(order.fulfillmentPlan?.strategy).toBe('split');
    await drained(h);
    const wos = new Map(sims.wms.ordersOf(order.id).map((o) => [o.warehouseId, o]));
    expect(wos.size).toBe(2);
    const first = wos.get(warehouseOf(order, pick.a.sku))!;
    const second = wos.get(warehouseOf(order, pick.b.sku))!;

    // The first warehouse ships; the polled feed reports it.
    for (const m of ['picked', 'packed', 'shipped'] as const) sims.wms.advance(first.wmsOrderId, m);
    await orderWhen(h, order.id, 'the first shipment', (o) => o.state === 'partially_shipped');
    // Effects of the packed milestone (a carrier booking, where the hub books) settle first.
    await drained(h);
    const partial = (await hub.store.getOrder(order.id))!;
    expect(partial.customerStatus).toBe('Partially shipped (1 of 2)');
    const api = await hub.app.inject({
      url: `/api/v1/orders/${order.id}`,
      headers: { authorization: `Bearer ${h.keys.orders}` },
    });
    expect(api.json()).toMatchObject({
      state: 'partially_shipped',
      customerStatus: 'Partially shipped (1 of 2)',
    });
    await drained(h);
    expect(sims.crm.orderStatus(order.id)?.status).toBe('Partially shipped (1 of 2)');

    // The second warehouse pushes its shipment, with its lines wrong: refused whole.
    const eventId = `ship-${second.wmsOrderId}-${backend}`;
    const shipped = (quantity: number) =>
      cloudEvent(
        'wms.milestone.v1',
        order.id,
        {
          milestoneId: `${second.wmsOrderId}:shipped`,
          shipmentId: second.wmsOrderId,
          warehouseId: second.warehouseId,
          milestone: 'shipped',
          lines: [{ sku: pick.b.sku, quantity }],
        },
        eventId,
      );
    const bad = await postWebhook(h, 'wms', shipped(30));
    expect(bad.statusCode).toBe(422);
    expect(bad.headers['content-type']).toContain('application/problem+json');
    expect(bad.json().errors).toEqual([{ field: 'data.lines', message: expect.any(String) }]);
    const unchanged = (await hub.store.getOrder(order.id))!;
    expect(unchanged.version).toBe(partial.version);
    expect(unchanged.state).toBe('partially_shipped');
    const ex = (await hub.store.listExceptions({ status: 'open', limit: 100 })).find(
      (x) => x.orderId === order.id && x.id.includes('over_shipment'),
    );
    expect(ex).toMatchObject({ kind: 'data_quality', owner: 'logistics' });
    expect(ex!.lastError['raw']).toMatchObject({
      id: eventId,
      type: 'wms.milestone.v1',
      data: { lines: [{ sku: pick.b.sku, quantity: 30 }] },
    });

    // Corrected, under the same event id: applied (a refusal does not use up the id).
    const good = await postWebhook(h, 'wms', shipped(3));
    expect(good.statusCode).toBe(202);
    const done = (await hub.store.getOrder(order.id))!;
    expect(done.state).toBe('shipped');
    expect(done.customerStatus).toBe('Shipped');
    expect(done.shipments.find((s) => s.id === second.wmsOrderId)?.lines).toEqual([
      { sku: pick.b.sku, quantity: 3 },
    ]);
    expect((await postWebhook(h, 'wms', shipped(3))).statusCode).toBe(200);
    await drained(h);
    expect(sims.crm.orderStatus(order.id)?.status).toBe('Shipped');
    const templates = sims.notifications.deliveredTo(order.customerId!, order.id).map((n) => n.template);
    expect(templates.filter((t) => t === 'shipment-shipped')).toHaveLength(2);
  });
});
