/**
 * Cancellation (issue 11, item 3) through the workflow, on SQLite and PostgreSQL: until shipment
 * the whole order (the ERP order cancelled first, then reservations and credit given back, the
 * timeline, journal, audit row and one `order.cancelled.v1` in one commit); after a partial
 * shipment its unshipped remainder; typed refusals that change nothing (shipped, still being
 * decided, refused by the ERP); the CRM's cancellation requests carried out behind, or left for
 * customer service when they cannot be.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  CrossdockError,
  type InboundEvent,
  type OrderSubmission,
  type SalesOrder,
  timeOrderedId,
} from '../../src/domain/index.js';
import type { Store } from '../../src/ports/index.js';
import { commitReport, fromWmsMilestone } from '../../src/workflows/fulfillment/index.js';
import { CreditExposureCache, defaultPolicies, QuoteToOrder } from '../../src/workflows/index.js';
import { cancelRequestId, recordCancelRequest } from '../../src/workflows/quote-to-order/cancel-requests.js';
import { priceFor, splitPick, warehouseOf } from '../fulfillment/support.js';
import {
  inPolicySubmission,
  ManualClock,
  openWorld,
  type WorkflowBackend,
  type WorkflowWorld,
  workflowBackends,
} from './support.js';

const crm = { keyId: 'k-crm', name: 'crm-app' };

describe.each(workflowBackends)('cancellation on %s', (backend: WorkflowBackend) => {
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

  const submit = async (s: OrderSubmission) =>
    (await workflow().submit({ orderId: timeOrderedId('ord'), correlationId: 'test', submission: s })).order;

  const cancel = (orderId: string, extra: Record<string, unknown> = {}) =>
    workflow().cancelOrder({
      orderId,
      actor: crm,
      note: 'customer changed their mind',
      reason: 'customer_request',
      correlationId: 'corr-cancel',
      ...extra,
    });

  const reserved = async (sku: string) =>
    (await world.store.getInventory([sku])).reduce((n, p) => n + p.reserved, 0);
  const eventsOf = async (orderId: string) =>
    (await world.store.readEvents({ limit: 10_000 }))
      .filter((e) => e.event.subject === orderId)
      .map((e) => e.event);
  const erpCustomerId = async (customerId: string) =>
    (await world.store.getCustomer(customerId))!.externalIds['erp']!;

  async function refused(p: Promise<unknown>): Promise<CrossdockError> {
    const e = await p.then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(CrossdockError);
    return e as CrossdockError;
  }

  /** A warehouse ships one warehouse's part of the order (as the WMS feed would report it). */
  async function shipFrom(order: SalesOrder, warehouseId: string): Promise<SalesOrder> {
    const lines = order.lines.flatMap((l) =>
      l.allocations
        .filter((a) => a.warehouseId === warehouseId)
        .map((a) => ({ sku: l.sku, quantity: a.quantity })),
    );
    let current = order;
    for (const type of ['allocated', 'shipped'] as const) {
      const report = fromWmsMilestone('wms-sim', {
        id: `${order.id}-${warehouseId}-${type}`,
        deliveryId: `${order.id}-${warehouseId}-${type}`,
        hubOrderId: order.id,
        shipmentId: `WO-${order.id}-${warehouseId}`,
        warehouseId,
        type,
        at: clock.now().toISOString(),
        lines,
      });
      const r = await commitReport({ store: world.store, clock, eventSource: '/test' }, report, {
        order: current,
        inbound: { source: 'wms-sim', id: report.deliveryId },
      });
      if (r.outcome === 'applied' || r.outcome === 'recorded') current = r.order;
    }
    return current;
  }

  test('an accepted order is cancelled: ERP order cancelled first, reservations and exposure given back, one order.cancelled.v1, who and why recorded', async () => {
    const s = inPolicySubmission(world.sims);
    const sku = s.lines[0]!.sku;
    const reservedBefore = await reserved(sku);
    const exposureBefore = (await world.sims.erp.getCreditExposure(await erpCustomerId(s.customer.id!)))
      .exposure;
    const order = await submit(s);
    expect(order.state).toBe('accepted');
    expect(await reserved(sku)).toBe(reservedBefore + 1);

    const r = await cancel(order.id);
    expect(r).toMatchObject({
      httpStatus: 200,
      decision: { state: 'cancelled', customerStatus: 'Cancelled' },
    });
    expect((await world.sims.erp.getSalesOrder(order.externalIds['erpOrderId']!)).state).toBe('cancelled');
    expect(await reserved(sku)).toBe(reservedBefore);
    expect(
      (await world.sims.erp.getCreditExposure(await erpCustomerId(s.customer.id!))).exposure,
    ).toBeCloseTo(exposureBefore, 4);
    const stored = (await world.store.getOrder(order.id))!;
    expect(stored.lines.map((l) => l.cancelledQuantity)).toEqual([1]);
    const cancelled = (await eventsOf(order.id)).filter((e) => e.type === 'order.cancelled.v1');
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0]!.data).toMatchObject({
      state: 'cancelled',
      reason: 'customer_request',
      by: 'crm-app',
      note: 'customer changed their mind',
      lines: [{ sku, quantity: 1 }],
    });
    expect(cancelled[0]!.data['partial']).toBeUndefined();
    const timeline = await world.store.getTimeline(order.id);
    expect(timeline.slice(-3).map((e) => [e.name, e.outcome])).toEqual([
      ['order.cancel', 'cancelled'],
      ['cancel-erp-order', 'cancelled'],
      ['release-reservations', 'passed'],
    ]);
    expect((await world.store.getJournal(order.id)).slice(-2).map((j) => [j.step, j.status])).toEqual([
      ['cancel-erp-order', 'compensated'],
      ['release-reservations', 'compensated'],
    ]);
    expect((await world.store.listAudit(10)).find((a) => a.target === order.id)).toMatchObject({
      actor: 'api-key:k-crm',
      action: 'order.cancel',
      detail: { reason: 'customer_request', scope: 'order', outcome: 'cancelled', erp: 'cancelled' },
    });
    // A repeat answers the cancelled order and writes nothing.
    const again = await cancel(order.id);
    expect(again.decision.state).toBe('cancelled');
    expect((await eventsOf(order.id)).filter((e) => e.type === 'order.cancelled.v1')).toHaveLength(1);
    expect(await reserved(sku)).toBe(reservedBefore);
  });

  test('after a partial shipment the unshipped remainder is cancelled: the order counts as shipped, the ERP keeps what shipped', async () => {
    // Two SKUs no warehouse stocks both of: a split order.
    const { a, b } = splitPick(world.sims.data);
    const customerId = world.sims.picks.inPolicy.customer.id;
    const s = inPolicySubmission(world.sims, {
      lines: [
        { sku: a.sku, quantity: 1, unitPrice: await priceFor(world.store, customerId, a.sku) },
        { sku: b.sku, quantity: 2, unitPrice: await priceFor(world.store, customerId, b.sku) },
      ],
    });
    let order = await submit(s);
    const single = { product: { sku: a.sku }, warehouseId: warehouseOf(order, a.sku) };
    expect(['accepted', 'backordered']).toContain(order.state);
    const warehouses = [...new Set(order.lines.flatMap((l) => l.allocations.map((a) => a.warehouseId)))];
    expect(warehouses.length).toBe(2);
    order = await shipFrom(order, single.warehouseId);
    expect(order.state).toBe('partially_shipped');
    const otherSku = order.lines.find((l) =>
      l.allocations.every((a) => a.warehouseId !== single.warehouseId),
    )!.sku;
    const reservedBefore = await reserved(otherSku);

    const r = await cancel(order.id);
    expect(r.decision.state).toBe('shipped');
    const stored = (await world.store.getOrder(order.id))!;
    expect(stored.lines.find((l) => l.sku === otherSku)?.cancelledQuantity).toBe(2);
    expect(stored.customerStatus).toBe('Shipped');
    expect(stored.lines.find((l) => l.sku === single.product.sku)?.cancelledQuantity).toBeUndefined();
    expect(await reserved(otherSku)).toBe(reservedBefore - 2);
    const event = (await eventsOf(order.id)).find((e) => e.type === 'order.cancelled.v1')!;
    expect(event.data).toMatchObject({
      partial: true,
      state: 'shipped',
      lines: [{ sku: otherSku, quantity: 2 }],
    });
    const erp = await world.sims.erp.getSalesOrder(order.externalIds['erpOrderId']!);
    expect(erp.state).not.toBe('cancelled');
    // Nothing is left: a second cancel is the typed "shipped" refusal.
    expect((await refused(cancel(order.id))).details).toMatchObject({ reason: 'shipped', state: 'shipped' });
  });

  test('refusals change nothing: shipped in full, still being decided, refused by the ERP (invoiced)', async () => {
    const order = await submit(inPolicySubmission(world.sims));
    const wh = order.lines[0]!.allocations[0]!.warehouseId;
    const shipped = await shipFrom(order, wh);
    expect(shipped.state).toBe('shipped');
    const before = await world.store.getOrder(order.id);
    expect((await refused(cancel(order.id))).details).toMatchObject({ reason: 'shipped' });
    expect(await world.store.getOrder(order.id)).toEqual(before);

    // The ERP invoiced the order: it refuses, and the hub keeps the order as it was.
    const invoiced = await submit(inPolicySubmission(world.sims));
    world.sims.erp.invoiceOrder(invoiced.externalIds['erpOrderId']!);
    const beforeInvoiced = await world.store.getOrder(invoiced.id);
    const e = await refused(cancel(invoiced.id));
    expect(e).toMatchObject({
      kind: 'conflict',
      details: { reason: 'erp_refused', erp: { reason: 'invoiced' } },
    });
    expect(await world.store.getOrder(invoiced.id)).toEqual(beforeInvoiced);

    // Still being decided (the ERP step has not finished): retryable.
    const pending = { ...(await world.store.getOrder(invoiced.id))! };
    const validating = {
      ...pending,
      id: timeOrderedId('ord'),
      source: { system: 'crm' as const, ref: `v-${Date.now()}` },
      state: 'validating' as const,
      version: 1,
    };
    await world.store.commit({ order: { next: validating, expectedVersion: null } });
    const p = await refused(cancel(validating.id));
    expect(p).toMatchObject({ kind: 'transient', retryable: true, details: { reason: 'order_pending' } });
  });

  test('a held order is cancelled over its hold by the hold owner; an ERP quotation left by a refused confirmation goes with it', async () => {
    // Held by the hub (never reached the ERP).
    const line = world.sims.picks.inPolicy.lines[0]!;
    const held = await submit(
      inPolicySubmission(world.sims, { lines: [{ ...line, quantity: 1, unitPrice: line.unitPrice * 0.5 }] }),
    );
    expect(held.holds.map((h) => h.reason)).toEqual(['pricing']);
    const erpOrders = world.sims.erp.orderCount;
    const r = await cancel(held.id, {
      holdReason: 'pricing',
      actor: { keyId: 'k-pricing', name: 'pricing desk' },
    });
    expect(r.decision.state).toBe('cancelled');
    const stored = (await world.store.getOrder(held.id))!;
    expect(stored.holds[0]!.resolution).toMatchObject({ action: 'cancelled', by: 'pricing desk' });
    expect(world.sims.erp.orderCount).toBe(erpOrders);
    expect((await world.store.getTimeline(held.id)).map((e) => e.name)).not.toContain('cancel-erp-order');

    // Held after the ERP refused the confirmation (credit approved in the hub, not in the ERP).
    const c = world.sims.picks.nearCredit;
    const price = (await world.store.getProducts([line.sku])).get(line.sku)!.listPrice;
    const big = await submit(
      inPolicySubmission(world.sims, {
        customer: { id: c.id },
        shipTo: c.addresses.find((a) => a.kind === 'shipping') ?? c.addresses[0]!,
        lines: [{ sku: line.sku, quantity: Math.ceil((c.creditLimit * 0.15) / price), unitPrice: price }],
      }),
    );
    const released = await workflow().releaseHold({
      orderId: big.id,
      reason: 'credit',
      actor: { keyId: 'k-credit', name: 'credit desk' },
      note: 'ok',
      correlationId: 'c',
    });
    expect(released.order.state).toBe('on_hold');
    const quotation = world.sims.erp.orderByIdempotencyKey(big.id)!;
    expect(quotation.state).toBe('quotation');
    const rejected = await workflow().rejectHold({
      orderId: big.id,
      reason: 'credit',
      actor: { keyId: 'k-credit', name: 'credit desk' },
      note: 'no',
      correlationId: 'c',
    });
    expect(rejected.decision.state).toBe('rejected');
    expect((await world.sims.erp.getSalesOrder(quotation.erpOrderId)).state).toBe('cancelled');
  });

  test("the CRM's cancellation request is carried out behind; one that cannot be stays open for customer service, marked refused", async () => {
    const order = await submit(inPolicySubmission(world.sims));
    const request = (
      subject: string,
      id: string,
    ): Extract<InboundEvent, { type: 'crm.order_cancel_requested.v1' }> => ({
      specversion: '1.0',
      id,
      source: 'urn:crm',
      type: 'crm.order_cancel_requested.v1',
      time: clock.now().toISOString(),
      subject,
      datacontenttype: 'application/json',
      sender: 'crm',
      data: { reason: 'customer_request', note: 'called in', requestedBy: 'jane.rep' },
    });
    const deps = { store: world.store, clock };
    expect(
      (await recordCancelRequest(deps, request(order.id, 'crm-1'), { source: 'crm', id: 'crm-1' })).status,
    ).toBe('committed');
    expect(
      (await recordCancelRequest(deps, request(order.id, 'crm-1'), { source: 'crm', id: 'crm-1' })).status,
    ).toBe('duplicate');
    expect(await world.store.getException(cancelRequestId(order.id))).toMatchObject({
      status: 'open',
      owner: 'customer_service',
    });
    expect(await workflow().processCancelRequests()).toBe(1);
    expect((await world.store.getOrder(order.id))!.state).toBe('cancelled');
    expect(await world.store.getException(cancelRequestId(order.id))).toMatchObject({ status: 'resolved' });
    expect((await world.store.listAudit(10)).find((a) => a.target === order.id)).toMatchObject({
      actor: 'webhook:crm',
      detail: { keyName: 'jane.rep', note: 'called in' },
    });

    // A request for a shipped order: refused, kept open for customer service, not retried.
    const target = await submit(inPolicySubmission(world.sims));
    const done = await shipFrom(target, target.lines[0]!.allocations[0]!.warehouseId);
    expect(done.state).toBe('shipped');
    await recordCancelRequest(deps, request(done.id, 'crm-2'), { source: 'crm', id: 'crm-2' });
    expect(await workflow().processCancelRequests()).toBe(0);
    const open = (await world.store.getException(cancelRequestId(done.id)))!;
    expect(open).toMatchObject({
      status: 'open',
      lastError: { refused: true, refusal: { details: { reason: 'shipped' } } },
    });
    expect((await world.store.getTimeline(done.id)).at(-1)).toMatchObject({ name: 'order.cancel_refused' });
    expect(await workflow().processCancelRequests()).toBe(0);
    expect((await world.store.getException(cancelRequestId(done.id)))!.updatedAt).toBe(open.updatedAt);
    // An unknown order is refused at once (the webhook answers 422).
    expect(
      (await refused(recordCancelRequest(deps, request('ord_nope', 'crm-3'), { source: 'crm', id: 'crm-3' })))
        .details,
    ).toMatchObject({
      reason: 'unknown_order',
    });
  });
});
