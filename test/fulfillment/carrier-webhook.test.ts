/**
 * EasyPost tracker webhooks applied to orders at workflow level, on SQLite and on PostgreSQL,
 * with the real published EasyPost responses (../shared/fixtures/external/carriers/easypost,
 * read as they are) and tracker updates built from them: the order is found by tracking number,
 * scans become canonical shipment events once, and unknown tracking numbers, cancelled orders,
 * malformed payloads and bad signatures are typed answers with the raw payload kept.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { easypostWebhooks, signEasyPost } from '../../src/connectors/easypost/index.js';
import { CrossdockError, type SalesOrder, validateInboundEvent } from '../../src/domain/index.js';
import type { TmsPort } from '../../src/ports/index.js';
import {
  applyWebhook,
  CarrierBooking,
  type CarrierWebhookResult,
  receiveCarrierWebhook,
} from '../../src/workflows/fulfillment/index.js';
import type { TestBackend } from '../events/support.js';
import { acceptOrder, drain, type Estate, openEstate, splitPick, submissionFor } from './support.js';

const fixtures = join(import.meta.dirname, '../../../shared/fixtures/external/carriers/easypost');
const fixture = (name: string): string => readFileSync(join(fixtures, name), 'utf8');
const secret = 'easypost-webhook-secret-0123456789';
/** The tracking code of the published tracker responses. */
const ez = 'EZ1000000001';

/** A TMS that books through EasyPost: the tracking code is EasyPost's. */
function easypostTms(trackingNumber: string): TmsPort & { booked: number } {
  const tms = {
    system: 'easypost-tms',
    booked: 0,
    bookShipment: async () => {
      tms.booked++;
      return {
        carrier: 'USPS',
        trackingNumber,
        duplicate: tms.booked > 1,
        service: 'First-Class Package Service',
      };
    },
    milestonesSince: async () => ({ milestones: [], watermark: '0' }),
  };
  return tms;
}

/** A `tracker.updated` event: the published tracker with these scans appended. */
function trackerUpdated(
  id: string,
  scans: { status: string; status_detail?: string; datetime: string; message?: string }[],
  trackingCode = ez,
): string {
  const tracker = JSON.parse(fixture('trackers-retrieve.json')) as Record<string, unknown>;
  const details = [...(tracker['tracking_details'] as unknown[])];
  for (const s of scans) {
    details.push({
      object: 'TrackingDetail',
      message: s.message ?? s.status,
      description: '',
      status: s.status,
      status_detail: s.status_detail ?? 'status_update',
      datetime: s.datetime,
      source: 'USPS',
      carrier_code: '',
      tracking_location: {
        object: 'TrackingLocation',
        city: 'CHARLESTON',
        state: 'SC',
        country: null,
        zip: '29401',
      },
      est_delivery_date: null,
    });
  }
  return JSON.stringify({
    object: 'Event',
    id,
    description: 'tracker.updated',
    mode: 'test',
    result: {
      ...tracker,
      tracking_code: trackingCode,
      status: scans.at(-1)?.status ?? tracker['status'],
      tracking_details: details,
      updated_at: scans.at(-1)?.datetime ?? tracker['updated_at'],
    },
  });
}

