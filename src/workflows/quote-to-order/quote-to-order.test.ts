/**
 * The quote-to-order steps, each exercised through the workflow against a real (in-memory
 * SQLite) store and the seeded simulators: the outcome, the hold reason and owner, and the
 * step that decided are asserted from what was committed, not from return values alone.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { loadDemoMasterData } from '../../app/master-data.js';
import { CrossdockError, type OrderSubmission, timeOrderedId } from '../../domain/index.js';
import type { Clock, ErpPort, Store } from '../../ports/index.js';
import { createSimulators, type Simulators } from '../../simulators/index.js';
import { createStore } from '../../storage/index.js';
import { CreditExposureCache } from './credit-cache.js';
import { defaultPolicies, QuoteToOrderPolicies } from './policy.js';
import { QuoteToOrder } from './workflow.js';

const clock = { now: () => new Date() };
let store: Store;
let sims: Simulators;

/** The workflow over the shared store and simulators; tests may swap the clock or the ERP. */
function workflow(policies = defaultPolicies, over: { clock?: Clock; erp?: ErpPort } = {}): QuoteToOrder {
  const c = over.clock ?? clock;
  return new QuoteToOrder({
    store,
    erp: over.erp ?? sims.erp,
    crm: sims.crm,
    clock: c,
    policies: { ...policies, erpInlineBudgetMs: 2000 },
    credit: new CreditExposureCache(sims.erp, c),
  });
}

function order(partial: Partial<OrderSubmission> = {}): OrderSubmission {
  const { customer, lines } = sims.picks.inPolicy;
  return {
    customer: { id: customer.id },
    shipTo: customer.addresses.find((a) => a.kind === 'shipping')!,
    shippingMethod: 'ground',
    currency: 'USD',
    lines: lines.slice(0, 2).map((l) => ({ sku: l.sku, quantity: 1, unitPrice: l.unitPrice })),
    ...partial,
  };
}

async function submit(wf: QuoteToOrder, s: OrderSubmission) {
  const r = await wf.submit({ orderId: timeOrderedId('ord'), correlationId: 'test', submission: s });
  const timeline = await store.getTimeline(r.order.id);
  return { ...r, timeline, step: (name: string) => timeline.find((e) => e.name === name) };
}

async function listPrice(sku: string): Promise<number> {
  return (await store.getProducts([sku])).get(sku)!.listPrice;
}

beforeEach(async () => {
  store = await createStore({ url: ':memory:' });
  sims = createSimulators({ seed: 42, clock });
  await loadDemoMasterData(store, sims.data);
});
afterEach(async () => {
  await store.close();
});

describe('customer validation', () => {
  test('an unknown CRM account is created as a new-business customer when policy allows, and the order goes on', async () => {
    const account = sims.crm.createAccount({
      name: 'Brand New Hardware LLC',
      addresses: [
        {
          kind: 'billing',
          line1: '1 Main St',
          city: 'Austin',
          region: 'TX',
          postalCode: '73301',
          country: 'US',
        },
      ],
      active: true,
    });
    const r = await submit(workflow(), order({ customer: { system: 'crm', externalId: account.crmId } }));
    expect(r.step('validate-customer')?.summary['resolvedBy']).toBe('created from CRM account');
    expect(r.order.customerId).toBe(`cus_crm_${account.crmId}`);
    expect((await store.findCustomerByExternalId('crm', account.crmId))?.segment).toBe('new_business');
  });

  test('an unknown CRM account is held for master data when policy says hold', async () => {
    const policies = QuoteToOrderPolicies.parse({
      ...defaultPolicies,
      default: { ...defaultPolicies.default, unknownAccount: 'hold' },
    });
    const r = await submit(
      workflow(policies),
      order({ customer: { system: 'crm', externalId: '001XX000003NOSUCH' } }),
    );
    expect(r.order.state).toBe('on_hold');
    expect(r.order.holds[0]).toMatchObject({ reason: 'customer_data', owner: 'master_data' });
    expect(await store.getCustomer(`cus_crm_001XX000003NOSUCH`)).toBeNull();
  });

  test('an inactive customer is held and a blocked customer is rejected, neither reaching the ERP', async () => {
    const erpBefore = sims.erp.orderCount;
    const inactive = await submit(workflow(), order({ customer: { id: sims.picks.inactive.id } }));
    expect(inactive.order.state).toBe('on_hold');
    expect(inactive.order.holds.map((h) => h.reason)).toContain('customer_data');
    const blocked = await submit(workflow(), order({ customer: { id: sims.picks.blocked.id } }));
    expect(blocked.order.state).toBe('rejected');
    expect(blocked.order.rejection?.code).toBe('customer_blocked');
    expect(sims.erp.orderCount).toBe(erpBefore);
  });
});

