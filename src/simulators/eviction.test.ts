/**
 * Bounded simulator state: far more records than `maxRecords` go through each simulator; the
 * kept counts stay at the bound, the newest records are kept, and the idempotency and
 * stale-update rules still hold for records that were evicted.
 */
import { describe, expect, test } from 'vitest';
import type { ErpOrderInput, TmsBookingInput, WmsReleaseInput } from '../ports/index.js';
import { createSimulators, type Simulators } from './index.js';

const clock = { now: () => new Date('2025-06-15T12:00:00Z') };
const maxRecords = 100;
const maxKeys = 200;
const many = 1_000;
const setup = () =>
  createSimulators({ seed: 42, clock, customerCount: 20, productCount: 30, maxRecords, maxKeys });

function erpOrder(sims: Simulators, i: number): ErpOrderInput {
  const { customer, lines } = sims.picks.inPolicy;
  const line = lines[0]!;
  return {
    idempotencyKey: `ORD-${i}`,
    hubOrderId: `ORD-${i}`,
    erpCustomerId: customer.externalIds['erp']!,
    currency: 'USD',
    shipTo: customer.addresses[1]!,
    lines: [{ sku: line.sku, quantity: 1, unitPrice: line.unitPrice }],
  };
}

describe('ERP simulator past maxRecords', () => {
  async function loaded() {
    const sims = setup();
    const erpId = sims.picks.inPolicy.customer.externalIds['erp']!;
    sims.erp.setCreditLimit(erpId, 1e12);
    // One quotation that is never confirmed (awaiting the hub), then many confirmed orders.
    const open = await sims.erp.createSalesOrder(erpOrder(sims, -1));
    const refs = [];
    for (let i = 0; i < many; i++) {
      const ref = await sims.erp.createSalesOrder(erpOrder(sims, i));
      await sims.erp.confirmSalesOrder(ref.erpOrderId);
      refs.push(ref);
    }
    return { sims, open, refs };
  }

  test('keeps maxRecords orders and change-feed entries, the newest, and the open quotation', async () => {
    const { sims, open, refs } = await loaded();
    const kept = sims.erp.listOrders(0, 10_000);
    expect(kept.total).toBe(maxRecords);
    expect(kept.items).toHaveLength(maxRecords);
    // The unconfirmed quotation outlives 1,000 newer confirmed orders.
    expect(kept.items[0]).toMatchObject({ erpOrderId: open.erpOrderId, state: 'quotation' });
    expect(kept.items.at(-1)?.hubOrderId).toBe(`ORD-${many - 1}`);
    expect(kept.items.slice(1).map((o) => o.hubOrderId)).toEqual(
      Array.from({ length: maxRecords - 1 }, (_, k) => `ORD-${many - maxRecords + 1 + k}`),
    );
    expect(sims.erp.orderCount).toBe(many + 1);
    expect(sims.erp.evictedCounts.orders).toBe(many + 1 - maxRecords);
    expect(sims.erp.orderRecord(refs[0]!.erpOrderId)).toBeNull();
    expect(sims.erp.peekChanges(0, 10_000).changes).toHaveLength(maxRecords);
    expect(sims.erp.evictedCounts.changes).toBe(sims.erp.feedLength - maxRecords);
  });

  test('a retried creation of an evicted confirmed order returns it, confirms as confirmed, and creates nothing', async () => {
    const { sims, refs } = await loaded();
    const evicted = many - maxRecords - 10; // evicted, within the last maxKeys evictions
    expect(sims.erp.orderRecord(refs[evicted]!.erpOrderId)).toBeNull();
    const effects = sims.faults.erp.effects;
    const again = await sims.erp.createSalesOrder(erpOrder(sims, evicted));
    expect(again).toEqual({ ...refs[evicted]!, created: false });
    const confirmed = await sims.erp.confirmSalesOrder(again.erpOrderId);
    expect(confirmed).toMatchObject({
      erpOrderId: again.erpOrderId,
      erpOrderNumber: again.erpOrderNumber,
      hubOrderId: `ORD-${evicted}`,
      state: 'confirmed',
    });
    expect((await sims.erp.getSalesOrder(again.erpOrderId)).state).toBe('confirmed');
    expect(sims.erp.orderCount).toBe(many + 1);
    expect(sims.faults.erp.effects).toBe(effects);
  });

  test('past maxKeys more evictions the key is forgotten (the documented window)', async () => {
    const { sims } = await loaded();
    // ORD-0 was evicted 900 evictions ago, more than maxKeys (200): a retry creates anew.
    expect((await sims.erp.createSalesOrder(erpOrder(sims, 0))).created).toBe(true);
  });

  test('a change-feed reader behind the evicted entries resumes at the oldest kept one', async () => {
    const { sims } = await loaded();
    const page = await sims.erp.changesSince('5', 10);
    const first = sims.erp.feedLength - maxRecords + 1;
    expect(page.changes).toEqual(sims.erp.peekChanges(first - 1, 10).changes);
    expect(page.watermark).toBe(String(first - 1 + 10));
  });
});

