/**
 * Invoices through a whole hub on SQLite and PostgreSQL: the ERP's posted invoice reaches the
 * order with its detail (number, amount, due date from the payment terms, lines), the CRM account
 * and order once (also when the delivery is replayed), and the customer once; overdue receivables
 * over the segment's policy hold a new order for credit, with the exposure's parts on the
 * timeline.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Hub } from '../../src/app/hub.js';
import { subscriptionNames } from '../../src/events/index.js';
import { call, type HubBackend, inPolicyOrder, type OrderHub, openOrderHub } from '../http/order-support.js';
import { drained, invoiced, shippedOrder } from '../returns/support.js';

describe.each(['sqlite', 'postgres'] as HubBackend[])(
  'invoices and receivables through a hub on %s',
  (backend) => {
    let oh: OrderHub;
    let hub: Hub;
    let key: string;

    beforeAll(async () => {
      oh = await openOrderHub('finance', backend);
      hub = oh.hub;
      key = await oh.key('crm-app', ['orders:write', 'orders:read']);
    }, 60_000);
    afterAll(async () => {
      await oh?.dispose();
    });

    test('a posted invoice reaches the order, the CRM account and order with its detail, once, also after a replay', async () => {
      const order = await invoiced(hub, await shippedOrder(hub, key, 2));
      const invoice = order.invoices.find((i) => i.kind === 'invoice')!;
      const customer = (await hub.store.getCustomer(order.customerId!))!;
      const erpInvoice = (await hub.sims!.erp.getSalesOrder(order.externalIds['erpOrderId']!)).invoices[0]!;
      expect(invoice).toMatchObject({
        number: erpInvoice.number,
        amount: erpInvoice.amount,
        dueOn: erpInvoice.dueDate,
        paymentTerms: erpInvoice.paymentTerms,
        lines: [{ sku: order.lines[0]!.sku, quantity: 2 }],
      });
      expect(order.state).toBe('invoiced');
      await drained(hub);
      const onOrder = hub.sims!.crm.invoicesOfOrder(order.id);
      expect(onOrder).toHaveLength(1);
      expect(onOrder[0]).toMatchObject({
        invoiceId: invoice.id,
        kind: 'invoice',
        number: invoice.number,
        amount: invoice.amount,
        dueOn: invoice.dueOn,
        accountCrmId: customer.externalIds['crm'],
        revision: 1,
      });
      expect(hub.sims!.crm.invoicesOfAccount(customer.externalIds['crm']!).map((r) => r.invoiceId)).toContain(
        invoice.id,
      );

      // Redeliver the invoice event to the CRM: nothing changes there.
      const events = await hub.store.readEvents({ limit: 1000, types: ['invoice.issued.v1'] });
      const mine = events.filter((e) => e.event.subject === order.id);
      expect(mine).toHaveLength(1);
      expect(mine[0]!.event.data).toMatchObject({
        kind: 'invoice',
        dueOn: invoice.dueOn,
        number: invoice.number,
      });
      const writes = hub.sims!.crm.invoiceWrites;
      expect(await hub.store.enqueueDeliveries(subscriptionNames.crmOrderSync, [mine[0]!.seq])).toBe(1);
      await drained(hub);
      const again = hub.sims!.crm.invoicesOfOrder(order.id);
      expect(again).toHaveLength(1);
      expect(again[0]!.revision).toBe(1);
      expect(hub.sims!.crm.invoiceWrites).toBe(writes);
      const notices = hub.sims!.notifications.deliveredTo(order.customerId!, order.id).map((n) => n.template);
      expect(notices.filter((t) => t === 'invoice-issued')).toHaveLength(1);
    });
  },
);

describe.each(['sqlite', 'postgres'] as HubBackend[])('overdue receivables on %s', (backend) => {
  let oh: OrderHub;
  let hub: Hub;
  let key: string;

  beforeAll(async () => {
    // Key accounts held on any overdue amount (the shipped default never holds them on it).
    oh = await openOrderHub('overdue', backend, {
      overrides: {
        policies: {
          segments: {
            key_account: {
              credit: { autoApproveBelow: 1000, overdue: { maxAmount: 0, maxPctOfLimit: null } },
            },
          },
        },
      },
    });
    hub = oh.hub;
    key = await oh.key('crm-app', ['orders:write', 'orders:read']);
  }, 60_000);
  afterAll(async () => {
    await oh?.dispose();
  });

  test('overdue receivables over the policy hold the order for credit; the exposure parts are on the timeline', async () => {
    const customer = hub.sims!.picks.inPolicy.customer;
    const exposure = await hub.sims!.erp.getCreditExposure(customer.externalIds['erp']!);
    expect(exposure.overdueReceivables).toBeGreaterThan(0);
    const res = await call(hub, key, 'POST', '/api/v1/orders', inPolicyOrder(hub));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ state: 'on_hold', holds: [{ reason: 'credit' }] });
    expect(res.json().holds[0].detail).toMatch(/overdue receivables/);
    const timeline = await hub.store.getTimeline(res.json().orderId);
    const step = timeline.find((e) => e.name === 'check-credit')!;
    expect(step.summary).toMatchObject({
      openReceivables: exposure.openReceivables,
      overdueReceivables: exposure.overdueReceivables,
      uninvoicedOrders: expect.any(Number),
      reason: 'credit',
    });
  });
});
