/**
 * A backorder through a whole hub on SQLite and on PostgreSQL: an order of a SKU nobody has is
 * accepted as backordered over HTTP; the customer is told when it is expected and the account's
 * owner gets a CRM task, once; when stock arrives at a warehouse the inventory refresh publishes
 * the receipt, the backorder is released to the warehouse, reported back by the polled WMS feed
 * and shipped; the hub, the API and the CRM read the same status throughout.
 *
 * The hub registers the backorders subscription once the composition root passes it a
 * `Backorders` (see the report of this change); until then this suite registers it on the hub's
 * own dispatcher, over the hub's own store and WMS.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  backordersSubscription,
  MemoryAnalyticsSink,
  standardSubscriptions,
} from '../../src/events/index.js';
import { Backorders, InventoryRefresh } from '../../src/workflows/fulfillment/index.js';
import { drained, type HubUnderTest, openHub, orderWhen, submitOrder } from './hub.js';
import { submissionFor } from './support.js';

const backorderEverywhere = {
  default: { inventory: 'allow_backorder' },
  segments: {
    key_account: { inventory: 'allow_backorder' },
    standard: { inventory: 'allow_backorder' },
    new_business: { inventory: 'allow_backorder' },
  },
};

describe.each(['sqlite', 'postgres'] as const)('a backorder through a whole hub on %s', (backend) => {
  let h: HubUnderTest;

  beforeAll(async () => {
    h = await openHub('backorder', backend, { overrides: { policies: backorderEverywhere } });
    const { hub } = h;
    const dispatcher = hub.dispatcher!;
    if (!dispatcher.subscriptions.includes(backordersSubscription)) {
      const backorders = new Backorders({
        store: hub.store,
        clock: { now: () => new Date() },
        wms: hub.ports.wms,
      });
      const reg = standardSubscriptions({
        crm: hub.crm,
        notifications: hub.ports.notifications,
        wms: hub.ports.wms,
        store: hub.store,
        analytics: new MemoryAnalyticsSink(),
        handleBackorders: backorders.handle,
      }).find((r) => r.name === backordersSubscription)!;
      await dispatcher.stop();
      dispatcher.register(reg);
      await dispatcher.start();
    }
  });

  afterAll(async () => {
    await h?.close();
  });

  test('accepted backordered, announced once with its promise, released when stock arrives, shipped', async () => {
    const { hub } = h;
    const sims = hub.sims!;
    const sku = sims.picks.outOfStock.sku;
    const order = await submitOrder(h, await submissionFor(hub.store, sims, [{ sku, quantity: 2 }]));
    expect(order.state).toBe('backordered');
    const promise = order.lines[0]!.promiseDate!;
    const expected = `Backordered (expected ${promise})`;
    await orderWhen(h, order.id, 'the backorder announced', (o) => o.customerStatus === expected);
    await drained(h);
    expect(sims.crm.orderStatus(order.id)?.status).toBe(expected);
    const api = await hub.app.inject({
      url: `/api/v1/orders/${order.id}`,
      headers: { authorization: `Bearer ${h.keys.orders}` },
    });
    expect(api.json().customerStatus).toBe(expected);
    const sent = () => sims.notifications.deliveredTo(order.customerId!, order.id).map((n) => n.template);
    expect(sent().filter((t) => t === 'order-backordered')).toHaveLength(1);
    expect(sims.crm.tasks(order.id)).toEqual([
      expect.objectContaining({ dueOn: promise, assignedTo: expect.stringMatching(/^005/) }),
    ]);

    // Stock arrives; the hub's inventory refresh (every 30 s in the hub; once here) sees it.
    const wh = (await hub.store.getInventory([sku])).find((p) => p.inbound.length > 0)!.warehouseId;
    sims.wms.receiveStock(sku, wh, 4);
    await new InventoryRefresh({ store: hub.store, source: hub.ports.wms }).refreshOnce();
    await drained(h);
    const [wo] = sims.wms.ordersOf(order.id);
    expect(wo!.lines).toEqual([{ sku, quantity: 2, allocated: 2, backordered: 0 }]);
    await orderWhen(h, order.id, 'the release reported', (o) => o.state === 'released');
    for (const m of ['picked', 'packed', 'shipped'] as const) sims.wms.advance(wo!.wmsOrderId, m);
    const shipped = await orderWhen(h, order.id, 'shipped', (o) => o.state === 'shipped');
    expect(shipped.customerStatus).toBe('Shipped');
    expect(shipped.lines[0]).toMatchObject({ backorderedQuantity: 0 });
    await drained(h);
    expect(sims.crm.orderStatus(order.id)?.status).toBe('Shipped');
    expect(sent().filter((t) => t === 'order-backorder-released')).toHaveLength(1);
    expect(sent().filter((t) => t === 'order-backordered')).toHaveLength(1);
    expect(sims.crm.tasks(order.id)).toHaveLength(1);
  });
});
