/**
 * `POST /api/v1/webhooks/carriers/easypost` through a whole hub on SQLite and on PostgreSQL:
 * EasyPost's own body and `X-Hmac-Signature`, with the sender's API key (`webhooks:tms`) as a
 * custom header of the EasyPost webhook. The hub books the carrier itself (carrier-booking), so
 * the tracking number of the update is the one it put on the shipment.
 *
 * Runs once the hub mounts the route and registers carrier booking (the composition root and the
 * operations routes are wired by the change described in this work's report); skipped before.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signEasyPost } from '../../src/connectors/easypost/index.js';
import { carrierBookingSubscription } from '../../src/events/index.js';
import { drained, type HubUnderTest, openHub, orderWhen, secrets, submitOrder } from './hub.js';
import { splitPick, submissionFor } from './support.js';

const route = '/api/v1/webhooks/carriers/easypost';
const tracker = JSON.parse(
  readFileSync(
    new URL('../../../shared/fixtures/external/carriers/easypost/trackers-retrieve.json', import.meta.url),
    'utf8',
  ),
) as Record<string, unknown>;

function update(id: string, trackingCode: string, status: string, datetime: string): string {
  return JSON.stringify({
    object: 'Event',
    id,
    description: 'tracker.updated',
    result: {
      ...tracker,
      tracking_code: trackingCode,
      status,
      tracking_details: [
        ...(tracker['tracking_details'] as unknown[]),
        { object: 'TrackingDetail', message: status, status, status_detail: 'status_update', datetime },
      ],
    },
  });
}

describe.each(['sqlite', 'postgres'] as const)(
  'EasyPost webhooks on the carrier route of a whole hub on %s',
  (backend) => {
    let h: HubUnderTest | undefined;
    let wired = false;

    beforeAll(async () => {
      h = await openHub('carrier_route', backend);
      wired =
        h.hub.app.hasRoute({ method: 'POST', url: '/api/v1/webhooks/carriers/:carrier' }) &&
        (h.hub.dispatcher?.subscriptions.includes(carrierBookingSubscription) ?? false);
    });

    afterAll(async () => {
      await h?.close();
    });

    const post = (
      body: string,
      signWith: string | null = secrets.easypost,
      key = h!.keys.tms,
      carrier = 'easypost',
    ) =>
      h!.hub.app.inject({
        method: 'POST',
        url: route.replace('easypost', carrier),
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          ...(signWith === null ? {} : { 'x-hmac-signature': signEasyPost(signWith, body) }),
        },
        payload: body,
      });

    test('a delivered update for the tracking number the hub booked delivers the order (202); re-sent it is unchanged (200); the refusals are typed', async (ctx) => {
      if (!wired) ctx.skip();
      const { hub } = h!;
      const sims = hub.sims!;
      const order = await submitOrder(
        h!,
        await submissionFor(hub.store, sims, [{ sku: splitPick(sims.data).a.sku, quantity: 1 }]),
      );
      await drained(h!);
      const [wo] = sims.wms.ordersOf(order.id);
      for (const m of ['picked', 'packed', 'shipped'] as const) sims.wms.advance(wo!.wmsOrderId, m);
      const shipped = await orderWhen(
        h!,
        order.id,
        'booked and shipped',
        (o) => o.state === 'shipped' && !!o.shipments.find((s) => s.id === wo!.wmsOrderId)?.trackingNumber,
      );
      const tracking = shipped.shipments.find((s) => s.id === wo!.wmsOrderId)!.trackingNumber!;

      const body = update(`evt_${backend}_1`, tracking, 'delivered', '2025-04-12T15:00:00Z');
      const res = await post(body);
      expect(res.statusCode).toBe(202);
      expect(res.json()).toMatchObject({
        status: 'applied',
        trackers: [{ orderId: order.id, trackingNumber: tracking }],
      });
      expect((await hub.store.getOrder(order.id))?.state).toBe('delivered');
      const again = await post(body);
      expect(again.statusCode).toBe(200);
      expect(again.json().status).toBe('unchanged');

      const unknown = await post(
        update(`evt_${backend}_2`, 'EZ0000000404', 'in_transit', '2025-04-12T15:00:00Z'),
      );
      expect(unknown.statusCode).toBe(200);
      expect(unknown.json().status).toBe('unknown_tracking_number');

      const badSig = await post(body, 'not-the-easypost-secret-0123');
      expect(badSig.statusCode).toBe(401);
      expect(badSig.headers['content-type']).toContain('application/problem+json');
      const malformed = await post(
        JSON.stringify({ object: 'Event', id: 'evt_m', result: { object: 'Tracker' } }),
      );
      expect(malformed.statusCode).toBe(422);
      expect(malformed.json().errors).toEqual([{ field: 'result.id', message: expect.any(String) }]);
      expect((await post(body, secrets.easypost, h!.keys.tms, 'fedex')).statusCode).toBe(404);
      expect((await post(body, secrets.easypost, h!.keys.wms)).statusCode).toBe(403);
      await drained(h!);
      expect(sims.crm.orderStatus(order.id)?.status).toBe('Delivered');
    });
  },
);