describe('CRM simulator past maxRecords', () => {
  const status = (i: number, sequence: number, s = 'accepted') => ({
    hubOrderId: `ORD-${i}`,
    status: s,
    state: s,
    sequence,
    idempotencyKey: `ORD-${i}:${sequence}`,
  });

  test('keeps the newest maxRecords order statuses, and an evicted one still refuses a late update', async () => {
    const { crm } = setup();
    const ids: string[] = [];
    for (let i = 0; i < many; i++) ids.push((await crm.upsertOrderStatus(status(i, 5))).crmRecordId);
    const kept = crm.listOrderStatuses(0, 10_000);
    expect(kept.total).toBe(maxRecords);
    expect(kept.items.map((r) => r.hubOrderId)).toEqual(
      Array.from({ length: maxRecords }, (_, k) => `ORD-${many - maxRecords + k}`),
    );
    expect(crm.evictedCounts.orderStatuses).toBe(many - maxRecords);

    const evicted = many - maxRecords - 1;
    expect(crm.orderStatus(`ORD-${evicted}`)).toBeNull();
    const effects = crm.faults.effects;
    expect(await crm.upsertOrderStatus(status(evicted, 4, 'received'))).toEqual({
      crmRecordId: ids[evicted],
      applied: false,
    });
    expect(crm.orderStatus(`ORD-${evicted}`)).toBeNull();
    expect(crm.faults.effects).toBe(effects);
    const newer = await crm.upsertOrderStatus(status(evicted, 6, 'shipped'));
    expect(newer).toEqual({ crmRecordId: ids[evicted], applied: true });
    expect(crm.orderStatus(`ORD-${evicted}`)).toMatchObject({ status: 'shipped', sequence: 6, revision: 2 });
    expect(crm.orderStatusByRecordId(ids[evicted]!)?.hubOrderId).toBe(`ORD-${evicted}`);
    expect(crm.listOrderStatuses(0, 10_000).total).toBe(maxRecords);
  });

  test('keeps the newest maxRecords activities, and a redelivered evicted activity is a duplicate', async () => {
    const { crm } = setup();
    const first: string[] = [];
    for (let i = 0; i < many; i++) {
      const r = await crm.addActivity({
        hubOrderId: `ORD-${i % 10}`,
        subject: `Milestone ${i}`,
        body: '',
        occurredAt: clock.now().toISOString(),
        idempotencyKey: `act-${i}`,
      });
      first.push(r.crmRecordId);
    }
    const kept = crm.listActivities(0, 10_000);
    expect(kept.total).toBe(maxRecords);
    expect(kept.items.at(0)?.idempotencyKey).toBe(`act-${many - maxRecords}`);
    expect(kept.items.at(-1)?.idempotencyKey).toBe(`act-${many - 1}`);
    // The per-order timelines hold exactly the kept activities.
    let perOrder = 0;
    for (let o = 0; o < 10; o++) perOrder += crm.activities(`ORD-${o}`).length;
    expect(perOrder).toBe(maxRecords);
    expect(crm.activityCount).toBe(many);

    const evicted = many - maxRecords - 50;
    const again = await crm.addActivity({
      hubOrderId: `ORD-${evicted % 10}`,
      subject: 'again',
      body: '',
      occurredAt: clock.now().toISOString(),
      idempotencyKey: `act-${evicted}`,
    });
    expect(again).toEqual({ crmRecordId: first[evicted], duplicate: true });
    expect(crm.activityCount).toBe(many);
  });
});