describe('contract pricing', () => {
  test('a price within the agreement tolerance passes, and one outside it is held for pricing with the line named', async () => {
    const ok = await submit(workflow(), order());
    expect(ok.step('confirm-pricing')?.outcome).toBe('passed');
    const line = sims.picks.inPolicy.lines[0]!;
    const off = await submit(
      workflow(),
      order({ lines: [{ sku: line.sku, quantity: 1, unitPrice: line.unitPrice * 0.8 }] }),
    );
    expect(off.order.state).toBe('on_hold');
    expect(off.order.holds[0]).toMatchObject({ reason: 'pricing', owner: 'pricing' });
    expect(off.order.holds[0]!.detail).toContain(line.sku);
  });

  test('an expired agreement is not honoured: its price is judged against the list price', async () => {
    const a = sims.picks.expiredAgreement;
    const customer = (await store.getCustomer(a.customerId))!;
    const list = await listPrice(a.sku);
    const r = await submit(
      workflow(),
      order({
        customer: { id: customer.id },
        shipTo: customer.addresses.find((x) => x.kind === 'shipping')!,
        lines: [{ sku: a.sku, quantity: 1, unitPrice: list }],
      }),
    );
    expect(r.step('confirm-pricing')?.outcome).toBe('passed');
    expect(r.order.lines[0]!.agreedPrice).toBe(list);
  });
});

