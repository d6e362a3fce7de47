/**
 * Carrier booking and tracking through a whole hub on SQLite and on PostgreSQL: the warehouse
 * packs (polled WMS feed), the hub books the carrier (carrier-booking subscription), the tracking
 * number reaches the order, the CRM activity and the customer's shipped notice; the TMS pushes
 * an out-for-delivery scan and an exception with its reason as signed CloudEvents; EasyPost
 * reports the delivery in its own format, found by tracking number.
 *
 * The hub registers the carrier-booking subscription once the composition root passes it a
 * `CarrierBooking` (see the report of this change); until then this suite registers it on the
 * hub's own dispatcher, over the hub's own store and TMS.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { easypostWebhooks, signEasyPost } from '../../src/connectors/easypost/index.js';
import {
  carrierBookingSubscription,
  MemoryAnalyticsSink,
  standardSubscriptions,
} from '../../src/events/index.js';
import { CarrierBooking, receiveCarrierWebhook } from '../../src/workflows/fulfillment/index.js';
import {
  cloudEvent,
  drained,
  type HubUnderTest,
  openHub,
  orderWhen,
  postWebhook,
  secrets,
  submitOrder,
} from './hub.js';
import { splitPick, submissionFor } from './support.js';

describe.each(['sqlite', 'postgres'] as const)(
  'carrier booking and tracking through a whole hub on %s',
  (backend) => {
    let h: HubUnderTest;

    beforeAll(async () => {
      h = await openHub('carrier', backend);
      const { hub } = h;
      const dispatcher = hub.dispatcher!;
      if (!dispatcher.subscriptions.includes(carrierBookingSubscription)) {
        const booking = new CarrierBooking({
          store: hub.store,
          clock: { now: () => new Date() },
          tms: hub.ports.tms,
        });
        const reg = standardSubscriptions({
          crm: hub.crm,
          notifications: hub.ports.notifications,
          wms: hub.ports.wms,
          store: hub.store,
          analytics: new MemoryAnalyticsSink(),
          bookCarrier: booking.handle,
        }).find((r) => r.name === carrierBookingSubscription)!;
        await dispatcher.stop();
        dispatcher.register(reg);
        await dispatcher.start();
      }
    });

    afterAll(async () => {
      await h?.close();
    });

    test('packed → booked with the rules’ carrier; the tracking number reaches the order, the CRM and the shipped notice; TMS and EasyPost scans carry it to delivered', async () => {
      const { hub } = h;
      const sims = hub.sims!;
      const pick = splitPick(sims.data);
      const order = await submitOrder(
        h,
        await submissionFor(hub.store, sims, [{ sku: pick.a.sku, quantity: 1 }]),
      );
      await drained(h);
      const [wo] = sims.wms.ordersOf(order.id);
      sims.wms.advance(wo!.wmsOrderId, 'picked');
      sims.wms.advance(wo!.wmsOrderId, 'packed');
      const booked = await orderWhen(
        h,
        order.id,
        'the carrier booking',
        (o) => !!o.shipments.find((s) => s.id === wo!.wmsOrderId)?.trackingNumber,
      );
      const shipment = booked.shipments.find((s) => s.id === wo!.wmsOrderId)!;
      const tracking = shipment.trackingNumber!;
      expect(shipment.carrier).toBe('UPS');
      expect(sims.tms.booking(tracking)).toMatchObject({ service: 'Ground', hubOrderId: order.id });
      await drained(h);
      expect(sims.crm.activities(order.id).map((a) => a.subject)).toContain(
        `Shipment booked (UPS ${tracking})`,
      );

      sims.wms.advance(wo!.wmsOrderId, 'shipped');
      await orderWhen(h, order.id, 'shipped', (o) => o.state === 'shipped');
      await drained(h);
      const shippedNotice = sims.notifications
        .deliveredTo(order.customerId!, order.id)
        .filter((n) => n.template === 'shipment-shipped');
      expect(shippedNotice).toHaveLength(1);
      expect(shippedNotice[0]!.data).toMatchObject({ trackingNumber: tracking, carrier: 'UPS' });

      // The TMS pushes scans as signed CloudEvents: out for delivery, then an exception with its reason.
      const scan = (milestone: string, id: string, extra: Record<string, unknown> = {}) =>
        cloudEvent('tms.milestone.v1', order.id, {
          milestoneId: id,
          shipmentId: wo!.wmsOrderId,
          carrier: 'UPS',
          trackingNumber: tracking,
          milestone,
          ...extra,
        });
      expect((await postWebhook(h, 'tms', scan('out_for_delivery', `${tracking}:ofd`))).statusCode).toBe(202);
      expect(
        (
          await postWebhook(
            h,
            'tms',
            scan('exception', `${tracking}:exc`, { reason: 'weather_delay', detail: 'Severe weather' }),
          )
        ).statusCode,
      ).toBe(202);
      const refused = await postWebhook(h, 'tms', scan('teleported', `${tracking}:x`));
      expect(refused.statusCode).toBe(422);
      expect(refused.json().errors).toEqual([{ field: 'data.milestone', message: expect.any(String) }]);
      let o = (await hub.store.getOrder(order.id))!;
      const events = o.shipments.find((s) => s.id === wo!.wmsOrderId)!.events;
      expect(events.slice(-2).map((ev) => [ev.type, ev.reason ?? null])).toEqual([
        ['out_for_delivery', null],
        ['exception', 'weather_delay'],
      ]);

      // EasyPost reports the delivery in its own format; the hub finds the order by tracking number.
      const tracker = JSON.parse(
        (await import('node:fs')).readFileSync(
          new URL(
            '../../../shared/fixtures/external/carriers/easypost/trackers-retrieve.json',
            import.meta.url,
          ),
          'utf8',
        ),
      ) as Record<string, unknown>;
      const body = JSON.stringify({
        object: 'Event',
        id: `evt_delivered_${backend}`,
        description: 'tracker.updated',
        result: {
          ...tracker,
          tracking_code: tracking,
          carrier: 'UPS',
          status: 'delivered',
          tracking_details: [
            ...(tracker['tracking_details'] as unknown[]),
            {
              object: 'TrackingDetail',
              message: 'Delivered',
              status: 'delivered',
              status_detail: 'arrived_at_destination',
              datetime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
              tracking_location: {
                object: 'TrackingLocation',
                city: 'CHARLESTON',
                state: 'SC',
                zip: '29401',
              },
            },
          ],
        },
      });
      const r = await receiveCarrierWebhook(
        {
          store: hub.store,
          clock: { now: () => new Date() },
          carriers: { easypost: easypostWebhooks },
          secrets: { easypost: secrets.easypost },
        },
        {
          carrier: 'easypost',
          rawBody: body,
          headers: { 'x-hmac-signature': signEasyPost(secrets.easypost, body) },
        },
      );
      expect(r).toMatchObject({
        status: 'applied',
        trackers: [{ orderId: order.id, shipmentId: wo!.wmsOrderId }],
      });
      o = (await hub.store.getOrder(order.id))!;
      expect(o.state).toBe('delivered');
      await drained(h);
      expect(sims.crm.orderStatus(order.id)?.status).toBe('Delivered');
      const templates = sims.notifications.deliveredTo(order.customerId!, order.id).map((n) => n.template);
      expect(templates.filter((t) => t === 'shipment-delivered')).toHaveLength(1);
      expect(templates.filter((t) => t === 'shipment-delayed')).toHaveLength(1);
      expect(sims.tms.bookingCount).toBeGreaterThanOrEqual(1);
    });
  },
);