describe.each(['sqlite-file', 'postgres'] as TestBackend[])('EasyPost tracker webhooks on %s', (backend) => {
  let e: Estate;
  let order: SalesOrder;
  let shipmentId: string;

  beforeEach(async () => {
    e = await openEstate(backend);
    const pick = splitPick(e.sims.data);
    order = await acceptOrder(e, await submissionFor(e.store, e.sims, [{ sku: pick.a.sku, quantity: 1 }]));
    await drain(e.dispatcher);
    const [wo] = e.sims.wms.ordersOf(order.id);
    shipmentId = wo!.wmsOrderId;
    e.sims.wms.advance(shipmentId, 'picked');
    e.sims.wms.advance(shipmentId, 'packed');
    e.sims.wms.advance(shipmentId, 'shipped');
    await e.sync.syncOnce();
    const booked = await new CarrierBooking({ store: e.store, clock: e.clock, tms: easypostTms(ez) }).book(
      order.id,
      shipmentId,
    );
    expect(booked).toMatchObject({ status: 'booked', trackingNumber: ez, carrier: 'USPS' });
    await drain(e.dispatcher);
  });

  afterEach(async () => {
    await e.dispose();
  });

  function post(body: string, sign: string | null = secret): Promise<CarrierWebhookResult> {
    return receiveCarrierWebhook(
      {
        store: e.store,
        clock: e.clock,
        carriers: { easypost: easypostWebhooks },
        secrets: { easypost: secret },
      },
      {
        carrier: 'easypost',
        rawBody: Buffer.from(body),
        headers: sign === null ? {} : { 'x-hmac-signature': signEasyPost(sign, body) },
      },
    );
  }

  async function refusal(p: Promise<unknown>): Promise<CrossdockError> {
    const err = await p.then(
      () => null,
      (x: unknown) => x,
    );
    expect(err).toBeInstanceOf(CrossdockError);
    return err as CrossdockError;
  }

  const now = async () => (await e.store.getOrder(order.id))!;

  test('the published tracker responses (label created only) change nothing; a bought shipment or a webhook listing names no tracker of ours', async () => {
    const before = await now();
    for (const f of ['trackers-create.json', 'trackers-retrieve.json', 'trackers-list.json']) {
      const r = await post(fixture(f));
      expect(r.status, f).toBe('unchanged');
      expect(r.trackers).toEqual([
        { trackingNumber: ez, status: 'unchanged', orderId: order.id, shipmentId, scans: 0 },
      ]);
    }
    expect(await post(fixture('webhooks-create.json'))).toMatchObject({
      status: 'ignored',
      reason: 'not_a_tracker',
    });
    expect(await post(fixture('events-retrieve.json'))).toMatchObject({
      status: 'ignored',
      reason: 'no_result',
    });
    expect(await post(fixture('events-list.json'))).toMatchObject({ status: 'ignored' });
    // The bought shipment's tracker carries a tracking code the hub never booked.
    expect(await post(fixture('shipments-buy.json'))).toMatchObject({ status: 'unknown_tracking_number' });
    expect((await now()).version).toBe(before.version);
  });

  test('tracker updates move the shipment through in transit, out for delivery and delivered, each scan once; the order is delivered, CRM and customer told once', async () => {
    const first = trackerUpdated('evt_1', [
      { status: 'in_transit', status_detail: 'arrived_at_facility', datetime: '2025-04-11T08:00:00Z' },
    ]);
    expect(await post(first)).toMatchObject({
      status: 'recorded', // the WMS said shipped already: in transit moves no order state
      eventId: 'evt_1',
      trackers: [{ trackingNumber: ez, orderId: order.id, shipmentId, scans: 1 }],
    });
    expect(await post(first)).toMatchObject({ status: 'unchanged' }); // EasyPost redelivers
    const second = trackerUpdated('evt_2', [
      { status: 'in_transit', status_detail: 'arrived_at_facility', datetime: '2025-04-11T08:00:00Z' },
      { status: 'out_for_delivery', datetime: '2025-04-12T07:00:00Z' },
      { status: 'delivered', datetime: '2025-04-12T15:00:00Z', message: 'Delivered, Front Door' },
    ]);
    expect(await post(second)).toMatchObject({ status: 'applied', trackers: [{ scans: 2 }] });
    const o = await now();
    expect(o.state).toBe('delivered');
    expect(o.customerStatus).toBe('Delivered');
    const shipment = o.shipments.find((s) => s.id === shipmentId)!;
    expect(shipment.status).toBe('delivered');
    expect(shipment.events.filter((ev) => ev.source === 'tms').map((ev) => ev.type)).toEqual([
      'booked',
      'in_transit',
      'out_for_delivery',
      'delivered',
    ]);
    expect(shipment.events.at(-1)).toMatchObject({
      detail: 'Delivered, Front Door',
      location: 'CHARLESTON, SC 29401',
    });
    const timeline = (await e.store.getTimeline(order.id)).filter((t) => t.system === 'easypost');
    expect(timeline.map((t) => [t.name, t.outcome])).toEqual([
      ['shipment.in_transit', 'recorded'],
      ['shipment.out_for_delivery', 'recorded'],
      ['shipment.delivered', 'applied'],
    ]);
    await drain(e.dispatcher);
    expect(e.sims.crm.orderStatus(order.id)?.status).toBe('Delivered');
    const sent = e.sims.notifications.deliveredTo(order.customerId!, order.id).map((n) => n.template);
    expect(sent.filter((t) => t === 'shipment-delivered')).toHaveLength(1);
  });

  test('a failed delivery is an exception with its reason; the customer hears of the delay once', async () => {
    const r = await post(
      trackerUpdated('evt_fail', [
        {
          status: 'failure',
          status_detail: 'address_not_found',
          datetime: '2025-04-12T15:00:00Z',
          message: 'Addressee unknown',
        },
      ]),
    );
    expect(r.status).toBe('recorded');
    const ev = (await now()).shipments.find((s) => s.id === shipmentId)!.events.at(-1)!;
    expect(ev).toMatchObject({ type: 'exception', reason: 'address_not_found', detail: 'Addressee unknown' });
    await drain(e.dispatcher);
    const delayed = e.sims.notifications
      .deliveredTo(order.customerId!, order.id)
      .filter((n) => n.template === 'shipment-delayed');
    expect(delayed).toHaveLength(1);
    expect(delayed[0]!.data).toMatchObject({
      reason: 'address_not_found',
      trackingNumber: ez,
      carrier: 'USPS',
    });
  });

  test('an unknown tracking number is answered as such and kept as an exception with the raw payload, counting re-sends', async () => {
    const body = trackerUpdated(
      'evt_x',
      [{ status: 'in_transit', datetime: '2025-04-11T08:00:00Z' }],
      'EZ9999999999',
    );
    expect(await post(body)).toMatchObject({
      status: 'unknown_tracking_number',
      trackers: [{ trackingNumber: 'EZ9999999999', orderId: null }],
    });
    await post(body);
    const ex = await e.store.getException('carrier:easypost:unknown_tracking_number:EZ9999999999');
    expect(ex).toMatchObject({ kind: 'data_quality', owner: 'logistics', status: 'open', attempts: 2 });
    expect(ex!.lastError['raw']).toBe(body);
    expect(ex!.lastError['details']).toMatchObject({
      field: 'trackingNumber',
      trackingNumber: 'EZ9999999999',
    });
  });

  test('a scan for a cancelled order is recorded, moves nothing, and is kept for customer service', async () => {
    const o = await now();
    await e.store.commit({
      order: {
        next: { ...o, version: o.version + 1, state: 'cancelled', customerStatus: 'Cancelled' },
        expectedVersion: o.version,
      },
    });
    const body = trackerUpdated('evt_c', [
      { status: 'in_transit', datetime: '2025-04-11T08:00:00Z' },
      { status: 'delivered', datetime: '2025-04-12T08:00:00Z' },
    ]);
    expect(await post(body)).toMatchObject({ status: 'recorded', trackers: [{ scans: 1 }] });
    const after = await now();
    expect(after.state).toBe('cancelled');
    expect(after.shipments).toEqual(o.shipments);
    const [entry] = (await e.store.getTimeline(order.id)).filter((t) => t.system === 'easypost');
    expect(entry).toMatchObject({ name: 'shipment.delivered', outcome: 'recorded' });
    expect(entry!.summary['reason']).toBe('order_closed');
    const ex = (await e.store.listExceptions({ status: 'open' })).find((x) => x.orderId === order.id);
    expect(ex).toMatchObject({ kind: 'conflict', owner: 'customer_service' });
    expect(ex!.lastError['details']).toMatchObject({
      reason: 'order_closed',
      milestone: 'delivered',
      trackingNumber: ez,
    });
    expect(ex!.lastError['raw']).toBe(body);

    // The same through the TMS's CloudEvents webhook: recorded, and kept with the event as sent.
    const event = validateInboundEvent('tms', {
      specversion: '1.0',
      id: 'tms-evt-closed',
      source: 'urn:tms',
      type: 'tms.milestone.v1',
      time: new Date().toISOString(),
      subject: order.id,
      datacontenttype: 'application/json',
      data: {
        milestoneId: 'scan-oos',
        shipmentId,
        carrier: 'USPS',
        trackingNumber: ez,
        milestone: 'out_for_delivery',
      },
    });
    await applyWebhook({ store: e.store, clock: e.clock }, event, { source: 'tms', id: event.id });
    const pushed = await e.store.getException(`fulfillment:${order.id}:order_closed:tms:scan-oos`);
    expect(pushed).toMatchObject({ kind: 'conflict', owner: 'customer_service' });
    expect(pushed!.lastError['raw']).toMatchObject({
      id: 'tms-evt-closed',
      data: { milestone: 'out_for_delivery' },
    });
    expect((await now()).state).toBe('cancelled');
  });

  test('malformed payloads and bad JSON are refused naming the field, kept with the raw body; a bad signature writes nothing', async () => {
    const good = JSON.parse(trackerUpdated('evt_m', [])) as { result: Record<string, unknown> };
    const noCode = JSON.stringify({ ...good, result: { ...good.result, tracking_code: undefined } });
    const e1 = await refusal(post(noCode));
    expect(e1.kind).toBe('data_quality');
    expect(e1.details).toMatchObject({ reason: 'malformed_carrier_payload', field: 'result.tracking_code' });
    const kept = await e.store.getException('carrier:easypost:malformed_carrier_payload');
    expect(kept?.lastError['raw']).toBe(noCode);

    const e2 = await refusal(post('{"object": "Event", '));
    expect(e2.details).toMatchObject({ reason: 'invalid_json', field: '(root)' });
    expect((await e.store.getException('carrier:easypost:invalid_json'))?.lastError['raw']).toBe(
      '{"object": "Event", ',
    );

    const before = await e.store.listExceptions({ status: 'open', limit: 1000 });
    const body = trackerUpdated('evt_s', [{ status: 'delivered', datetime: '2025-04-12T08:00:00Z' }]);
    expect((await refusal(post(body, 'not-the-secret-0123456789'))).details).toMatchObject({
      reason: 'signature_mismatch',
      field: 'x-hmac-signature',
    });
    expect((await refusal(post(body, null))).details).toMatchObject({ reason: 'signature_missing' });
    expect(await e.store.listExceptions({ status: 'open', limit: 1000 })).toEqual(before);
    expect((await now()).state).toBe('shipped');
  });
});
