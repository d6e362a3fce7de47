/**
 * No duplicate conversion over HTTP through a whole hub, on SQLite and PostgreSQL: the same CRM
 * quote posted twice without an Idempotency-Key (or with another one, or ten times at once) makes
 * one ERP order, and the repost is answered 200 with the existing order's decision, `Location` and
 * `crossdock-existing-order: true`; the same key still replays its stored answer. The same PO
 * number of the same customer on an open order is held for sales.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Hub } from '../../src/app/hub.js';
import { call, type HubBackend, inPolicyOrder, type OrderHub, openOrderHub } from './order-support.js';

describe.each(['sqlite', 'postgres'] as HubBackend[])(
  'POST /api/v1/orders: one order per quote on %s',
  (backend) => {
    let oh: OrderHub;
    let hub: Hub;
    let crm: string;
    let n = 0;
    const quote = () => ({ system: 'crm' as const, ref: `0Q0${backend}${process.pid}${++n}` });

    beforeAll(async () => {
      oh = await openOrderHub('dupquote', backend);
      hub = oh.hub;
      crm = await oh.key('crm-app', ['orders:write', 'orders:read']);
    });
    afterAll(async () => {
      await oh?.dispose();
    });

    const post = (body: unknown, headers: Record<string, string> = {}) =>
      call(hub, crm, 'POST', '/api/v1/orders', body, headers);

    test('the same quote posted twice without a key makes one ERP order; the repost gets 200, the order and the header', async () => {
      const body = inPolicyOrder(hub, { source: quote() });
      const erpBefore = hub.sims!.erp.orderCount;
      const first = await post(body);
      expect(first.statusCode).toBe(201);
      expect(first.headers['crossdock-existing-order']).toBeUndefined();
      const again = await post(body);
      expect(again.statusCode).toBe(200);
      expect(again.headers['crossdock-existing-order']).toBe('true');
      expect(again.headers['location']).toBe(`/api/v1/orders/${first.json().orderId}`);
      expect(again.json()).toMatchObject({
        orderId: first.json().orderId,
        state: 'accepted',
        erpOrderNumber: first.json().erpOrderNumber,
      });
      // With another key, and with a changed body: still the same order.
      const other = await post({ ...body, notes: 'again' }, { 'idempotency-key': crypto.randomUUID() });
      expect(other.statusCode).toBe(200);
      expect(other.json().orderId).toBe(first.json().orderId);
      expect(hub.sims!.erp.orderCount).toBe(erpBefore + 1);
      const listed = await call(hub, crm, 'GET', `/api/v1/orders?customerId=${body.customer.id}&limit=500`);
      const same = listed
        .json()
        .items.filter((o: { source: { ref: string } }) => o.source.ref === body.source!.ref);
      expect(same).toHaveLength(1);
    });

    test('ten posts of one quote at once make one ERP order, and every answer names that order', async () => {
      const body = inPolicyOrder(hub, { source: quote() });
      const erpBefore = hub.sims!.erp.orderCount;
      const answers = await Promise.all(Array.from({ length: 10 }, () => post(body)));
      const ids = new Set(answers.map((a) => a.json().orderId));
      expect(ids.size).toBe(1);
      expect(answers.map((a) => a.statusCode).sort()).toEqual([
        200, 200, 200, 200, 200, 200, 200, 200, 200, 201,
      ]);
      expect(answers.filter((a) => a.headers['crossdock-existing-order'] === 'true')).toHaveLength(9);
      expect(hub.sims!.erp.orderCount).toBe(erpBefore + 1);
    });

    test('a repost under the key of the first post replays the stored answer (201, Idempotency-Replayed)', async () => {
      const body = inPolicyOrder(hub, { source: quote() });
      const key = crypto.randomUUID();
      const first = await post(body, { 'idempotency-key': key });
      const again = await post(body, { 'idempotency-key': key });
      expect(first.statusCode).toBe(201);
      expect(again.statusCode).toBe(201);
      expect(again.headers['idempotency-replayed']).toBe('true');
      expect(again.json()).toEqual(first.json());
    });

    test('a rejected quote may be posted again and is decided afresh', async () => {
      const blocked = hub.sims!.picks.blocked;
      const body = inPolicyOrder(hub, {
        source: quote(),
        customer: { id: blocked.id },
        shipTo: blocked.addresses.find((a) => a.kind === 'shipping') ?? blocked.addresses[0]!,
      });
      const first = await post(body);
      expect(first.json().state).toBe('rejected');
      const again = await post(body);
      expect(again.statusCode).toBe(200);
      expect(again.headers['crossdock-existing-order']).toBeUndefined();
      expect(again.json().orderId).not.toBe(first.json().orderId);
    });

    test('the same customer and PO number on an open order holds the new order for sales (duplicate_po)', async () => {
      const po = `PO-${backend}-${process.pid}-${++n}`;
      const first = await post(inPolicyOrder(hub, { source: quote(), poNumber: po }));
      expect(first.statusCode).toBe(201);
      const second = await post(inPolicyOrder(hub, { source: quote(), poNumber: po }));
      expect(second.statusCode).toBe(200);
      expect(second.headers['crossdock-existing-order']).toBeUndefined();
      expect(second.json()).toMatchObject({ state: 'on_hold', erpOrderNumber: null });
      expect(second.json().holds).toEqual([
        expect.objectContaining({ reason: 'duplicate_po', owner: 'sales' }),
      ]);
      const held = await call(hub, crm, 'GET', '/api/v1/orders?holdReason=duplicate_po&limit=500');
      expect(held.json().items.map((o: { id: string }) => o.id)).toContain(second.json().orderId);
    });

    test('the OpenAPI document says what a repost is answered', async () => {
      const doc = (await call(hub, crm, 'GET', '/openapi.json')).json();
      const op = doc.paths['/api/v1/orders'].post;
      expect(op.description).toContain('crossdock-existing-order');
      expect(op.responses['200'].headers).toHaveProperty('crossdock-existing-order');
    });
  },
);
