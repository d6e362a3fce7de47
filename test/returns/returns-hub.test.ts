/**
 * Returns (RMA) through a whole hub (API, webhooks, dispatcher, fulfillment sync with its returns
 * processor, simulators) on SQLite and PostgreSQL: a CRM case or an API client asks, the ERP
 * authorizes, the WMS receives and inspects per line, the ERP credits what was accepted, and the
 * CRM and the customer hear of each step once; bad requests are typed problems that write nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Hub } from '../../src/app/hub.js';
import type { ReturnAuthorization, SalesOrder } from '../../src/domain/index.js';
import {
  call,
  type HubBackend,
  inPolicyOrder,
  type OrderHub,
  openOrderHub,
  until,
} from '../http/order-support.js';
import { crmSecret, drained, invoiced, orderWhen, postCrmReturn, shippedOrder } from './support.js';

describe.each(['sqlite', 'postgres'] as HubBackend[])('returns through a hub on %s', (backend) => {
  let oh: OrderHub;
  let hub: Hub;
  const keys = {} as Record<'crm' | 'reader' | 'crmWebhook', string>;

  beforeAll(async () => {
    oh = await openOrderHub('returns', backend, { overrides: { webhooks: { secrets: { crm: crmSecret } } } });
    hub = oh.hub;
    keys.crm = await oh.key('crm-app', ['orders:write', 'orders:read']);
    keys.reader = await oh.key('reporting', ['orders:read']);
    keys.crmWebhook = await oh.key('crm-sender', ['webhooks:crm']);
  }, 60_000);
  afterAll(async () => {
    await oh?.dispose();
  });

  const templates = (o: SalesOrder) =>
    hub.sims!.notifications.deliveredTo(o.customerId!, o.id).map((n) => n.template);
  const returnWhen = (id: string, what: string, ok: (r: ReturnAuthorization) => boolean) =>
    orderWhen(hub, id, what, (o) => (o.returns ?? []).some(ok)).then((o) => o.returns!.find(ok)!);

  test('a CRM case is authorized by the ERP, received and inspected by the WMS, credited for what was accepted; CRM and customer hear of each step once', async () => {
    const order = await invoiced(hub, await shippedOrder(hub, keys.crm, 3));
    const sku = order.lines[0]!.sku;
    const unitPrice = order.lines[0]!.unitPrice;
    const caseData = {
      caseId: 'CASE-1001',
      lines: [{ sku, quantity: 2, reason: 'damaged' }],
      requestedBy: 'Ann',
    };
    const first = await postCrmReturn(hub, keys.crmWebhook, order.id, caseData, `evt-${order.id}-1`);
    expect(first.statusCode).toBe(202);
    // The same delivery again, and the same case in a new event: one return.
    expect(
      (await postCrmReturn(hub, keys.crmWebhook, order.id, caseData, `evt-${order.id}-1`)).statusCode,
    ).toBe(200);
    expect(
      (await postCrmReturn(hub, keys.crmWebhook, order.id, caseData, `evt-${order.id}-2`)).statusCode,
    ).toBe(200);

    const authorized = await returnWhen(order.id, 'the ERP authorization', (r) => r.state === 'authorized');
    expect(authorized.rmaNumber).toMatch(/^RMA\//);
    expect(authorized.source).toMatchObject({ system: 'crm', caseId: 'CASE-1001', by: 'Ann' });
    expect(hub.sims!.erp.returnRecord(authorized.id)).toMatchObject({ lines: [{ sku, quantity: 2 }] });
    await until('the WMS to expect the return', async () => hub.sims!.wms.expectedReturn(authorized.id));

    hub.sims!.wms.receiveReturn(authorized.id, [{ sku, received: 2, accepted: 1, reason: 'used' }]);
    const credited = await returnWhen(order.id, 'the credit', (r) => r.state === 'credited');
    expect(credited.lines[0]).toMatchObject({
      acceptedQuantity: 1,
      rejectedQuantity: 1,
      rejectionReason: 'used',
    });
    expect(credited.history.map((h) => h.state)).toEqual([
      'requested',
      'authorized',
      'received',
      'inspected',
      'credited',
    ]);
    expect(credited.creditAmount).toBeCloseTo(unitPrice, 4);
    const stored = (await hub.store.getOrder(order.id))!;
    expect(stored.returns).toHaveLength(1);
    const memo = stored.invoices.find((i) => i.kind === 'credit_memo')!;
    expect(memo).toMatchObject({ returnId: credited.id, lines: [{ sku, quantity: 1 }] });
    expect(memo.creditsInvoiceId).toBe(stored.invoices.find((i) => i.kind === 'invoice')!.id);
    expect(stored.state).toBe('invoiced');

    await drained(hub);
    const crmDocs = hub.sims!.crm.invoicesOfOrder(order.id);
    expect(crmDocs.map((d) => d.kind).sort()).toEqual(['credit_memo', 'invoice']);
    expect(crmDocs.find((d) => d.kind === 'credit_memo')).toMatchObject({
      returnId: credited.id,
      amount: memo.amount,
    });
    const sent = templates(stored);
    for (const t of ['invoice-issued', 'return-authorized', 'return-received', 'credit-memo-issued']) {
      expect(
        sent.filter((x) => x === t),
        t,
      ).toHaveLength(1);
    }
    const timeline = (await hub.store.getTimeline(order.id)).map((e) => e.name);
    for (const n of ['return.requested', 'return.authorized', 'return.received', 'return.credited']) {
      expect(timeline).toContain(n);
    }
  });

  test('over the API: 202 with a Location, the same case again 200 with crossdock-existing-return, readable by order and by id; all accepted is credited in full', async () => {
    const order = await invoiced(hub, await shippedOrder(hub, keys.crm, 2));
    const sku = order.lines[0]!.sku;
    const body = {
      caseId: 'CASE-2002',
      lines: [{ sku, quantity: 2, reason: 'wrong_item' }],
      note: 'sent the wrong size',
    };
    const res = await call(hub, keys.crm, 'POST', `/api/v1/orders/${order.id}/returns`, body);
    expect(res.statusCode).toBe(202);
    const ret = res.json() as ReturnAuthorization;
    expect(res.headers['location']).toBe(`/api/v1/returns/${ret.id}`);
    expect(ret).toMatchObject({
      state: 'requested',
      orderId: order.id,
      source: { system: 'api', by: 'crm-app' },
    });
    const again = await call(hub, keys.crm, 'POST', `/api/v1/orders/${order.id}/returns`, body);
    expect(again.statusCode).toBe(200);
    expect(again.headers['crossdock-existing-return']).toBe('true');
    expect(again.json().id).toBe(ret.id);

    const listed = await call(hub, keys.reader, 'GET', `/api/v1/orders/${order.id}/returns`);
    expect(listed.json().items.map((r: ReturnAuthorization) => r.id)).toEqual([ret.id]);
    expect((await call(hub, keys.reader, 'GET', `/api/v1/returns/${ret.id}`)).json().id).toBe(ret.id);
    expect((await call(hub, keys.reader, 'GET', `/api/v1/returns/${order.id}-R9`)).statusCode).toBe(404);
    expect(
      (await call(hub, keys.reader, 'POST', `/api/v1/orders/${order.id}/returns`, body)).statusCode,
    ).toBe(403);

    await until('the WMS to expect the return', async () => hub.sims!.wms.expectedReturn(ret.id));
    hub.sims!.wms.receiveReturn(ret.id, [{ sku, received: 2, accepted: 2 }]);
    const credited = await returnWhen(order.id, 'the credit', (r) => r.state === 'credited');
    const stored = (await hub.store.getOrder(order.id))!;
    const invoice = stored.invoices.find((i) => i.kind === 'invoice')!;
    expect(credited.creditAmount).toBeCloseTo(invoice.amount, 4);
    // Fully credited: the invoice is marked so, and the ERP's receivables no longer hold it.
    expect(invoice.status).toBe('credited');
    const customer = (await hub.store.getCustomer(stored.customerId!))!;
    const items = hub.sims!.erp.openItems(customer.externalIds['erp']!);
    expect(items.some((i) => i.id === invoice.externalIds['erp'])).toBe(false);
    const audit = await hub.store.listAudit(200);
    expect(audit.some((a) => a.action === 'return.request' && a.target === ret.id)).toBe(true);
  });

  test('nothing accepted at inspection rejects the return: no credit memo, the customer is told once', async () => {
    const order = await shippedOrder(hub, keys.crm, 1);
    const sku = order.lines[0]!.sku;
    const res = await call(hub, keys.crm, 'POST', `/api/v1/orders/${order.id}/returns`, {
      lines: [{ sku, quantity: 1, reason: 'damaged' }],
    });
    expect(res.statusCode).toBe(202);
    const id = res.json().id as string;
    await until('the WMS to expect the return', async () => hub.sims!.wms.expectedReturn(id));
    hub.sims!.wms.receiveReturn(id, [{ sku, received: 1, accepted: 0, reason: 'not_ours' }]);
    const rejected = await returnWhen(order.id, 'the rejection', (r) => r.state === 'rejected');
    expect(rejected.rejection?.code).toBe('inspection');
    await drained(hub);
    const stored = (await hub.store.getOrder(order.id))!;
    expect(stored.invoices.filter((i) => i.kind === 'credit_memo')).toHaveLength(0);
    expect(templates(stored).filter((t) => t === 'return-rejected')).toHaveLength(1);
  });

  test('an ERP that cannot authorize returns rejects the return as erp_unsupported; the customer is told once', async () => {
    const order = await shippedOrder(hub, keys.crm, 1);
    const erp = hub.erp as { createReturnAuthorization?: unknown };
    erp.createReturnAuthorization = undefined;
    try {
      const res = await call(hub, keys.crm, 'POST', `/api/v1/orders/${order.id}/returns`, {
        lines: [{ sku: order.lines[0]!.sku, quantity: 1, reason: 'damaged' }],
      });
      expect(res.statusCode).toBe(202);
      const rejected = await returnWhen(order.id, 'the rejection', (r) => r.state === 'rejected');
      expect(rejected.rejection?.code).toBe('erp_unsupported');
    } finally {
      delete erp.createReturnAuthorization;
    }
    await drained(hub);
    const stored = (await hub.store.getOrder(order.id))!;
    expect(templates(stored).filter((t) => t === 'return-rejected')).toHaveLength(1);
    expect(templates(stored)).not.toContain('return-authorized');
  });

  test('bad requests are typed problems naming the field, and write nothing', async () => {
    const order = await shippedOrder(hub, keys.crm, 2);
    const sku = order.lines[0]!.sku;
    const before = await hub.store.getOrder(order.id);
    const post = (id: string, body: unknown) =>
      call(hub, keys.crm, 'POST', `/api/v1/orders/${id}/returns`, body);
    const field = (r: Awaited<ReturnType<typeof post>>) => r.json().errors?.[0]?.field;

    const over = await post(order.id, { lines: [{ sku, quantity: 3, reason: 'damaged' }] });
    expect(over.statusCode).toBe(422);
    expect(over.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(field(over)).toBe('lines[0].quantity');
    const unknown = await post(order.id, { lines: [{ sku: 'NO-SUCH-SKU', quantity: 1, reason: 'damaged' }] });
    expect([unknown.statusCode, field(unknown)]).toEqual([422, 'lines[0].sku']);
    const twice = await post(order.id, {
      lines: [
        { sku, quantity: 1, reason: 'damaged' },
        { sku, quantity: 1, reason: 'damaged' },
      ],
    });
    expect([twice.statusCode, field(twice)]).toEqual([422, 'lines[1].sku']);
    const malformed = await post(order.id, { lines: [{ sku, quantity: 'two', reason: 'damaged' }] });
    expect([malformed.statusCode, field(malformed)]).toEqual([422, 'lines[0].quantity']);
    const badReason = await post(order.id, { lines: [{ sku, quantity: 1, reason: 'Damaged!' }] });
    expect([badReason.statusCode, field(badReason)]).toEqual([422, 'lines[0].reason']);
    expect((await post(order.id, { lines: [] })).statusCode).toBe(422);
    expect((await post('ord_missing', { lines: [{ sku, quantity: 1, reason: 'damaged' }] })).statusCode).toBe(
      404,
    );
    const viaCrm = await postCrmReturn(hub, keys.crmWebhook, order.id, {
      caseId: 'CASE-BAD',
      lines: [{ sku, quantity: 5, reason: 'damaged' }],
    });
    expect(viaCrm.statusCode).toBe(422);
    expect(viaCrm.json().errors?.[0]?.field).toBe('data.lines.0.quantity');
    expect(await hub.store.getOrder(order.id)).toEqual(before);

    // An order nothing of which shipped (accepted, released): 409 not_returnable.
    const fresh = await call(hub, keys.crm, 'POST', '/api/v1/orders', inPolicyOrder(hub));
    expect(fresh.statusCode).toBe(201);
    const freshId = fresh.json().orderId as string;
    const freshBefore = await hub.store.getOrder(freshId);
    const notShipped = await post(freshId, {
      lines: [{ sku: freshBefore!.lines[0]!.sku, quantity: 1, reason: 'damaged' }],
    });
    expect(notShipped.statusCode).toBe(409);
    expect(notShipped.json().code).toBeDefined();
    expect(await hub.store.getOrder(freshId)).toEqual(freshBefore);
  });
});
