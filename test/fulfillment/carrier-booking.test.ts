/**
 * Carrier booking and tracking at workflow level, on SQLite and on PostgreSQL: a packed
 * shipment is booked through the `carrier-booking` subscription with the carrier and service of
 * the shipping rules; the tracking number reaches the order, the CRM and the customer once; a
 * replayed or retried booking books nothing twice; carrier scans (in transit, out for delivery,
 * exception with its reason, delivered) come back through the TMS feed as canonical events.
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { SalesOrder } from '../../src/domain/index.js';
import { carrierBookingSubscription } from '../../src/events/index.js';
import type { Store } from '../../src/ports/index.js';
import {
  CarrierBooking,
  chooseCarrier,
  defaultCarrierRules,
  findTrackedShipment,
} from '../../src/workflows/fulfillment/index.js';
import type { TestBackend } from '../events/support.js';
import { acceptOrder, drain, type Estate, openEstate, splitPick, submissionFor } from './support.js';

const backends: TestBackend[] = ['sqlite-file', 'postgres'];

describe.each(backends)('carrier booking and tracking on %s', (backend) => {
  let e: Estate;

  afterEach(async () => {
    await e?.dispose();
  });

  async function packedOrder(
    lines: (pick: ReturnType<typeof splitPick>) => { sku: string; quantity: number }[],
    method: 'ground' | 'express' = 'ground',
  ): Promise<{ order: SalesOrder; wmsOrderId: string }> {
    const pick = splitPick(e.sims.data);
    const order = await acceptOrder(e, await submissionFor(e.store, e.sims, lines(pick), method));
    await drain(e.dispatcher);
    const [wo] = e.sims.wms.ordersOf(order.id);
    e.sims.wms.advance(wo!.wmsOrderId, 'picked');
    e.sims.wms.advance(wo!.wmsOrderId, 'packed');
    await e.sync.syncOnce();
    return { order, wmsOrderId: wo!.wmsOrderId };
  }

  async function outbox(store: Store, orderId: string) {
    return (await store.readEvents({ fromSeq: 0, limit: 10_000 })).filter((r) => r.event.subject === orderId);
  }

  test('a packed shipment is booked with the carrier and service of the rules; the tracking number reaches the order, the CRM and the shipped notice once', async () => {
    e = await openEstate(backend, { booking: true });
    const { store, sims, dispatcher, sync } = e;
    const { order, wmsOrderId } = await packedOrder((p) => [{ sku: p.a.sku, quantity: 1 }]);
    expect((await store.getOrder(order.id))?.state).toBe('packed');
    await drain(dispatcher); // warehouse planning done; the packed milestone goes to carrier-booking
    const booked = (await store.getOrder(order.id))!;
    const shipment = booked.shipments.find((s) => s.id === wmsOrderId)!;
    expect(shipment.carrier).toBe('UPS');
    expect(shipment.trackingNumber).toMatch(/^1Z/);
    expect(shipment.status).toBe('booked');
    expect(shipment.events.map((ev) => ev.type)).toContain('booked');
    expect(shipment.events.find((ev) => ev.type === 'booked')?.detail).toBe('UPS Ground');
    expect(booked.state).toBe('packed'); // a booking moves no order state
    expect(sims.tms.bookingCount).toBe(1);
    const tms = sims.tms.booking(shipment.trackingNumber!)!;
    expect(tms).toMatchObject({
      carrier: 'UPS',
      service: 'Ground',
      shipmentId: wmsOrderId,
      hubOrderId: order.id,
    });
    expect(tms.weightKg).toBeGreaterThan(0);
    expect(await findTrackedShipment(store, shipment.trackingNumber!)).toEqual({
      orderId: order.id,
      shipmentId: wmsOrderId,
      carrier: 'UPS',
    });

    await drain(dispatcher);
    const activity = sims.crm.activities(order.id).find((a) => a.subject.startsWith('Shipment booked'));
    expect(activity?.subject).toBe(`Shipment booked (UPS ${shipment.trackingNumber})`);

    // A replay of the packed event, and a second booking attempt, book nothing again.
    const packed = (await outbox(store, order.id)).find(
      (r) => r.event.type === 'shipment.milestone.v1' && r.event.data['milestone'] === 'packed',
    )!;
    expect(await store.enqueueDeliveries(carrierBookingSubscription, [packed.seq])).toBe(1);
    await drain(dispatcher);
    expect(
      await new CarrierBooking({ store, clock: e.clock, tms: sims.tms }).book(order.id, wmsOrderId),
    ).toEqual({
      status: 'skipped',
      reason: 'already_tracked',
    });
    expect(sims.tms.bookingCount).toBe(1);
    const bookedEvents = (await outbox(store, order.id)).filter(
      (r) => r.event.data['milestone'] === 'booked',
    );
    expect(bookedEvents).toHaveLength(1);
    expect(bookedEvents[0]!.event.data).toMatchObject({
      carrier: 'UPS',
      trackingNumber: shipment.trackingNumber,
    });

    // The shipped notice carries the tracking number; the customer gets it once.
    sims.wms.advance(wmsOrderId, 'shipped');
    await sync.syncOnce();
    await drain(dispatcher);
    const notices = sims.notifications.deliveredTo(order.customerId!, order.id);
    const shipped = notices.filter((n) => n.template === 'shipment-shipped');
    expect(shipped).toHaveLength(1);
    expect(shipped[0]!.data).toMatchObject({ carrier: 'UPS', trackingNumber: shipment.trackingNumber });
    expect(
      notices.filter((n) => n.template !== 'order-confirmation' && n.template !== 'shipment-shipped'),
    ).toEqual([]);
  });

  test('a booking whose commit failed after the TMS booked it is finished by the retry with the same tracking number, booked once', async () => {
    e = await openEstate(backend);
    const { store, sims } = e;
    const { order, wmsOrderId } = await packedOrder((p) => [{ sku: p.a.sku, quantity: 2 }], 'express');
    const failing: Store = Object.create(store) as Store;
    failing.commit = async () => {
      throw new Error('connection reset');
    };
    await expect(
      new CarrierBooking({ store: failing, clock: e.clock, tms: sims.tms }).book(order.id, wmsOrderId),
    ).rejects.toThrow('connection reset');
    expect(
      (await store.getOrder(order.id))?.shipments.find((s) => s.id === wmsOrderId)?.trackingNumber,
    ).toBeUndefined();
    const retry = await new CarrierBooking({ store, clock: e.clock, tms: sims.tms }).book(
      order.id,
      wmsOrderId,
    );
    expect(retry).toMatchObject({
      status: 'booked',
      carrier: 'FedEx',
      service: 'Priority Overnight',
      duplicate: true,
    });
    expect(sims.tms.bookingCount).toBe(1);
    const shipment = (await store.getOrder(order.id))!.shipments.find((s) => s.id === wmsOrderId)!;
    expect(shipment.trackingNumber).toBe(retry.status === 'booked' ? retry.trackingNumber : '');
  });

  test('no carrier rule for the method parks the booking as a policy violation for logistics; nothing is booked', async () => {
    const rules = defaultCarrierRules.filter((r) => r.method !== 'express');
    e = await openEstate(backend, { booking: { rules } });
    const { store, sims, dispatcher } = e;
    const { order, wmsOrderId } = await packedOrder((p) => [{ sku: p.a.sku, quantity: 1 }], 'express');
    await drain(dispatcher);
    expect(sims.tms.bookingCount).toBe(0);
    const parked = (
      await store.listExceptions({ status: 'open', subscription: carrierBookingSubscription })
    ).find((x) => x.orderId === order.id);
    expect(parked).toMatchObject({ kind: 'policy_violation', owner: 'logistics' });
    expect(parked!.lastError['details']).toMatchObject({ reason: 'no_carrier_rule', shipmentId: wmsOrderId });
    expect((await store.getOrder(order.id))?.state).toBe('packed');
  });

  test('carrier scans come back through the TMS feed as canonical events: in transit, out for delivery, an exception with its reason, delivered', async () => {
    e = await openEstate(backend, { booking: true });
    const { store, sims, dispatcher, sync } = e;
    const { order, wmsOrderId } = await packedOrder((p) => [{ sku: p.a.sku, quantity: 1 }]);
    await drain(dispatcher);
    sims.wms.advance(wmsOrderId, 'shipped');
    const tracking = (await store.getOrder(order.id))!.shipments.find((s) => s.id === wmsOrderId)!
      .trackingNumber!;
    sims.tms.track(tracking, 'in_transit', 'Departed facility', 'MEMPHIS TN');
    sims.tms.track(tracking, 'out_for_delivery', 'Out for delivery', 'CHARLESTON SC');
    sims.tms.track(
      tracking,
      'exception',
      'Delivery attempted, no access',
      'CHARLESTON SC',
      'delivery_attempted',
    );
    await sync.syncOnce();
    let o = (await store.getOrder(order.id))!;
    expect(o.state).toBe('shipped');
    const events = o.shipments.find((s) => s.id === wmsOrderId)!.events;
    expect(events.map((ev) => ev.type).slice(-4)).toEqual([
      'shipped',
      'in_transit',
      'out_for_delivery',
      'exception',
    ]);
    expect(events.at(-1)).toMatchObject({
      reason: 'delivery_attempted',
      detail: 'Delivery attempted, no access',
    });
    expect(o.shipments.find((s) => s.id === wmsOrderId)?.status).toBe('out_for_delivery');
    await drain(dispatcher);
    const delayed = sims.notifications
      .deliveredTo(order.customerId!, order.id)
      .filter((n) => n.template === 'shipment-delayed');
    expect(delayed).toHaveLength(1);
    expect(delayed[0]!.data).toMatchObject({ reason: 'delivery_attempted', trackingNumber: tracking });

    sims.tms.track(tracking, 'delivered', 'Delivered, front door', 'CHARLESTON SC');
    await sync.syncOnce();
    o = (await store.getOrder(order.id))!;
    expect(o.state).toBe('delivered');
    expect(o.customerStatus).toBe('Delivered');
  });
});

test('rules choose by method, weight and hazard: heavy ground goes LTL', async () => {
  expect(chooseCarrier(defaultCarrierRules, { method: 'ground', weightKg: 12, hazmat: false })).toEqual({
    carrier: 'UPS',
    service: 'Ground',
  });
  expect(chooseCarrier(defaultCarrierRules, { method: 'ground', weightKg: 80, hazmat: false })).toEqual({
    carrier: 'XPO LTL',
    service: 'LTL Standard',
  });
  expect(
    chooseCarrier([{ method: 'air', minWeightKg: 0, hazmat: false, carrier: 'UPS', service: 'Air' }], {
      method: 'air',
      weightKg: 1,
      hazmat: true,
    }),
  ).toBeNull();
});
