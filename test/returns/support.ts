/** Shared steps of the finance and returns suites: a shipped (and invoiced) order through a whole hub. */
import { expect } from 'vitest';
import type { Hub } from '../../src/app/hub.js';
import type { SalesOrder } from '../../src/domain/index.js';
import { signatureHeader, signWebhook } from '../../src/events/index.js';
import { call, inPolicyOrder, until } from '../http/order-support.js';

export const crmSecret = 'crm-webhook-secret-for-returns-0123456789';

/** Waits until every subscription has nothing pending or leased. */
export async function drained(hub: Hub): Promise<void> {
  hub.dispatcher!.notify();
  await until('the dispatcher to drain', async () => {
    const stats = await hub.store.subscriptionStats();
    return stats.every((s) => s.pending === 0 && s.leased === 0);
  });
}

/** Waits until the stored order satisfies `ok`. */
export function orderWhen(hub: Hub, id: string, what: string, ok: (o: SalesOrder) => boolean) {
  return until(
    what,
    async () => {
      const o = await hub.store.getOrder(id);
      return o && ok(o) ? o : null;
    },
    20_000,
  );
}

/** An order of `quantity` units of one in-policy line, accepted, released, and shipped by the WMS. */
export async function shippedOrder(hub: Hub, key: string, quantity = 3): Promise<SalesOrder> {
  const submission = inPolicyOrder(hub);
  submission.lines = submission.lines.map((l) => ({ ...l, quantity }));
  const res = await call(hub, key, 'POST', '/api/v1/orders', submission);
  expect(res.statusCode).toBe(201);
  const id = res.json().orderId as string;
  await drained(hub);
  const wmsOrder = await until('the WMS release', async () => hub.sims!.wms.ordersOf(id)[0]);
  for (const m of ['picked', 'packed', 'shipped'] as const) hub.sims!.wms.advance(wmsOrder.wmsOrderId, m);
  await orderWhen(hub, id, 'the order shipped', (o) => o.state === 'shipped');
  // The packed milestone books a carrier behind: let that land before a test compares versions.
  await drained(hub);
  return orderWhen(hub, id, 'the carrier booking', (o) => o.milestones.includes('booked'));
}

/** Invoices the order in the ERP and waits for the hub to have the invoice. */
export async function invoiced(hub: Hub, order: SalesOrder): Promise<SalesOrder> {
  hub.sims!.erp.invoiceOrder(order.externalIds['erpOrderId']!);
  return orderWhen(hub, order.id, 'the invoice', (o) => o.invoices.some((i) => i.kind === 'invoice'));
}

/** Posts the CRM's signed `crm.return_requested.v1` for an order. */
export function postCrmReturn(
  hub: Hub,
  key: string,
  orderId: string,
  data: Record<string, unknown>,
  eventId = `evt-${process.pid}-${Math.random().toString(36).slice(2)}`,
) {
  const raw = JSON.stringify({
    specversion: '1.0',
    id: eventId,
    source: 'urn:crm',
    type: 'crm.return_requested.v1',
    time: new Date().toISOString(),
    subject: orderId,
    data,
  });
  return hub.app.inject({
    method: 'POST',
    url: '/api/v1/webhooks/crm',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/cloudevents+json',
      [signatureHeader]: signWebhook(crmSecret, raw, Math.floor(Date.now() / 1000)),
    },
    payload: raw,
  });
}