describe('inventory availability and routing', () => {
  test('an order one warehouse can fill ships from that warehouse, with the rationale recorded', async () => {
    const r = await submit(workflow(), order());
    expect(r.order.fulfillmentPlan?.strategy).toBe('single_warehouse');
    expect(r.order.fulfillmentPlan?.rationale).toMatch(/fills all/);
    const wh = new Set(r.order.lines.flatMap((l) => l.allocations.map((a) => a.warehouseId)));
    expect(wh.size).toBe(1);
  });

  test('an out-of-stock line is backordered with a promise date from the inbound receipt under allow_backorder', async () => {
    const oos = sims.picks.outOfStock;
    const policies = QuoteToOrderPolicies.parse({
      ...defaultPolicies,
      segments: {},
      default: { ...defaultPolicies.default, inventory: 'allow_backorder' },
    });
    const r = await submit(
      workflow(policies),
      order({ lines: [{ sku: oos.sku, quantity: 2, unitPrice: await listPrice(oos.sku) }] }),
    );
    expect(r.order.state).toBe('backordered');
    expect(r.order.customerStatus).toBe('Backordered');
    expect(r.order.lines[0]!.backorderedQuantity).toBe(2);
    expect(r.order.lines[0]!.promiseDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  test('the same shortage is held for inventory under ship_complete and rejected under reject', async () => {
    const oos = sims.picks.outOfStock;
    const lines = [{ sku: oos.sku, quantity: 2, unitPrice: await listPrice(oos.sku) }];
    const under = (inventory: string) =>
      QuoteToOrderPolicies.parse({
        ...defaultPolicies,
        segments: {},
        default: { ...defaultPolicies.default, inventory },
      });
    const held = await submit(workflow(under('ship_complete')), order({ lines }));
    expect(held.order.holds.map((h) => h.reason)).toEqual(['inventory']);
    const rejected = await submit(workflow(under('reject')), order({ lines }));
    expect(rejected.order.state).toBe('rejected');
    expect(rejected.order.rejection?.code).toBe('insufficient_inventory');
  });

  test('a soft reservation is taken for accepted lines, so availability drops by the ordered quantity', async () => {
    const line = sims.picks.inPolicy.lines[0]!;
    const reserved = async () => (await store.getInventory([line.sku])).reduce((s, p) => s + p.reserved, 0);
    const available = async () => (await store.getInventory([line.sku])).reduce((s, p) => s + p.available, 0);
    const [r0, a0] = [await reserved(), await available()];
    const r = await submit(
      workflow(),
      order({ lines: [{ sku: line.sku, quantity: 3, unitPrice: line.unitPrice }] }),
    );
    expect(r.order.state).toBe('accepted');
    expect(await reserved()).toBe(r0 + 3);
    expect(await available()).toBe(a0 - 3);
  });
});

describe('credit', () => {
  test("an over-credit customer's order is held for credit with exposure and limit in the detail", async () => {
    const c = sims.picks.overCredit;
    const line = sims.picks.inPolicy.lines[0]!;
    const r = await submit(
      workflow(),
      order({
        customer: { id: c.id },
        shipTo: c.addresses.find((a) => a.kind === 'shipping')!,
        lines: [{ sku: line.sku, quantity: 40, unitPrice: await listPrice(line.sku) }],
      }),
    );
    expect(r.order.state).toBe('on_hold');
    const hold = r.order.holds.find((h) => h.reason === 'credit');
    expect(hold).toMatchObject({ owner: 'credit' });
    expect(hold!.detail).toMatch(/exceeds the credit limit/);
    expect(r.order.externalIds['erp']).toBeUndefined();
  });

  test('when the ERP refuses at confirmation, the order is held for credit with the ERP message and its reservations are given back', async () => {
    const c = sims.picks.nearCredit;
    const erpId = c.externalIds['erp']!;
    const line = sims.picks.inPolicy.lines[0]!;
    const wf = workflow();
    // Warm the exposure cache, then let the ERP's limit drop behind the hub's back.
    await submit(
      wf,
      order({
        customer: { id: c.id },
        shipTo: c.addresses.find((a) => a.kind === 'shipping')!,
        lines: [{ sku: line.sku, quantity: 1, unitPrice: await listPrice(line.sku) }],
      }),
    );
    sims.erp.setCreditLimit(erpId, 1);
    const before = await store.getInventory([line.sku]);
    const r = await submit(
      wf,
      order({
        customer: { id: c.id },
        shipTo: c.addresses.find((a) => a.kind === 'shipping')!,
        lines: [{ sku: line.sku, quantity: 1, unitPrice: await listPrice(line.sku) }],
      }),
    );
    expect(r.order.state).toBe('on_hold');
    expect(r.order.holds.find((h) => h.reason === 'credit')?.detail).toMatch(/credit limit/);
    expect(r.step('release-reservations')?.outcome).toBe('passed');
    const after = await store.getInventory([line.sku]);
    expect(after.map((p) => p.reserved)).toEqual(before.map((p) => p.reserved));
    const journal = await store.getJournal(r.order.id);
    expect(journal.map((j) => `${j.step}:${j.status}`)).toEqual([
      'decide:completed',
      'create-erp-order:failed',
      'release-reservations:compensated',
    ]);
  });
});

describe('tax and shipping rules', () => {
  test('a tax-exempt customer whose certificate expired is held for tax', async () => {
    const c = sims.picks.expiredExemption;
    const line = sims.picks.inPolicy.lines[0]!;
    const r = await submit(
      workflow(),
      order({
        customer: { id: c.id },
        shipTo: c.addresses.find((a) => a.kind === 'shipping')!,
        lines: [{ sku: line.sku, quantity: 1, unitPrice: await listPrice(line.sku) }],
      }),
    );
    expect(r.order.holds.map((h) => h.reason)).toContain('tax');
    expect(r.order.holds.find((h) => h.reason === 'tax')!.detail).toMatch(/expired|no tax exemption/);
  });

  test('hazardous goods by air are held for a shipping rule, and an embargoed destination is rejected', async () => {
    const hz = sims.picks.hazmat;
    const air = await submit(
      workflow(),
      order({
        shippingMethod: 'air',
        lines: [{ sku: hz.sku, quantity: 1, unitPrice: await listPrice(hz.sku) }],
      }),
    );
    expect(air.order.holds.map((h) => h.reason)).toContain('shipping_rule');
    const shipTo = { ...order().shipTo, country: 'KP', region: '' };
    const embargo = await submit(workflow(), order({ shipTo }));
    expect(embargo.order.state).toBe('rejected');
    expect(embargo.order.rejection?.code).toBe('embargoed_destination');
  });
});

describe('ERP order creation', () => {
  test('the ERP order is created once per hub order, even when the ERP step runs again after the decision', async () => {
    const wf = workflow();
    const r = await submit(wf, order());
    expect(r.order.state).toBe('accepted');
    const erpOrderId = r.order.externalIds['erpOrderId']!;
    expect(sims.erp.orderByIdempotencyKey(r.order.id)?.erpOrderId).toBe(erpOrderId);
    const again = await sims.erp.createSalesOrder({
      idempotencyKey: r.order.id,
      hubOrderId: r.order.id,
      erpCustomerId: sims.picks.inPolicy.customer.externalIds['erp']!,
      currency: 'USD',
      shipTo: r.order.shipTo,
      lines: [{ sku: r.order.lines[0]!.sku, quantity: 1, unitPrice: 1 }],
    });
    expect(again).toMatchObject({ erpOrderId, created: false });
  });

  test('input the catalogue refuses (unknown SKU, fractional eaches, duplicate lines) raises data_quality naming every line and writes nothing', async () => {
    const line = sims.picks.inPolicy.lines[0]!;
    const wf = workflow();
    const err = await wf
      .submit({
        orderId: 'ord_bad',
        correlationId: 't',
        submission: order({
          lines: [
            { sku: 'NOPE', quantity: 1, unitPrice: 1 },
            { ...line, quantity: 1 },
            { ...line, quantity: 2 },
          ],
        }),
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrossdockError);
    expect((err as CrossdockError).details['fields']).toEqual([
      { field: 'lines[0].sku', message: 'unknown SKU NOPE' },
      expect.objectContaining({ field: 'lines[2].sku' }),
    ]);
    expect(await store.getOrder('ord_bad')).toBeNull();
  });
});

describe('Idempotency-Key records', () => {
  const idem = { scope: 'client-a', key: 'k-1', requestHash: 'h-1' };

  test('the decision commits a provisional 202 for the key and the ERP step replaces it with the final answer', async () => {
    const wf = workflow();
    const r = await wf.submit({
      orderId: timeOrderedId('ord'),
      correlationId: 't',
      submission: order(),
      idempotency: idem,
    });
    expect(r.httpStatus).toBe(201);
    const record = await store.getIdempotency(idem.scope, idem.key);
    expect(record).toMatchObject({ requestHash: 'h-1', responseStatus: 201 });
    expect(record?.responseBody).toMatchObject({ orderId: r.order.id, state: 'accepted' });
    // The journal shows the two commits: the decision (with the provisional record) and the ERP step.
    const journal = await store.getJournal(r.order.id);
    expect(journal.map((j) => j.step)).toEqual(['decide', 'create-erp-order']);
  });

  test('two processes racing one key: one order and one ERP order; the other gets the conflict naming the key and writes nothing', async () => {
    // Two workflow instances stand for two processes: no shared in-flight map, one store.
    const a = workflow();
    const b = workflow();
    const erpBefore = sims.erp.orderCount;
    const ids = [timeOrderedId('ord'), timeOrderedId('ord')];
    const results = await Promise.allSettled(
      [a, b].map((wf, i) =>
        wf.submit({ orderId: ids[i]!, correlationId: 't', submission: order(), idempotency: idem }),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const err = (lost[0] as PromiseRejectedResult).reason as CrossdockError;
    expect(err.kind).toBe('conflict');
    expect(err.details['key']).toBe(idem.key);
    const winner = (won[0] as PromiseFulfilledResult<{ order: { id: string } }>).value.order.id;
    const loser = ids.find((id) => id !== winner)!;
    expect(await store.getOrder(loser)).toBeNull();
    expect(await store.getTimeline(loser)).toEqual([]);
    expect(sims.erp.orderCount).toBe(erpBefore + 1);
    expect((await store.getIdempotency(idem.scope, idem.key))?.responseBody).toMatchObject({
      orderId: winner,
    });
  });
});

describe('resuming ERP steps that did not finish', () => {
  test('after an outage longer than the backoff, every order backed off completes within 15 s of clock time of the ERP coming back', async () => {
    let t = Date.now();
    const manual = { now: () => new Date(t) };
    let erpDown = true;
    // The ERP refuses sales orders (an outage of that endpoint) while the rest of it answers.
    const erp = new Proxy(sims.erp, {
      get(target, prop, receiver) {
        if (prop === 'createSalesOrder' && erpDown) {
          return async () => {
            throw CrossdockError.downstreamOutage('ERP sales orders unavailable', {
              details: { system: 'erp' },
            });
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const wf = workflow(defaultPolicies, { clock: manual, erp });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await wf.submit({ orderId: timeOrderedId('ord'), correlationId: 't', submission: order() });
      expect(r.httpStatus).toBe(202);
      ids.push(r.order.id);
    }
    // Two minutes of outage with a resume pass every 2 s: the backoff of each order keeps growing.
    for (let i = 0; i < 60; i++) {
      t += 2000;
      await wf.resumePending();
    }
    erpDown = false;
    for (let i = 0; i < 8; i++) {
      t += 2000;
      await wf.resumePending();
    }
    for (const id of ids) expect((await store.getOrder(id))?.state).toBe('accepted');
  });

  test('a resume pass leaves alone an order decided less than the inline budget ago, and walks past a full page', async () => {
    let t = Date.now();
    const manual = { now: () => new Date(t) };
    const wf = workflow(defaultPolicies, { clock: manual });
    // Three decisions committed without their ERP step (as if their requests were still running).
    const stuck: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await wf.submit({ orderId: timeOrderedId('ord'), correlationId: 't', submission: order() });
      const o = (await store.getOrder(r.order.id))!;
      const validating = {
        ...o,
        version: o.version + 1,
        state: 'validating' as const,
        updatedAt: manual.now().toISOString(),
      };
      await store.commit({ order: { next: validating, expectedVersion: o.version } });
      stuck.push(o.id);
    }
    expect(await wf.resumePending(2)).toBe(0);
    t += 2001;
    // A page size of 2 over 3 orders: the pass must go on to the second page.
    expect(await wf.resumePending(2)).toBe(3);
    for (const id of stuck) expect((await store.getOrder(id))?.state).toBe('accepted');
  });
});