describe('WMS simulator past maxRecords', () => {
  const release = (sims: Simulators, i: number): WmsReleaseInput => {
    const line = sims.picks.inPolicy.lines[0]!;
    return {
      idempotencyKey: `rel-${i}`,
      hubOrderId: `ORD-${i}`,
      warehouseId: line.warehouseId,
      shipTo: sims.picks.inPolicy.customer.addresses[1]!,
      shippingMethod: 'ground',
      lines: [{ sku: line.sku, quantity: 0.001 }],
    };
  };

  test('keeps maxRecords orders and milestones, evicting shipped orders before ones in progress', async () => {
    const sims = setup();
    const inProgress = await sims.wms.releaseOrder(release(sims, -1));
    const ids: string[] = [];
    for (let i = 0; i < many; i++) {
      const { wmsOrderId } = await sims.wms.releaseOrder(release(sims, i));
      sims.wms.advance(wmsOrderId, 'picked');
      sims.wms.advance(wmsOrderId, 'packed');
      sims.wms.advance(wmsOrderId, 'shipped');
      ids.push(wmsOrderId);
    }
    const kept = sims.wms.listOrders(0, 10_000);
    expect(kept.total).toBe(maxRecords);
    expect(kept.items[0]?.wmsOrderId).toBe(inProgress.wmsOrderId);
    expect(kept.items.at(-1)?.wmsOrderId).toBe(ids.at(-1));
    expect(sims.wms.ordersOf('ORD--1')).toHaveLength(1);
    expect(sims.wms.orderCount).toBe(many + 1);
    expect(sims.wms.listMilestones(0, 10_000).total).toBe(maxRecords);
    expect(sims.wms.milestoneLog(0, 10_000).at(-1)?.seq).toBe(sims.wms.milestoneCount);

    // A redelivered release of an evicted order is a duplicate: no second allocation.
    const evicted = many - maxRecords - 10;
    expect(sims.wms.order(ids[evicted]!)).toBeNull();
    const effects = sims.faults.wms.effects;
    expect(await sims.wms.releaseOrder(release(sims, evicted))).toEqual({
      wmsOrderId: ids[evicted],
      duplicate: true,
    });
    expect(sims.faults.wms.effects).toBe(effects);
    expect(sims.wms.orderCount).toBe(many + 1);

    // The feed resumes at the oldest kept milestone for a reader left behind.
    const page = await sims.wms.milestonesSince('3', 5);
    expect(page.milestones[0]?.deliveryId).toBe(String(sims.wms.milestoneCount - maxRecords + 1));
    expect(() => sims.wms.replayMilestone(3)).toThrow(/evicted/);
  });
});

describe('TMS simulator past maxRecords', () => {
  const booking = (i: number): TmsBookingInput => ({
    idempotencyKey: `book-${i}`,
    hubOrderId: `ORD-${i}`,
    shipmentId: `SHP-${i}`,
    shippingMethod: 'ground',
    weightKg: 12,
    hazmat: false,
    destinationCountry: 'US',
  });

  test('keeps maxRecords bookings and milestones, evicting delivered ones before ones in transit', async () => {
    const { tms } = setup();
    const moving = await tms.bookShipment(booking(-1));
    tms.track(moving.trackingNumber, 'in_transit');
    const tracking: string[] = [];
    for (let i = 0; i < many; i++) {
      const b = await tms.bookShipment(booking(i));
      tms.track(b.trackingNumber, 'delivered');
      tracking.push(b.trackingNumber);
    }
    const kept = tms.listBookings(0, 10_000);
    expect(kept.total).toBe(maxRecords);
    expect(kept.items[0]?.trackingNumber).toBe(moving.trackingNumber);
    expect(kept.items.at(-1)?.trackingNumber).toBe(tracking.at(-1));
    expect(tms.bookingCount).toBe(many + 1);
    expect(tms.milestoneLog(0, 10_000)).toHaveLength(maxRecords);
    expect(tms.evictedCounts).toEqual({ bookings: many + 1 - maxRecords, milestones: many + 1 - maxRecords });

    const evicted = many - maxRecords - 10;
    expect(tms.booking(tracking[evicted]!)).toBeNull();
    const again = await tms.bookShipment(booking(evicted));
    expect(again).toEqual({ carrier: 'UPS', trackingNumber: tracking[evicted], duplicate: true });
    expect(tms.bookingCount).toBe(many + 1);
  });
});

describe('notification simulator past maxRecords', () => {
  test('keeps the newest maxRecords notifications, and a redelivered evicted one is still a duplicate', async () => {
    const { notifications } = setup();
    const send = (i: number) =>
      notifications.send({
        idempotencyKey: `n-${i}`,
        customerId: `CUST-${i % 7}`,
        orderId: `ORD-${i}`,
        template: 'order_confirmation',
        data: { i },
      });
    const ids: string[] = [];
    for (let i = 0; i < many; i++) ids.push((await send(i)).notificationId);
    expect(notifications.delivered).toHaveLength(maxRecords);
    expect(notifications.delivered.at(0)?.orderId).toBe(`ORD-${many - maxRecords}`);
    expect(notifications.delivered.at(-1)?.orderId).toBe(`ORD-${many - 1}`);
    expect(notifications.listDelivered(0, 10_000).total).toBe(maxRecords);
    expect(notifications.sentCount).toBe(many);
    expect(notifications.evictedCount).toBe(many - maxRecords);

    const evicted = many - maxRecords - 100;
    expect(await send(evicted)).toEqual({ notificationId: ids[evicted], duplicate: true });
    expect(notifications.effectCount).toBe(many);
    expect(notifications.duplicateAttempts).toBe(1);
    expect(notifications.repeatedContent()).toEqual([]);
  });
});
