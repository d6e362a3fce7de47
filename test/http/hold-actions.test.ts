/**
 * Holds worked over HTTP through a whole hub, on SQLite and PostgreSQL: only keys with the hold
 * owner's scope may release or reject; bad input and wrong states are typed problems that change
 * nothing; a release decides the order again and it reaches the ERP, the CRM and the customer
 * once; who, when and why are on the order and its timeline; an Idempotency-Key replays.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Hub } from '../../src/app/hub.js';
import type { SalesOrder } from '../../src/domain/index.js';
import { call, type HubBackend, inPolicyOrder, type OrderHub, openOrderHub, until } from './order-support.js';

describe.each(['sqlite', 'postgres'] as HubBackend[])('hold actions over HTTP on %s', (backend) => {
  let oh: OrderHub;
  let hub: Hub;
  const keys = {} as Record<'crm' | 'credit' | 'pricing' | 'reader', string>;
  let admin: string;

  beforeAll(async () => {
    oh = await openOrderHub('holdactions', backend);
    hub = oh.hub;
    keys.crm = await oh.key('crm-app', ['orders:write', 'orders:read']);
    keys.credit = await oh.key('credit desk', ['holds:credit', 'orders:read']);
    keys.pricing = await oh.key('pricing desk', ['holds:pricing']);
    keys.reader = await oh.key('reporting', ['orders:read']);
    admin = await oh.key('ops admin', ['admin']);
  });
  afterAll(async () => {
    await oh?.dispose();
  });

  /** An order the hub holds for credit (the near-credit customer, a large line at list price). */
  async function creditHeld(): Promise<SalesOrder> {
    const c = hub.sims!.picks.nearCredit;
    const line = hub.sims!.picks.inPolicy.lines[0]!;
    const price = (await hub.store.getProducts([line.sku])).get(line.sku)!.listPrice;
    const res = await call(
      hub,
      keys.crm,
      'POST',
      '/api/v1/orders',
      inPolicyOrder(hub, {
        customer: { id: c.id },
        shipTo: c.addresses.find((a) => a.kind === 'shipping') ?? c.addresses[0]!,
        lines: [{ sku: line.sku, quantity: Math.ceil((c.creditLimit * 0.15) / price), unitPrice: price }],
      }),
    );
    expect(res.json()).toMatchObject({ state: 'on_hold', holds: [{ reason: 'credit', owner: 'credit' }] });
    return (await hub.store.getOrder(res.json().orderId))!;
  }

  const release = (id: string, key: string, body: unknown = { note: 'limit raised' }, reason = 'credit') =>
    call(hub, key, 'POST', `/api/v1/orders/${id}/holds/${reason}/release`, body);

  async function drained(): Promise<void> {
    hub.dispatcher!.notify();
    await until('the dispatcher to drain', async () => {
      const stats = await hub.store.subscriptionStats();
      return stats.every((s) => s.pending === 0 && s.leased === 0);
    });
  }

  test("only the hold owner's scope may work a hold: other teams and the CRM get 403 and change nothing", async () => {
    const held = await creditHeld();
    for (const key of [keys.pricing, keys.crm, keys.reader]) {
      const res = await release(held.id, key);
      expect(res.statusCode).toBe(403);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json().detail).toContain('holds:credit');
      const rej = await call(hub, key, 'POST', `/api/v1/orders/${held.id}/holds/credit/reject`, {
        note: 'x',
      });
      expect(rej.statusCode).toBe(403);
    }
    // Without a key at all: 401.
    const anonymous = await hub.app.inject({
      method: 'POST',
      url: `/api/v1/orders/${held.id}/holds/credit/release`,
      payload: { note: 'x' },
    });
    expect(anonymous.statusCode).toBe(401);
    expect(await hub.store.getOrder(held.id)).toEqual(held);
  });

  test('bad input and wrong states are typed problems: unknown reason 422, no note 422, unknown order 404, not on hold 409 with its code', async () => {
    const held = await creditHeld();
    // A reason that names no hold: only an administrator learns so (422 naming it); others get 403.
    expect((await release(held.id, keys.credit, { note: 'x' }, 'mood')).statusCode).toBe(403);
    const unknownReason = await release(held.id, admin, { note: 'x' }, 'mood');
    expect(unknownReason.statusCode).toBe(422);
    expect(unknownReason.json().errors.map((e: { field: string }) => e.field)).toEqual(['reason']);
    const noNote = await release(held.id, keys.credit, {});
    expect(noNote.statusCode).toBe(422);
    expect(noNote.json().errors.map((e: { field: string }) => e.field)).toEqual(['note']);
    const blankNote = await release(held.id, keys.credit, { note: '   ' });
    expect(blankNote.statusCode).toBe(422);
    const unknownOrder = await release('ord_does_not_exist', keys.credit);
    expect(unknownOrder.statusCode).toBe(404);
    expect(unknownOrder.headers['content-type']).toContain('application/problem+json');
    const pricingOnCredit = await release(held.id, keys.pricing, { note: 'x' }, 'pricing');
    expect(pricingOnCredit.statusCode).toBe(409);
    expect(pricingOnCredit.json()).toMatchObject({
      code: 'no_open_hold',
      state: 'on_hold',
      openHolds: ['credit'],
    });
    const accepted = await call(hub, keys.crm, 'POST', '/api/v1/orders', inPolicyOrder(hub));
    const notHeld = await release(accepted.json().orderId, keys.credit);
    expect(notHeld.statusCode).toBe(409);
    expect(notHeld.json()).toMatchObject({
      code: 'not_on_hold',
      state: 'accepted',
      links: { order: `/api/v1/orders/${accepted.json().orderId}` },
    });
    for (const r of [unknownReason, noNote, unknownOrder, pricingOnCredit, notHeld]) {
      expect(r.body).not.toMatch(/at .*\.ts:\d+/);
    }
    expect(await hub.store.getOrder(held.id)).toEqual(held);
  });

  test('a release by the credit desk decides the order again: accepted with one ERP order, the CRM and the customer told once, who and why on the order', async () => {
    const held = await creditHeld();
    await hub.sims!.erp.updateCustomer((await hub.store.getCustomer(held.customerId!))!.externalIds['erp']!, {
      creditLimit: 10_000_000,
    });
    const erpBefore = hub.sims!.erp.orderCount;
    const key = crypto.randomUUID();
    const res = await call(
      hub,
      keys.credit,
      'POST',
      `/api/v1/orders/${held.id}/holds/credit/release`,
      { note: 'limit raised to 10M by the committee' },
      { 'idempotency-key': key },
    );
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ orderId: held.id, state: 'accepted', holds: [] });
    expect(hub.sims!.erp.orderCount).toBe(erpBefore + 1);
    // The same key replays; a second release without it finds nothing to release.
    const again = await call(
      hub,
      keys.credit,
      'POST',
      `/api/v1/orders/${held.id}/holds/credit/release`,
      { note: 'limit raised to 10M by the committee' },
      { 'idempotency-key': key },
    );
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotency-replayed']).toBe('true');
    expect(again.json()).toEqual(res.json());
    expect((await release(held.id, keys.credit)).statusCode).toBe(409);
    expect(hub.sims!.erp.orderCount).toBe(erpBefore + 1);

    const order = (await call(hub, keys.credit, 'GET', `/api/v1/orders/${held.id}`)).json();
    expect(order.holds[0]).toMatchObject({
      reason: 'credit',
      resolution: { action: 'released', by: 'credit desk', note: 'limit raised to 10M by the committee' },
    });
    const timeline = (await call(hub, keys.credit, 'GET', `/api/v1/orders/${held.id}/timeline`)).json();
    expect(timeline.entries.find((e: { name: string }) => e.name === 'hold.release')).toMatchObject({
      kind: 'note',
      summary: { by: 'credit desk', reason: 'credit' },
    });
    await drained();
    await until('the CRM to show the order accepted', async () =>
      ['accepted', 'released', 'allocated'].includes(hub.sims!.crm.orderStatus(held.id)?.state ?? ''),
    );
    const notes = hub.sims!.notifications.deliveredTo(held.customerId!, held.id).map((n) => n.template);
    expect(notes.filter((t) => t === 'order-confirmation')).toHaveLength(1);
    expect(notes.filter((t) => t === 'order-on-hold')).toHaveLength(1);
  });

  test('a reject by the credit desk rejects the order and the customer hears it once', async () => {
    const held = await creditHeld();
    const res = await call(hub, keys.credit, 'POST', `/api/v1/orders/${held.id}/holds/credit/reject`, {
      note: 'in collections',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ state: 'rejected', rejection: { code: 'credit_hold_rejected' } });
    await drained();
    const notes = hub.sims!.notifications.deliveredTo(held.customerId!, held.id).map((n) => n.template);
    expect(notes.filter((t) => t === 'order-rejected')).toHaveLength(1);
    expect((await hub.store.listAudit(20)).find((a) => a.target === held.id)).toMatchObject({
      action: 'order.hold.reject',
      detail: { keyName: 'credit desk', note: 'in collections' },
    });
  });

  test('the OpenAPI document lists the hold actions with their scopes', async () => {
    const doc = (await call(hub, keys.reader, 'GET', '/openapi.json')).json();
    expect(doc.paths['/api/v1/orders/{id}/holds/{reason}/release'].post.description).toContain(
      'holds:credit',
    );
    expect(doc.paths['/api/v1/orders/{id}/holds/{reason}/reject'].post.responses).toHaveProperty('409');
  });
});
