/**
 * A quote converts once (issue 11, item 9), on SQLite (a file, two connections) and PostgreSQL
 * (two pools on one schema): the same source system and quote reference posted again, in turn
 * or at once from two workflow instances standing for two processes, makes one hub order and one
 * ERP order, and every repost is answered with that order. A rejected or cancelled order frees its
 * quote. The same customer and PO number on an open order holds the new one for sales.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { loadDemoMasterData } from '../../app/master-data.js';
import { type OrderSubmission, type SalesOrder, timeOrderedId } from '../../domain/index.js';
import type { Store } from '../../ports/index.js';
import { createSimulators, type Simulators } from '../../simulators/index.js';
import { createStore } from '../../storage/index.js';
import { CreditExposureCache } from './credit-cache.js';
import { defaultPolicies, type QuoteToOrderPolicies } from './policy.js';
import { QuoteToOrder } from './workflow.js';

const pgUrl = process.env['CROSSDOCK_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const clock = { now: () => new Date() };

interface Backend {
  name: string;
  /** A store, and a second connection to the same database (another process). */
  open(): Promise<{ store: Store; peer: Store; dispose: () => Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'SQLite file',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'crossdock-dupquote-'));
      const store = await createStore({ dataDir: dir, synchronous: 'NORMAL' });
      const peer = await createStore({ dataDir: dir, synchronous: 'NORMAL' });
      return {
        store,
        peer,
        dispose: async () => {
          await peer.close();
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'PostgreSQL',
    async open() {
      const schema = `cd_dupquote_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
      const store = await createStore({ url: pgUrl, schema, poolSize: 4 });
      const peer = await createStore({ url: pgUrl, schema, poolSize: 4 });
      return {
        store,
        peer,
        dispose: async () => {
          await peer.close();
          await store.close();
          const c = new pg.Client({ connectionString: pgUrl });
          await c.connect();
          try {
            await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          } finally {
            await c.end();
          }
        },
      };
    },
  },
];

describe.each(backends)('no duplicate conversion on $name', (backend) => {
  let store: Store;
  let peer: Store;
  let dispose: () => Promise<void>;
  let sims: Simulators;
  let quoteNo = 0;

  beforeEach(async () => {
    ({ store, peer, dispose } = await backend.open());
    sims = createSimulators({ seed: 42, clock });
    await loadDemoMasterData(store, sims.data);
  });
  afterEach(async () => {
    await dispose();
  });

  function workflow(on: Store = store, policies: QuoteToOrderPolicies = defaultPolicies): QuoteToOrder {
    return new QuoteToOrder({
      store: on,
      erp: sims.erp,
      crm: sims.crm,
      clock,
      policies: { ...policies, erpInlineBudgetMs: 5000 },
      credit: new CreditExposureCache(sims.erp, clock),
    });
  }

  /** An in-policy order of a fresh quote (or of `quote`). */
  function submission(partial: Partial<OrderSubmission> = {}): OrderSubmission {
    const { customer, lines } = sims.picks.inPolicy;
    return {
      source: { system: 'crm', ref: `0Q0-${process.pid}-${++quoteNo}` },
      customer: { id: customer.id },
      shipTo: customer.addresses.find((a) => a.kind === 'shipping')!,
      shippingMethod: 'ground',
      currency: 'USD',
      lines: lines.slice(0, 1).map((l) => ({ sku: l.sku, quantity: 1, unitPrice: l.unitPrice })),
      ...partial,
    };
  }

  const submit = (wf: QuoteToOrder, s: OrderSubmission) =>
    wf.submit({ orderId: timeOrderedId('ord'), correlationId: 'test', submission: s });

  /** Every order of the in-policy customer, any state. */
  const ordersOf = async () => store.listOrders({ customerId: sims.picks.inPolicy.customer.id, limit: 1000 });

  test('a quote posted again makes no second order: the repost is answered 200 with the first order and writes nothing', async () => {
    const s = submission();
    const erpBefore = sims.erp.orderCount;
    const first = await submit(workflow(), s);
    expect(first.httpStatus).toBe(201);
    const again = await submit(workflow(), { ...s, notes: 'sent again by the CRM' });
    expect(again).toMatchObject({ httpStatus: 200, existing: true, duplicateOf: 'source' });
    expect(again.order.id).toBe(first.order.id);
    expect(again.decision).toMatchObject({ orderId: first.order.id, state: 'accepted' });
    // `quoteId` alone names the same CRM quote as `source: { system: 'crm' }`.
    const byQuoteId = await submit(workflow(), {
      ...submission({ quoteId: s.source!.ref }),
      source: undefined as never,
    });
    expect(byQuoteId.order.id).toBe(first.order.id);
    expect(sims.erp.orderCount).toBe(erpBefore + 1);
    expect((await ordersOf()).filter((o) => o.source.ref === s.source!.ref)).toHaveLength(1);
    // The repost wrote nothing: the first order's timeline is its own decision and ERP step.
    expect((await store.getTimeline(first.order.id)).map((e) => e.name)).toContain('create-erp-order');
    expect(
      (await store.getTimeline(first.order.id)).filter((e) => e.name === 'validate-customer'),
    ).toHaveLength(1);
  });

  test('twelve posts of one quote at once from two processes make one order and one ERP order; every answer names it', async () => {
    const s = submission();
    const erpBefore = sims.erp.orderCount;
    const a = workflow(store);
    const b = workflow(peer);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => submit(i % 2 === 0 ? a : b, s)));
    const ids = new Set(results.map((r) => r.order.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => !r.duplicateOf)).toHaveLength(1);
    expect(sims.erp.orderCount).toBe(erpBefore + 1);
    expect((await ordersOf()).filter((o) => o.source.ref === s.source!.ref).map((o) => o.id)).toEqual([
      ...ids,
    ]);
  });

  test('a repost decided otherwise than its original (the customer blocked since) is still answered with the live order: no rejected order, no event', async () => {
    const s = submission();
    const first = await submit(workflow(), s);
    expect(first.order.state).toBe('accepted');
    const customer = (await store.getCustomer(sims.picks.inPolicy.customer.id))!;
    await store.upsertCustomers([{ ...customer, status: 'blocked' }]);
    const eventsBefore = (await store.readEvents({ limit: 10_000 })).length;
    const again = await submit(workflow(), s);
    expect(again).toMatchObject({ httpStatus: 200, duplicateOf: 'source' });
    expect(again.order.id).toBe(first.order.id);
    expect(again.order.state).toBe('accepted');
    expect((await store.readEvents({ limit: 10_000 })).length).toBe(eventsBefore);
    expect((await ordersOf()).filter((o) => o.source.ref === s.source!.ref)).toHaveLength(1);
  });

  test('a held order is the answer to a repost; a rejected or cancelled one frees the quote for a new decision', async () => {
    const blocked = sims.picks.blocked;
    const held = submission({
      lines: [{ ...submission().lines[0]!, unitPrice: submission().lines[0]!.unitPrice * 0.5 }],
    });
    const h1 = await submit(workflow(), held);
    expect(h1.order.state).toBe('on_hold');
    const h2 = await submit(workflow(), held);
    expect(h2).toMatchObject({ duplicateOf: 'source', httpStatus: 200 });
    expect(h2.order.id).toBe(h1.order.id);

    const rejected = submission({ customer: { id: blocked.id } });
    const r1 = await submit(workflow(), rejected);
    expect(r1.order.state).toBe('rejected');
    const r2 = await submit(workflow(), rejected);
    expect(r2.duplicateOf).toBeUndefined();
    expect(r2.order.id).not.toBe(r1.order.id);

    const cancelled = submission();
    const c1 = await submit(workflow(), cancelled);
    const o = (await store.getOrder(c1.order.id))!;
    await store.commit({
      order: { next: { ...o, version: o.version + 1, state: 'cancelled' }, expectedVersion: o.version },
    });
    const c2 = await submit(workflow(), cancelled);
    expect(c2.duplicateOf).toBeUndefined();
    expect(c2.order.id).not.toBe(c1.order.id);
    expect(c2.order.state).toBe('accepted');
  });

  test('the same customer and PO number on an open order puts the new order on a duplicate_po hold for sales; closed orders, other customers and an allowing segment do not', async () => {
    const po = `PO-${process.pid}-${++quoteNo}`;
    const first = await submit(workflow(), submission({ poNumber: po }));
    expect(first.order.state).toBe('accepted');
    const erpBefore = sims.erp.orderCount;
    const second = await submit(workflow(), submission({ poNumber: po }));
    expect(second.order.state).toBe('on_hold');
    expect(second.httpStatus).toBe(200);
    const holds = second.order.holds.filter((h) => h.reason === 'duplicate_po');
    expect(holds).toHaveLength(1);
    expect(holds[0]).toMatchObject({ owner: 'sales', data: { poNumber: po } });
    expect(holds[0]!.detail).toContain(first.order.id);
    expect(sims.erp.orderCount).toBe(erpBefore);
    const step = (await store.getTimeline(second.order.id)).find((e) => e.name === 'check-duplicate-po');
    expect(step).toMatchObject({ outcome: 'hold', summary: { orders: [first.order.id] } });

    // Another customer with the same PO number is no duplicate.
    const other = sims.picks.validExemption;
    const otherSub = submission({
      poNumber: po,
      customer: { id: other.id },
      shipTo: other.addresses.find((a) => a.kind === 'shipping') ?? other.addresses[0]!,
    });
    const third = await submit(workflow(), otherSub);
    expect(third.order.holds.map((h) => h.reason)).not.toContain('duplicate_po');

    // Once the open orders are closed (cancelled, rejected), the PO is free again.
    for (const id of [first.order.id, second.order.id]) {
      const o = (await store.getOrder(id)) as SalesOrder;
      await store.commit({
        order: { next: { ...o, version: o.version + 1, state: 'cancelled' }, expectedVersion: o.version },
      });
    }
    const fourth = await submit(workflow(), submission({ poNumber: po }));
    expect(fourth.order.state).toBe('accepted');

    // A segment whose policy allows repeated PO numbers lets the next one through.
    const segment = sims.picks.inPolicy.customer.segment;
    const allowing = {
      ...defaultPolicies,
      segments: {
        ...defaultPolicies.segments,
        [segment]: { ...defaultPolicies.segments[segment], duplicatePo: 'allow' as const },
      },
    };
    const fifth = await submit(workflow(store, allowing), submission({ poNumber: po }));
    expect(fifth.order.state).toBe('accepted');
    expect(
      (await store.getTimeline(fifth.order.id)).find((e) => e.name === 'check-duplicate-po'),
    ).toMatchObject({
      outcome: 'passed',
      summary: { checked: false, because: 'policy' },
    });
  });
});
