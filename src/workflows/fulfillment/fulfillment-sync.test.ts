import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { loadDemoMasterData } from '../../app/master-data.js';
import type { OrderSubmission, SalesOrder } from '../../domain/index.js';
import type { Clock, Store } from '../../ports/index.js';
import { createSimulators, type Simulators } from '../../simulators/index.js';
import { createStore } from '../../storage/index.js';
import { CreditExposureCache, defaultPolicies, QuoteToOrder } from '../quote-to-order/index.js';
import { FulfillmentSync, fulfillmentCursorName } from './fulfillment-sync.js';
import { InventoryRefresh } from './inventory-refresh.js';

const clock: Clock = { now: () => new Date() };

interface Estate {
  store: Store;
  sims: Simulators;
  workflow: QuoteToOrder;
  sync: FulfillmentSync;
}

let estate: Estate;

async function makeEstate(): Promise<Estate> {
  const store = await createStore({ url: ':memory:' });
  await store.migrate();
  const sims = createSimulators({ seed: 7, clock, customerCount: 40, productCount: 40 });
  await loadDemoMasterData(store, sims.data);
  const policies = {
    ...defaultPolicies,
    warehouses: sims.data.warehouses.map((w) => ({ id: w.id, serves: [w.region] })),
  };
  const workflow = new QuoteToOrder({
    store,
    erp: sims.erp,
    crm: sims.crm,
    clock,
    policies,
    credit: new CreditExposureCache(sims.erp, clock),
  });
  const sync = new FulfillmentSync({
    store,
    clock,
    erp: sims.erp,
    wms: sims.wms,
    tms: sims.tms,
    pageSize: 3,
  });
  return { store, sims, workflow, sync };
}

async function acceptOrder(e: Estate, quantity = 1): Promise<SalesOrder> {
  const { customer, lines } = e.sims.picks.inPolicy;
  const submission: OrderSubmission = {
    customer: { id: customer.id },
    shipTo: customer.addresses.find((a) => a.kind === 'shipping') ?? customer.addresses[0]!,
    shippingMethod: 'ground',
    currency: 'USD',
    lines: lines.slice(0, 2).map((l) => ({ sku: l.sku, quantity, unitPrice: l.unitPrice })),
  };
  const orderId = `ord_${crypto.randomUUID()}`;
  const res = await e.workflow.submit({ orderId, correlationId: `corr-${orderId}`, submission });
  expect(res.order.state).toBe('accepted');
  return res.order;
}

/** Releases the order to the simulated WMS from its first allocation's warehouse (as warehouse planning does). */
async function releaseToWms(e: Estate, order: SalesOrder): Promise<string> {
  const warehouseId = order.lines[0]!.allocations[0]!.warehouseId;
  const { wmsOrderId } = await e.sims.wms.releaseOrder({
    idempotencyKey: `${order.id}:${warehouseId}`,
    hubOrderId: order.id,
    warehouseId,
    shipTo: order.shipTo,
    shippingMethod: 'ground',
    lines: order.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
  });
  return wmsOrderId;
}

async function events(
  store: Store,
  orderId: string,
): Promise<{ type: string; data: Record<string, unknown> }[]> {
  const all = await store.readEvents({ fromSeq: 0, limit: 10_000 });
  return all
    .filter((s) => s.event.subject === orderId)
    .map((s) => ({ type: s.event.type, data: s.event.data }));
}

async function fulfillmentTimeline(store: Store, orderId: string) {
  return (await store.getTimeline(orderId)).filter((t) => t.kind === 'event');
}

beforeEach(async () => {
  estate = await makeEstate();
});

afterEach(async () => {
  await estate.sync.stop();
  await estate.store.close();
});

