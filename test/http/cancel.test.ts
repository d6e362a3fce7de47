/**
 * Cancellation over HTTP through a whole hub (API, dispatcher, fulfillment sync, simulators), on
 * SQLite and PostgreSQL: a cancelled order is cancelled in the ERP, its warehouse order stopped,
 * the CRM shows it and the customer is told once (also on a repeat); a cancel after full shipment
 * is a typed 409; bad input, wrong scopes and unknown orders are typed problems that change
 * nothing; the CRM's signed cancellation request is carried out behind the webhook.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Hub } from '../../src/app/hub.js';
import type { SalesOrder } from '../../src/domain/index.js';
import { signatureHeader, signWebhook } from '../../src/events/index.js';
import { cancelRequestId } from '../../src/workflows/quote-to-order/cancel-requests.js';
import { call, type HubBackend, inPolicyOrder, type OrderHub, openOrderHub, until } from './order-support.js';

const crmSecret = 'crm-webhook-secret-for-cancel-tests-0123';

describe.each(['sqlite', 'postgres'] as HubBackend[])('order cancellation over HTTP on %s', (backend) => {
  let oh: OrderHub;
  let hub: Hub;
  const keys = {} as Record<'crm' | 'reader' | 'credit' | 'crmWebhook', string>;

  beforeAll(async () => {
    oh = await openOrderHub('cancel', backend, { overrides: { webhooks: { secrets: { crm: crmSecret } } } });
    hub = oh.hub;
    keys.crm = await oh.key('crm-app', ['orders:write', 'orders:read']);
    keys.reader = await oh.key('reporting', ['orders:read']);
    keys.credit = await oh.key('credit desk', ['holds:credit']);
    keys.crmWebhook = await oh.key('crm-sender', ['webhooks:crm']);
  });
  afterAll(async () => {
    await oh?.dispose();
  });

  async function drained(): Promise<void> {
    hub.dispatcher!.notify();
    await until('the dispatcher to drain', async () => {
      const stats = await hub.store.subscriptionStats();
      return stats.every((s) => s.pending === 0 && s.leased === 0);
    });
  }

  /** An accepted order whose warehouse order the WMS has (released through warehouse planning). */
  async function released(): Promise<SalesOrder> {
    const res = await call(hub, keys.crm, 'POST', '/api/v1/orders', inPolicyOrder(hub));
    expect(res.statusCode).toBe(201);
    const id = res.json().orderId as string;
    await drained();
    await until('the WMS release', async () => hub.sims!.wms.ordersOf(id).length === 1);
    return (await hub.store.getOrder(id))!;
  }

  const cancel = (
    id: string,
    key = keys.crm,
    body: unknown = { reason: 'customer_request', note: 'changed mind' },
  ) => call(hub, key, 'POST', `/api/v1/orders/${id}/cancel`, body);
  const templates = (o: SalesOrder) =>
    hub.sims!.notifications.deliveredTo(o.customerId!, o.id).map((n) => n.template);

  test('a released order is cancelled everywhere: ERP, warehouse, CRM; the customer is told once, also after a repeat', async () => {
    const order = await released();
    const res = await cancel(order.id);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ orderId: order.id, state: 'cancelled', customerStatus: 'Cancelled' });
    expect((await hub.sims!.erp.getSalesOrder(order.externalIds['erpOrderId']!)).state).toBe('cancelled');
    await drained();
    expect(hub.sims!.wms.ordersOf(order.id).map((o) => o.status)).toEqual(['cancelled']);
    await until(
      'the CRM to show the cancellation',
      async () => hub.sims!.crm.orderStatus(order.id)?.state === 'cancelled',
    );
    expect(templates(order).filter((t) => t === 'order-cancelled')).toHaveLength(1);
    const again = await cancel(order.id);
    expect(again.statusCode).toBe(200);
    await drained();
    expect(templates(order).filter((t) => t === 'order-cancelled')).toHaveLength(1);
    const timeline = (await call(hub, keys.crm, 'GET', `/api/v1/orders/${order.id}/timeline`)).json();
    expect(timeline.entries.find((e: { name: string }) => e.name === 'order.cancel')).toMatchObject({
      summary: { by: 'crm-app', note: 'changed mind', reason: 'customer_request' },
    });
  });

  test('a cancel after full shipment is a typed 409 and changes nothing', async () => {
    const order = await released();
    const [wo] = hub.sims!.wms.ordersOf(order.id);
    for (const m of ['picked', 'packed', 'shipped'] as const) hub.sims!.wms.advance(wo!.wmsOrderId, m);
    await until(
      'the hub to see the shipment',
      async () => (await hub.store.getOrder(order.id))?.state === 'shipped',
    );
    // The carrier booking follows the shipment asynchronously and writes the tracking number to
    // the order; let it land before taking the snapshot the refused cancel must not change.
    await drained();
    await until('the carrier booking', async () =>
      ((await hub.store.getOrder(order.id))?.shipments ?? [])
        .filter((s) => s.status === 'shipped')
        .every((s) => s.trackingNumber !== undefined),
    );
    await drained();
    const before = await hub.store.getOrder(order.id);
    const res = await cancel(order.id);
    expect(res.statusCode).toBe(409);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'shipped', state: 'shipped' });
    expect(await hub.store.getOrder(order.id)).toEqual(before);
    expect((await hub.sims!.erp.getSalesOrder(order.externalIds['erpOrderId']!)).state).not.toBe('cancelled');
  });

  test('bad input, wrong scopes, unknown orders and wrong states are typed problems that change nothing', async () => {
    const order = await released();
    expect((await cancel(order.id, keys.reader)).statusCode).toBe(403);
    expect((await cancel(order.id, keys.credit)).statusCode).toBe(403);
    const noNote = await cancel(order.id, keys.crm, { reason: 'customer_request' });
    expect(noNote.statusCode).toBe(422);
    expect(noNote.json().errors.map((e: { field: string }) => e.field)).toEqual(['note']);
    const badReason = await cancel(order.id, keys.crm, { reason: 'Because!', note: 'x' });
    expect(badReason.statusCode).toBe(422);
    expect(badReason.json().errors.map((e: { field: string }) => e.field)).toEqual(['reason']);
    expect((await cancel('ord_does_not_exist')).statusCode).toBe(404);
    // The hold owners' cancel needs the order on that hold.
    const viaHold = await call(hub, keys.credit, 'POST', `/api/v1/orders/${order.id}/holds/credit/cancel`, {
      reason: 'credit',
      note: 'x',
    });
    expect(viaHold.statusCode).toBe(409);
    expect(viaHold.json()).toMatchObject({ code: 'not_on_hold' });
    expect(await hub.store.getOrder(order.id)).toEqual(order);
  });

  test("the CRM's signed cancellation request is recorded at once and carried out behind; the customer is told once", async () => {
    const order = await released();
    const raw = JSON.stringify({
      specversion: '1.0',
      id: `crm-cancel-${backend}-${order.id}`,
      source: 'urn:crm',
      type: 'crm.order_cancel_requested.v1',
      time: new Date().toISOString(),
      subject: order.id,
      data: { reason: 'customer_request', note: 'customer phoned', requestedBy: 'jane.rep' },
    });
    const send = () =>
      hub.app.inject({
        method: 'POST',
        url: '/api/v1/webhooks/crm',
        headers: {
          authorization: `Bearer ${keys.crmWebhook}`,
          'content-type': 'application/cloudevents+json',
          [signatureHeader]: signWebhook(crmSecret, raw, Math.floor(Date.now() / 1000)),
        },
        payload: raw,
      });
    const first = await send();
    expect(first.statusCode).toBe(202);
    expect((await send()).statusCode).toBe(200);
    await until(
      'the request to be carried out',
      async () => (await hub.store.getOrder(order.id))?.state === 'cancelled',
      20_000,
    );
    // The request is resolved right after the cancellation commits, in a write of its own.
    await until(
      'the request to be resolved',
      async () => (await hub.store.getException(cancelRequestId(order.id)))?.status === 'resolved',
      20_000,
    );
    expect(await hub.store.getException(cancelRequestId(order.id))).toMatchObject({ status: 'resolved' });
    await drained();
    expect(hub.sims!.wms.ordersOf(order.id).map((o) => o.status)).toEqual(['cancelled']);
    expect(templates(order).filter((t) => t === 'order-cancelled')).toHaveLength(1);
  });
});
