/**
 * Holds that can be worked (issue 11, item 2), on SQLite and PostgreSQL through the workflow: a
 * release decides the order again against what is true now (credit, prices, stock), a reject ends
 * it, both record who, when and why on the hold, the timeline and the audit log with their event
 * in one commit; refusals write nothing; two processes releasing one hold release it once; a hold
 * left too long becomes one escalated exception for its owner.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  CrossdockError,
  type HoldReason,
  type OrderSubmission,
  type SalesOrder,
  timeOrderedId,
} from '../../src/domain/index.js';
import type { Store } from '../../src/ports/index.js';
import {
  agedHoldExceptionId,
  CreditExposureCache,
  defaultPolicies,
  escalateAgedHolds,
  QuoteToOrder,
} from '../../src/workflows/index.js';
import {
  inPolicySubmission,
  ManualClock,
  openWorld,
  type WorkflowBackend,
  type WorkflowWorld,
  workflowBackends,
} from './support.js';

const credit = { keyId: 'k-credit', name: 'credit desk' };
const pricing = { keyId: 'k-pricing', name: 'pricing desk' };

describe.each(workflowBackends)('holds worked by their owners on %s', (backend: WorkflowBackend) => {
  let world: WorkflowWorld;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock();
    world = await openWorld(backend, clock);
  });
  afterEach(async () => {
    await world.dispose();
  });

  function workflow(store: Store = world.store): QuoteToOrder {
    return new QuoteToOrder({
      store,
      erp: world.sims.erp,
      crm: world.sims.crm,
      clock,
      policies: { ...defaultPolicies, erpInlineBudgetMs: 5000 },
      credit: new CreditExposureCache(world.sims.erp, clock, 0),
    });
  }

  const submit = async (wf: QuoteToOrder, s: OrderSubmission) =>
    (await wf.submit({ orderId: timeOrderedId('ord'), correlationId: 'test', submission: s })).order;

  const action = (
    orderId: string,
    reason: HoldReason,
    actor = credit,
    note = 'approved by the credit committee',
  ) => ({ orderId, reason, actor, note, correlationId: 'corr-action' });

  /** An order the hub holds for credit: the near-credit customer, one large line at list price. */
  async function creditHeld(wf = workflow()): Promise<SalesOrder> {
    const c = world.sims.picks.nearCredit;
    const line = world.sims.picks.inPolicy.lines[0]!;
    const price = (await world.store.getProducts([line.sku])).get(line.sku)!.listPrice;
    const quantity = Math.max(1, Math.ceil((c.creditLimit * 0.15) / price));
    const order = await submit(
      wf,
      inPolicySubmission(world.sims, {
        customer: { id: c.id },
        shipTo: c.addresses.find((a) => a.kind === 'shipping') ?? c.addresses[0]!,
        lines: [{ sku: line.sku, quantity, unitPrice: price }],
      }),
    );
    expect(order.state).toBe('on_hold');
    expect(order.holds.map((h) => h.reason)).toEqual(['credit']);
    return order;
  }

  const eventsOf = async (orderId: string) =>
    (await world.store.readEvents({ limit: 10_000 }))
      .filter((e) => e.event.subject === orderId)
      .map((e) => e.event);

  test('a released credit hold is decided again on current credit: accepted with one ERP order, reservations, and who/when/why recorded in one commit', async () => {
    const held = await creditHeld();
    // The credit team raised the limit in the ERP while the order waited.
    const erpCustomerId = (await world.store.getCustomer(held.customerId!))!.externalIds['erp']!;
    await world.sims.erp.updateCustomer(erpCustomerId, { creditLimit: 10_000_000 });
    const erpBefore = world.sims.erp.orderCount;
    const sku = held.lines[0]!.sku;
    const reservedBefore = (await world.store.getInventory([sku])).reduce((n, p) => n + p.reserved, 0);

    const r = await workflow().releaseHold(action(held.id, 'credit'));
    expect(r.httpStatus).toBe(200);
    expect(r.order.state).toBe('accepted');
    expect(r.decision.erpOrderNumber).toMatch(/\S+/);
    expect(world.sims.erp.orderCount).toBe(erpBefore + 1);
    const stored = (await world.store.getOrder(held.id))!;
    expect(stored.state).toBe('accepted');
    expect(stored.holds[0]).toMatchObject({
      reason: 'credit',
      resolution: {
        action: 'released',
        by: 'credit desk',
        keyId: 'k-credit',
        note: 'approved by the credit committee',
      },
    });
    expect(stored.holds[0]!.resolvedAt).toBe(clock.now().toISOString());
    const reservedAfter = (await world.store.getInventory([sku])).reduce((n, p) => n + p.reserved, 0);
    expect(reservedAfter - reservedBefore).toBe(held.lines[0]!.quantity);

    const timeline = await world.store.getTimeline(held.id);
    const release = timeline.find((e) => e.name === 'hold.release')!;
    expect(release).toMatchObject({
      kind: 'note',
      outcome: 'released',
      summary: {
        reason: 'credit',
        by: 'credit desk',
        keyId: 'k-credit',
        note: 'approved by the credit committee',
      },
    });
    // The steps ran again after the release, the credit one letting the approval through.
    const after = timeline.slice(timeline.indexOf(release));
    expect(after.map((e) => e.name)).toEqual(
      expect.arrayContaining(['validate-customer', 'check-credit', 'route-fulfillment', 'create-erp-order']),
    );
    // Credit was read again: the raised limit, not the one the hold was decided on.
    expect(after.find((e) => e.name === 'check-credit')?.summary).toMatchObject({
      limit: 10_000_000,
      source: 'erp',
    });
    expect((await world.store.getJournal(held.id)).map((j) => j.step)).toEqual([
      'decide',
      'redecide',
      'create-erp-order',
    ]);
    const audit = (await world.store.listAudit(50)).find((a) => a.target === held.id)!;
    expect(audit).toMatchObject({
      actor: 'api-key:k-credit',
      action: 'order.hold.release',
      detail: { reason: 'credit', keyName: 'credit desk', outcome: 'validating', previousState: 'on_hold' },
    });
    const events = await eventsOf(held.id);
    expect(events.map((e) => e.type)).toEqual([
      'order.held.v1',
      'order.hold_released.v1',
      'order.accepted.v1',
    ]);
    expect(events[1]!.data).toMatchObject({
      reason: 'credit',
      owner: 'credit',
      by: 'credit desk',
      holds: [],
    });
  });

  test('a credit approval lets the hub through over the limit, and the ERP still has its say: refused at confirmation, the order is held again with its message and nothing stays reserved', async () => {
    const held = await creditHeld();
    const sku = held.lines[0]!.sku;
    const reservedBefore = (await world.store.getInventory([sku])).reduce((n, p) => n + p.reserved, 0);
    const r = await workflow().releaseHold(action(held.id, 'credit'));
    expect(r.order.state).toBe('on_hold');
    const timeline = await world.store.getTimeline(held.id);
    expect(timeline.find((e) => e.name === 'check-credit' && e.summary['approvedDespite'])).toBeDefined();
    expect(timeline.at(-2)).toMatchObject({ name: 'create-erp-order', outcome: 'hold' });
    const stored = (await world.store.getOrder(held.id))!;
    expect(stored.holds.map((h) => [h.reason, h.resolution?.action ?? null])).toEqual([
      ['credit', 'released'],
      ['credit', null],
    ]);
    expect(stored.holds[1]!.detail).toContain('credit limit');
    expect((await world.store.getInventory([sku])).reduce((n, p) => n + p.reserved, 0)).toBe(reservedBefore);
  });

  test('a release meets what changed meanwhile: the stock gone (backordered), or a price agreement changed (held again for pricing)', async () => {
    // Held for pricing (half the agreed price), released after the stock went to zero.
    const base = inPolicySubmission(world.sims);
    const line = base.lines[0]!;
    const cheap = await submit(workflow(), {
      ...base,
      lines: [{ ...line, unitPrice: line.unitPrice * 0.5 }],
    });
    expect(cheap.holds.map((h) => h.reason)).toEqual(['pricing']);
    const positions = await world.store.getInventory([line.sku]);
    await world.store.upsertInventoryPositions(
      positions.map((p) => ({ ...p, onHand: p.allocated + p.reserved })),
    );
    const released = await workflow().releaseHold(
      action(cheap.id, 'pricing', pricing, 'price honoured once'),
    );
    expect(released.order.state).toBe('backordered');
    expect(released.order.lines[0]!.backorderedQuantity).toBe(line.quantity);
    expect(released.order.lines[0]!.unitPrice).toBe(line.unitPrice * 0.5);

    // Held for credit, and while it waited the contract price was withdrawn: released into a pricing hold.
    const held = await creditHeld();
    const agreements = await world.store.getPriceAgreements(
      held.customerId!,
      [held.lines[0]!.sku],
      clock.now().toISOString().slice(0, 10),
    );
    const product = (await world.store.getProducts([held.lines[0]!.sku])).get(held.lines[0]!.sku)!;
    expect(agreements).toEqual([]);
    await world.store.upsertProducts([{ ...product, listPrice: product.listPrice * 2 }]);
    const r = await workflow().releaseHold(action(held.id, 'credit'));
    expect(r.httpStatus).toBe(200);
    expect(r.order.state).toBe('on_hold');
    expect(r.decision.holds.map((h) => h.reason)).toEqual(['pricing']);
    const stored = (await world.store.getOrder(held.id))!;
    expect(stored.holds.map((h) => [h.reason, h.resolution?.action ?? null])).toEqual([
      ['credit', 'released'],
      ['pricing', null],
    ]);
    expect((await eventsOf(held.id)).map((e) => e.type)).toEqual([
      'order.held.v1',
      'order.hold_released.v1',
      'order.held.v1',
    ]);
    // The pricing desk releases in turn; the credit approval still stands.
    await world.sims.erp.updateCustomer(
      (await world.store.getCustomer(held.customerId!))!.externalIds['erp']!,
      {
        creditLimit: 10_000_000,
      },
    );
    const done = await workflow().releaseHold(action(held.id, 'pricing', pricing, 'new list price accepted'));
    // Same SKU as above, whose stock is still gone.
    expect(done.order.state).toBe('backordered');
    expect(done.decision.erpOrderNumber).toMatch(/\S+/);
  });

  test('with two open holds a release keeps the order on hold until the last one is released', async () => {
    const c = world.sims.picks.nearCredit;
    const line = world.sims.picks.inPolicy.lines[0]!;
    const price = (await world.store.getProducts([line.sku])).get(line.sku)!.listPrice;
    const quantity = Math.max(1, Math.ceil((c.creditLimit * 0.15) / price));
    const held = await submit(
      workflow(),
      inPolicySubmission(world.sims, {
        customer: { id: c.id },
        shipTo: c.addresses.find((a) => a.kind === 'shipping') ?? c.addresses[0]!,
        lines: [{ sku: line.sku, quantity, unitPrice: price * 0.5 }],
      }),
    );
    expect(held.holds.map((h) => h.reason).sort()).toEqual(['credit', 'pricing']);
    const erpBefore = world.sims.erp.orderCount;
    const first = await workflow().releaseHold(action(held.id, 'pricing', pricing, 'promo price'));
    expect(first.order.state).toBe('on_hold');
    expect(first.decision.holds.map((h) => h.reason)).toEqual(['credit']);
    expect(world.sims.erp.orderCount).toBe(erpBefore);
    const events = await eventsOf(held.id);
    expect(events.at(-1)).toMatchObject({
      type: 'order.hold_released.v1',
      data: { reason: 'pricing', state: 'on_hold', holds: [expect.objectContaining({ reason: 'credit' })] },
    });
    await world.sims.erp.updateCustomer((await world.store.getCustomer(c.id))!.externalIds['erp']!, {
      creditLimit: 10_000_000,
    });
    const second = await workflow().releaseHold(action(held.id, 'credit'));
    expect(second.order.state).toBe('accepted');
    expect(world.sims.erp.orderCount).toBe(erpBefore + 1);
  });

  test('a reject ends the order: rejected with the reason and note, every open hold closed, order.rejected.v1, audit', async () => {
    const held = await creditHeld();
    const r = await workflow().rejectHold(action(held.id, 'credit', credit, 'customer in collections'));
    expect(r).toMatchObject({ httpStatus: 200, decision: { state: 'rejected', holds: [] } });
    const stored = (await world.store.getOrder(held.id))!;
    expect(stored.rejection).toEqual({
      code: 'credit_hold_rejected',
      detail: 'credit rejected the order: customer in collections',
    });
    expect(stored.customerStatus).toBe('Cancelled');
    expect(stored.holds[0]!.resolution).toMatchObject({ action: 'rejected', by: 'credit desk' });
    expect((await eventsOf(held.id)).map((e) => e.type)).toEqual(['order.held.v1', 'order.rejected.v1']);
    expect((await world.store.listAudit(10)).find((a) => a.target === held.id)).toMatchObject({
      action: 'order.hold.reject',
      detail: { reason: 'credit', note: 'customer in collections' },
    });
    expect((await world.store.getTimeline(held.id)).at(-1)).toMatchObject({
      name: 'hold.reject',
      outcome: 'rejected',
    });
  });

  test('refusals write nothing: an unknown order, an order not on hold, a reason with no open hold', async () => {
    const held = await creditHeld();
    const accepted = await submit(workflow(), inPolicySubmission(world.sims));
    const snapshot = async () => ({
      held: await world.store.getOrder(held.id),
      accepted: await world.store.getOrder(accepted.id),
      audit: (await world.store.listAudit(100)).length,
      events: (await world.store.readEvents({ limit: 10_000 })).length,
    });
    const before = await snapshot();
    const refused = async (p: Promise<unknown>) => {
      const e = await p.then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(CrossdockError);
      return e as CrossdockError;
    };
    expect((await refused(workflow().releaseHold(action('ord_nope', 'credit')))).details).toMatchObject({
      reason: 'unknown_order',
      field: 'id',
    });
    const notHeld = await refused(workflow().releaseHold(action(accepted.id, 'credit')));
    expect(notHeld).toMatchObject({
      kind: 'conflict',
      details: { reason: 'not_on_hold', state: 'accepted' },
    });
    const noHold = await refused(workflow().rejectHold(action(held.id, 'pricing', pricing)));
    expect(noHold).toMatchObject({
      kind: 'conflict',
      details: { reason: 'no_open_hold', openHolds: ['credit'] },
    });
    expect(await snapshot()).toEqual(before);
  });

  test('two processes releasing the same hold at once release it once: one ERP order, one release event, the other refused', async () => {
    const held = await creditHeld();
    await world.sims.erp.updateCustomer(
      (await world.store.getCustomer(held.customerId!))!.externalIds['erp']!,
      {
        creditLimit: 10_000_000,
      },
    );
    const erpBefore = world.sims.erp.orderCount;
    const results = await Promise.allSettled([
      workflow(world.store).releaseHold(action(held.id, 'credit')),
      workflow(world.peer).releaseHold(action(held.id, 'credit')),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toMatchObject({ kind: 'conflict', details: { reason: 'not_on_hold' } });
    expect(world.sims.erp.orderCount).toBe(erpBefore + 1);
    const events = (await eventsOf(held.id)).map((e) => e.type);
    expect(events.filter((t) => t === 'order.hold_released.v1')).toHaveLength(1);
    expect(events.filter((t) => t === 'order.accepted.v1')).toHaveLength(1);
  });

  test('a hold past its limit becomes one escalated exception for its owner, raised again at twice the limit and closed once the hold is worked', async () => {
    const held = await creditHeld();
    const id = agedHoldExceptionId(held.id, 'credit');
    const pass = () =>
      escalateAgedHolds({
        store: world.store,
        clock,
        policies: { holdAgeLimitHours: { ...defaultPolicies.holdAgeLimitHours, credit: 2 } },
      });
    clock.advance(2 * 3_600_000 - 60_000);
    expect((await pass()).escalated).toBe(0);
    expect(await world.store.getException(id)).toBeNull();
    clock.advance(120_000);
    expect((await pass()).escalated).toBe(1);
    expect((await pass()).escalated).toBe(0);
    const first = (await world.store.getException(id))!;
    expect(first).toMatchObject({
      status: 'open',
      kind: 'policy_violation',
      owner: 'credit',
      orderId: held.id,
      attempts: 1,
      lastError: { escalated: true, reason: 'credit', level: 1, limitHours: 2 },
    });
    clock.advance(2 * 3_600_000);
    expect((await pass()).escalated).toBe(1);
    expect(await world.store.getException(id)).toMatchObject({ attempts: 2, lastError: { level: 2 } });
    expect((await world.store.getTimeline(held.id)).filter((e) => e.name === 'hold.escalated')).toHaveLength(
      2,
    );
    // One exception for the order and reason, whatever the number of passes.
    expect(
      (await world.store.listExceptions({ owner: 'credit' })).filter((e) => e.orderId === held.id),
    ).toHaveLength(1);
    await workflow().rejectHold(action(held.id, 'credit', credit, 'too old'));
    expect((await pass()).closed).toBe(1);
    expect(await world.store.getException(id)).toMatchObject({ status: 'resolved' });
  });
});