describe('FulfillmentSync over the simulators and a real SQLite store', () => {
  test('ERP shipment assign, pick, pack and done, then the invoice, move an accepted order to invoiced with timeline and outbox', async () => {
    const { store, sims, sync } = estate;
    const order = await acceptOrder(estate);
    const erpOrderId = order.externalIds['erpOrderId']!;
    await sync.syncOnce();
    const expected: [Parameters<typeof sims.erp.advanceShipment>[1], string, string][] = [
      ['assigned', 'allocated', 'Confirmed'],
      ['picked', 'picked', 'Preparing'],
      ['packed', 'packed', 'Preparing'],
      ['done', 'shipped', 'Shipped'],
    ];
    for (const [erpState, hubState, status] of expected) {
      sims.erp.advanceShipment(erpOrderId, erpState);
      await sync.syncOnce();
      const now = await store.getOrder(order.id);
      expect(now?.state).toBe(hubState);
      expect(now?.customerStatus).toBe(status);
    }
    const invoice = sims.erp.invoiceOrder(erpOrderId);
    await sync.syncOnce();
    const final = (await store.getOrder(order.id))!;
    expect(final.state).toBe('invoiced');
    expect(final.customerStatus).toBe('Shipped');
    expect(final.invoices).toEqual([
      expect.objectContaining({ number: invoice.number, amount: invoice.amount, status: 'open' }),
    ]);
    expect(final.shipments[0]?.events.map((e) => e.type)).toEqual([
      'allocated',
      'picked',
      'packed',
      'shipped',
    ]);
    expect(final.shipments[0]?.status).toBe('shipped');
    expect(final.milestones).toEqual(['allocated', 'picked', 'packed', 'shipped', 'invoiced']);

    const timeline = await fulfillmentTimeline(store, order.id);
    expect(timeline.map((t) => [t.name, t.summary['applied']])).toEqual([
      ['shipment.waiting', false],
      ['shipment.assigned', true],
      ['shipment.picked', true],
      ['shipment.packed', true],
      ['shipment.done', true],
      ['invoice.posted', true],
    ]);
    const outbox = (await events(store, order.id)).map((e) => e.type);
    expect(outbox.filter((t) => t === 'shipment.milestone.v1')).toHaveLength(4);
    expect(outbox.filter((t) => t === 'order.status_changed.v1')).toHaveLength(5);
    expect(outbox.filter((t) => t === 'invoice.issued.v1')).toHaveLength(1);
    const issued = (await events(store, order.id)).find((e) => e.type === 'invoice.issued.v1');
    expect(issued?.data).toMatchObject({ number: invoice.number, state: 'invoiced' });
  });

  test('WMS milestones and a TMS delivery move the order to delivered, and the customer sees Delivered', async () => {
    const { store, sims, sync } = estate;
    const order = await acceptOrder(estate);
    const warehouseId = order.lines[0]!.allocations[0]!.warehouseId;
    const lines = order.lines.map((l) => ({ sku: l.sku, quantity: l.quantity }));
    const { wmsOrderId } = await sims.wms.releaseOrder({
      idempotencyKey: `${order.id}:${warehouseId}`,
      hubOrderId: order.id,
      warehouseId,
      shipTo: order.shipTo,
      shippingMethod: 'ground',
      lines,
    });
    sims.wms.advance(wmsOrderId, 'picked');
    sims.wms.advance(wmsOrderId, 'packed');
    sims.wms.advance(wmsOrderId, 'shipped');
    const booked = await sims.tms.bookShipment({
      idempotencyKey: wmsOrderId,
      hubOrderId: order.id,
      shipmentId: wmsOrderId,
      shippingMethod: 'ground',
      weightKg: 5,
      hazmat: false,
      destinationCountry: 'US',
    });
    sims.tms.track(booked.trackingNumber, 'in_transit');
    sims.tms.track(booked.trackingNumber, 'exception', 'address not found');
    sims.tms.track(booked.trackingNumber, 'delivered');
    await sync.syncOnce();

    const final = (await store.getOrder(order.id))!;
    expect(final.state).toBe('delivered');
    expect(final.customerStatus).toBe('Delivered');
    const shipment = final.shipments.find((s) => s.id === wmsOrderId)!;
    expect(shipment.trackingNumber).toBe(booked.trackingNumber);
    expect(shipment.carrier).toBe(booked.carrier);
    expect(shipment.events.map((e) => e.type)).toEqual([
      'released',
      'allocated',
      'picked',
      'packed',
      'shipped',
      'in_transit',
      'exception',
      'delivered',
    ]);
    const timeline = (await fulfillmentTimeline(store, order.id)).filter((t) => t.system !== 'erp-sim');
    expect(timeline.map((t) => [t.system, t.name, t.summary['applied']])).toEqual([
      ['wms-sim', 'shipment.released', true],
      // The simulator reports `released` before `allocated`: allocated is late, kept, not applied.
      ['wms-sim', 'shipment.allocated', false],
      ['wms-sim', 'shipment.picked', true],
      ['wms-sim', 'shipment.packed', true],
      ['wms-sim', 'shipment.shipped', true],
      ['tms-sim', 'shipment.in_transit', false],
      ['tms-sim', 'shipment.exception', false],
      ['tms-sim', 'shipment.delivered', true],
    ]);
    const outbox = await events(store, order.id);
    const milestones = outbox.filter((e) => e.type === 'shipment.milestone.v1');
    expect(milestones.map((e) => e.data['milestone'])).toEqual([
      'released',
      'allocated',
      'picked',
      'packed',
      'shipped',
      'in_transit',
      'exception',
      'delivered',
    ]);
    expect(milestones.at(-1)?.data).toMatchObject({
      trackingNumber: booked.trackingNumber,
      state: 'delivered',
    });
  });

  test('a WMS allocation gives back the soft reservation and the refreshed WMS figures count it as allocated', async () => {
    const { store, sims, sync } = estate;
    const order = await acceptOrder(estate, 3);
    const line = order.lines[0]!;
    const warehouseId = line.allocations[0]!.warehouseId;
    const before = (await store.getInventory([line.sku])).find((p) => p.warehouseId === warehouseId)!;
    expect(before.reserved).toBeGreaterThanOrEqual(3);
    await releaseToWms(estate, order);
    await sync.syncOnce();
    const released = (await store.getInventory([line.sku])).find((p) => p.warehouseId === warehouseId)!;
    expect(released.reserved).toBe(before.reserved - 3);
    await new InventoryRefresh({ store, source: sims.wms }).refreshOnce();
    const after = (await store.getInventory([line.sku])).find((p) => p.warehouseId === warehouseId)!;
    expect(after.allocated).toBe(before.allocated + 3);
    expect(after.available).toBe(before.available);
    const allocated = (await fulfillmentTimeline(store, order.id)).find(
      (t) => t.name === 'shipment.allocated',
    );
    expect(allocated?.summary['reservationsReleased']).toEqual(
      expect.arrayContaining([{ sku: line.sku, warehouseId, reservedDelta: -3 }]),
    );
  });

  test('duplicate and out-of-order milestones leave the state alone but are each in the timeline', async () => {
    const { store, sims, sync } = estate;
    const order = await acceptOrder(estate);
    const wmsOrderId = await releaseToWms(estate, order);
    const picked = sims.wms.advance(wmsOrderId, 'picked');
    const packed = sims.wms.advance(wmsOrderId, 'packed');
    await sync.syncOnce();
    const reserved = await store.getInventory(order.lines.map((l) => l.sku));
    sims.wms.replayMilestone(picked.seq);
    sims.wms.replayMilestone(packed.seq);
    sims.wms.replayMilestone(2); // the allocation, re-sent
    await sync.syncOnce();
    const final = (await store.getOrder(order.id))!;
    expect(final.state).toBe('packed');
    const timeline = await fulfillmentTimeline(store, order.id);
    const late = timeline.slice(-3);
    expect(late.map((t) => [t.name, t.summary['applied'], t.summary['repeat']])).toEqual([
      ['shipment.picked', false, true],
      ['shipment.packed', false, true],
      ['shipment.allocated', false, true],
    ]);
    // A re-sent milestone is no new shipment event, no new outbox event, no second release.
    const shipment = final.shipments.find((s) => s.id === wmsOrderId);
    expect(shipment?.events.filter((e) => e.type === 'picked')).toHaveLength(1);
    const milestoneEvents = (await events(store, order.id)).filter((e) => e.type === 'shipment.milestone.v1');
    expect(milestoneEvents).toHaveLength(4);
    expect(await store.getInventory(order.lines.map((l) => l.sku))).toEqual(reserved);
  });

  test('a restarted sync resumes from its cursor and re-reading a feed applies nothing twice', async () => {
    const { store, sims } = estate;
    const order = await acceptOrder(estate);
    const erpOrderId = order.externalIds['erpOrderId']!;
    sims.erp.advanceShipment(erpOrderId, 'assigned');
    sims.erp.advanceShipment(erpOrderId, 'picked');
    const first = new FulfillmentSync({ store, clock, erp: sims.erp });
    const pass1 = await first.syncOnce();
    expect(pass1.erp?.read).toBeGreaterThan(0);
    const cursor = await store.getCursor(fulfillmentCursorName('erp', sims.erp.system));
    expect(cursor).toBe(String(sims.erp.feedLength));
    const timelineBefore = await store.getTimeline(order.id);

    const restarted = new FulfillmentSync({ store, clock, erp: sims.erp });
    expect((await restarted.syncOnce()).erp).toMatchObject({ read: 0, applied: 0 });
    sims.erp.advanceShipment(erpOrderId, 'packed');
    const pass2 = await restarted.syncOnce();
    expect(pass2.erp).toMatchObject({ read: 1, applied: 1 });
    expect((await store.getOrder(order.id))?.state).toBe('packed');

    // A poller with a lost cursor re-reads everything: the store's inbound dedupe refuses each entry.
    await store.commit({ cursors: [{ name: fulfillmentCursorName('erp', sims.erp.system), value: '0' }] });
    const replay = await new FulfillmentSync({ store, clock, erp: sims.erp }).syncOnce();
    expect(replay.erp?.applied).toBe(0);
    expect(replay.erp?.duplicates).toBeGreaterThan(0);
    expect(await store.getTimeline(order.id)).toHaveLength(timelineBefore.length + 1);
    expect(await store.getCursor(fulfillmentCursorName('erp', sims.erp.system))).toBe(
      String(sims.erp.feedLength),
    );
  });

  test('entries of different orders in one page apply side by side; a failing one holds the cursor, not the others', async () => {
    const { store, sims } = estate;
    const orders = [await acceptOrder(estate), await acceptOrder(estate), await acceptOrder(estate)];
    for (const o of orders) {
      sims.erp.advanceShipment(o.externalIds['erpOrderId']!, 'assigned');
      sims.erp.advanceShipment(o.externalIds['erpOrderId']!, 'picked');
    }
    const cursorName = fulfillmentCursorName('erp', sims.erp.system);
    const before = await store.getCursor(cursorName);
    // The store refuses every commit for the second order (a database outage for that write).
    const failing = orders[1]!.id;
    let inFlight = 0;
    let maxInFlight = 0;
    const flaky: Store = Object.create(store) as Store;
    flaky.commit = async (unit) => {
      if (unit.order?.next.id === failing) throw new Error('disk full');
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        return await store.commit(unit);
      } finally {
        inFlight--;
      }
    };
    const sync = new FulfillmentSync({ store: flaky, clock, erp: sims.erp, pageSize: 50 });
    await expect(sync.syncOnce()).rejects.toThrow('disk full');
    // the others moved (in feed order: assigned, then picked) …
    for (const o of [orders[0]!, orders[2]!]) expect((await store.getOrder(o.id))?.state).toBe('picked');
    expect((await store.getOrder(failing))?.state).toBe('accepted');
    // … side by side, and the cursor did not pass the failed entry
    expect(maxInFlight).toBeGreaterThan(1);
    expect(await store.getCursor(cursorName)).toBe(before);

    // the outage ends: the page is read again, the applied entries are duplicates, the rest applies
    const again = await new FulfillmentSync({ store, clock, erp: sims.erp, pageSize: 50 }).syncOnce();
    expect((await store.getOrder(failing))?.state).toBe('picked');
    expect(again.erp?.duplicates).toBeGreaterThanOrEqual(4);
    for (const o of orders) {
      const steps = (await fulfillmentTimeline(store, o.id)).map((t) => t.name);
      expect(steps.filter((n) => /picked/.test(n))).toHaveLength(1);
    }
    expect(await store.getCursor(cursorName)).toBe(String(sims.erp.feedLength));
  });

  test("one order's WMS entries of a page commit as one unit; after a crash that applied the first alone, the page re-read applies each entry exactly once", async () => {
    const { store, sims } = estate;
    const order = await acceptOrder(estate);
    const wmsOrderId = await releaseToWms(estate, order);
    sims.wms.advance(wmsOrderId, 'picked');
    sims.wms.advance(wmsOrderId, 'packed');
    const entries = (await sims.wms.milestonesSince(null, 50)).milestones.filter(
      (m) => m.hubOrderId === order.id,
    ).length;
    expect(entries).toBeGreaterThanOrEqual(4);

    // Pass 1 reads one entry per page and dies before its cursor commit: the first entry is in.
    const dying: Store = Object.create(store) as Store;
    dying.commit = async (unit) => {
      if (unit.cursors) throw new Error('killed');
      return store.commit(unit);
    };
    await expect(
      new FulfillmentSync({ store: dying, clock, wms: sims.wms, tms: sims.tms, pageSize: 1 }).syncOnce(),
    ).rejects.toThrow('killed');
    expect((await store.getOrder(order.id))?.state).toBe('released');

    // Pass 2 reads the whole page again: the unit of all its entries is refused as a duplicate,
    // and one by one the first is a duplicate and the others apply.
    const units: { inbound: number; orderId: string | undefined }[] = [];
    const counting: Store = Object.create(store) as Store;
    counting.commit = async (unit) => {
      const inbound = unit.inbound === undefined ? 0 : Array.isArray(unit.inbound) ? unit.inbound.length : 1;
      units.push({ inbound, orderId: unit.order?.next.id });
      return store.commit(unit);
    };
    const pass = await new FulfillmentSync({
      store: counting,
      clock,
      wms: sims.wms,
      tms: sims.tms,
    }).syncOnce();
    expect(pass.wms).toMatchObject({ duplicates: 1 });
    expect((pass.wms?.applied ?? 0) + (pass.wms?.recorded ?? 0)).toBe(entries - 1);
    expect(units.filter((u) => u.orderId === order.id).map((u) => u.inbound)).toEqual([
      entries,
      ...Array.from({ length: entries }, () => 1),
    ]);
    expect((await store.getOrder(order.id))?.state).toBe('packed');
    const names = (await fulfillmentTimeline(store, order.id))
      .filter((t) => t.system === 'wms-sim')
      .map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);

    // A fresh order's entries, with nothing applied before, go in as ONE commit.
    const second = await acceptOrder(estate);
    sims.wms.advance(await releaseToWms(estate, second), 'picked');
    units.length = 0;
    await new FulfillmentSync({ store: counting, clock, wms: sims.wms, tms: sims.tms }).syncOnce();
    const mine = units.filter((u) => u.orderId === second.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.inbound).toBeGreaterThanOrEqual(3);
    expect((await store.getOrder(second.id))?.state).toBe('picked');
    const milestones = (await events(store, second.id)).filter((e) => e.type === 'shipment.milestone.v1');
    expect(milestones.map((e) => e.data['milestone'])).toEqual(['released', 'allocated', 'picked']);
  });

  test('the poll loop picks up milestones on its own and stops cleanly', async () => {
    const { store, sims } = estate;
    const order = await acceptOrder(estate);
    const sync = new FulfillmentSync({ store, clock, erp: sims.erp, intervalMs: 20 });
    sync.start();
    const started = performance.now();
    sims.erp.advanceShipment(order.externalIds['erpOrderId']!, 'done');
    for (let i = 0; i < 200 && (await store.getOrder(order.id))?.state !== 'shipped'; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const delayMs = performance.now() - started;
    expect((await store.getOrder(order.id))?.state).toBe('shipped');
    await sync.stop();
    console.info(`milestone propagation (simulator ERP, 20 ms poll): ${delayMs.toFixed(1)} ms`);
  });
});
