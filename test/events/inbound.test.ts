/**
 * Inbound webhooks against the real stores (SQLite in memory and on file, PostgreSQL):
 * signature, allow-list per source, the order they name, application through the fulfillment
 * workflow's one milestone path, durable dedupe, and refusals counted on one exception per
 * cause with a rate limit on their writes.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { CrossdockError, customerStatus, type OrderState, type SalesOrder } from '../../src/domain/index.js';
import {
  type InboundDeps,
  RefusalLimiter,
  receiveWebhook,
  signatureHeader,
  signWebhook,
} from '../../src/events/index.js';
import type { Store } from '../../src/ports/index.js';
import { order as orderFixture } from '../../src/storage/contract/fixtures.js';
import { applyWebhook } from '../../src/workflows/fulfillment/index.js';
import { backends, ManualClock, openTestStore, type TestStore } from './support.js';

const secrets = {
  crm: 'crm-secret-0123456789',
  wms: 'wms-secret-0123456789',
  tms: 'tms-secret-0123456789',
  erp: 'erp-secret-0123456789',
};
type Source = keyof typeof secrets;

/** Every `order.*` type of the outbound catalogue: no source may ever send one. */
const orderTypes = [
  'order.accepted.v1',
  'order.held.v1',
  'order.rejected.v1',
  'order.status_changed.v1',
  'order.cancelled.v1',
];

describe.each(backends)('inbound webhooks on %s', (backend) => {
  let ts: TestStore;
  let store: Store;
  let clock: ManualClock;
  let seq = 0;
  beforeEach(async () => {
    clock = new ManualClock();
    ts = await openTestStore(backend, clock);
    store = ts.store;
    await store.putSubscriptions([{ name: 'all', types: [], ordering: 'strict', active: true }]);
  });
  afterEach(async () => ts.dispose());

  const deps = (extra: Partial<InboundDeps> = {}): InboundDeps => ({
    store,
    clock,
    secrets,
    apply: (event, inbound) => applyWebhook({ store, clock }, event, inbound),
    ...extra,
  });

  async function putOrder(id: string, state: OrderState): Promise<SalesOrder> {
    const o = orderFixture(id, { state, customerStatus: customerStatus(state, false) });
    await store.commit({ order: { next: o, expectedVersion: null } });
    return o;
  }

  /** A signed CloudEvent body as a sender would post it. */
  function body(
    type: string,
    subject: string,
    data: Record<string, unknown>,
    options: { id?: string; source?: string } = {},
  ): string {
    return JSON.stringify({
      specversion: '1.0',
      id: options.id ?? `evt-${++seq}`,
      source: options.source ?? 'urn:somewhere-else',
      type,
      time: clock.now().toISOString(),
      subject,
      datacontenttype: 'application/json',
      data,
    });
  }
  const sign = (source: Source, raw: string) => ({
    [signatureHeader]: signWebhook(secrets[source], raw, Math.floor(clock.now().getTime() / 1000)),
  });
  const send = (source: Source, raw: string, extra: Partial<InboundDeps> = {}) =>
    receiveWebhook(deps(extra), { source, rawBody: raw, headers: sign(source, raw) });
  const refusal = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CrossdockError);
    return err as CrossdockError;
  };
  const wms = (milestone: string, milestoneId: string, extra: Record<string, unknown> = {}) => ({
    milestoneId,
    shipmentId: 'WO-1',
    warehouseId: 'WH-EAST',
    milestone,
    ...extra,
  });

  test('a WMS shipped milestone moves a released order to shipped once; a re-send is a duplicate; a late picked is recorded and moves nothing back', async () => {
    await putOrder('ord-1', 'released');
    const shipped = body('wms.milestone.v1', 'ord-1', wms('shipped', 'm-shipped'), { id: 'wh-1' });
    const first = await send('wms', shipped);
    expect(first.status).toBe('accepted');
    expect((await store.getOrder('ord-1'))?.state).toBe('shipped');

    // The same delivery again: nothing is written.
    expect((await send('wms', shipped)).status).toBe('duplicate');
    // The same milestone under a new delivery id (a retried webhook): recorded, not re-applied.
    const again = await send('wms', body('wms.milestone.v1', 'ord-1', wms('shipped', 'm-shipped')));
    expect(again.status).toBe('accepted');
    // A late picked scan after shipped: recorded, the order stays shipped.
    const late = await send('wms', body('wms.milestone.v1', 'ord-1', wms('picked', 'm-picked')));
    expect(late.status).toBe('accepted');

    const order = (await store.getOrder('ord-1'))!;
    expect(order.state).toBe('shipped');
    expect(order.shipments).toHaveLength(1);
    expect(order.shipments[0]!.status).toBe('shipped');
    expect(order.shipments[0]!.events.map((e) => e.id)).toEqual(['wms:m-shipped', 'wms:m-picked']);

    const timeline = (await store.getTimeline('ord-1')).filter((e) => e.name.startsWith('shipment.'));
    expect(timeline.map((e) => [e.name, e.outcome, e.summary['reason'] ?? null])).toEqual([
      ['shipment.shipped', 'applied', null],
      ['shipment.shipped', 'recorded', 'duplicate'],
      ['shipment.picked', 'recorded', 'not_forward'],
    ]);
    expect(timeline.every((e) => e.system === 'urn:wms')).toBe(true);

    // The outbox holds the hub's own events, never the received ones.
    const events = (await store.readEvents({ limit: 100 })).map((r) => r.event);
    expect(events.map((e) => [e.type, e.data['milestone'] ?? e.data['state']])).toEqual([
      ['shipment.milestone.v1', 'shipped'],
      ['order.status_changed.v1', 'shipped'],
      ['shipment.milestone.v1', 'picked'],
    ]);
    expect(events.every((e) => e.source === '/crossdock/webhooks/wms')).toBe(true);
    expect(events.some((e) => e.id === 'wh-1')).toBe(false);
    expect(JSON.stringify({ events, timeline })).not.toContain('somewhere-else');
  });

  test('forged order.* events are refused from every source and write no outbox row', async () => {
    await putOrder('ord-2', 'accepted');
    for (const source of Object.keys(secrets) as Source[]) {
      for (const type of orderTypes) {
        const raw = body(type, 'ord-2', {
          orderId: 'ord-2',
          customerId: 'c1',
          state: 'accepted',
          customerStatus: 'Confirmed',
          erpOrderNumber: 'SO-FORGED',
          total: 18,
          currency: 'USD',
          lines: [],
        });
        const err = await refusal(send(source, raw));
        expect(err.kind).toBe('data_quality');
        expect(err.details).toMatchObject({ reason: 'type_not_allowed', field: 'type', source });
      }
      // Another source's fact is not this source's to tell either.
      const other = source === 'tms' ? 'wms.milestone.v1' : 'tms.milestone.v1';
      const err = await refusal(send(source, body(other, 'ord-2', {})));
      expect(err.details['reason']).toBe('type_not_allowed');
    }
    expect(await store.readEvents({ limit: 10 })).toEqual([]);
    const order = (await store.getOrder('ord-2'))!;
    expect(order.version).toBe(1);
    expect(order.state).toBe('accepted');
    // One open exception per source for this cause, counting every refusal.
    const ex = await store.listExceptions({ status: 'open' });
    expect(ex.map((e) => [e.id, e.attempts]).sort()).toEqual([
      ['inbound:crm:type_not_allowed', 6],
      ['inbound:erp:type_not_allowed', 6],
      ['inbound:tms:type_not_allowed', 6],
      ['inbound:wms:type_not_allowed', 6],
    ]);
  });

  test('a milestone for an order the hub does not have is refused with the payload ids kept', async () => {
    const raw = body('wms.milestone.v1', 'ord-nope', wms('shipped', 'm-x'), { id: 'wh-unknown' });
    const err = await refusal(send('wms', raw));
    expect(err.details).toMatchObject({ reason: 'unknown_order', field: 'subject' });
    const [ex] = await store.listExceptions({ status: 'open' });
    expect(ex?.id).toBe('inbound:wms:unknown_order');
    expect(ex?.lastError['last']).toEqual({
      id: 'wh-unknown',
      type: 'wms.milestone.v1',
      subject: 'ord-nope',
      eventSource: 'urn:wms',
    });
    expect(ex?.lastError['bytes']).toBe(Buffer.byteLength(raw));
    expect(await store.readEvents({ limit: 10 })).toEqual([]);
  });

  test('a schema failure names the field; a sender cannot set the hub state', async () => {
    await putOrder('ord-3', 'released');
    const err = await refusal(send('wms', body('wms.milestone.v1', 'ord-3', wms('teleported', 'm-t'))));
    expect(err.details).toMatchObject({ reason: 'schema', field: 'data.milestone' });
    const envelope = await refusal(
      send('wms', JSON.stringify({ specversion: '1.0', id: 'x', type: 'wms.milestone.v1' })),
    );
    expect(envelope.details['reason']).toBe('invalid_envelope');
    // The hub's own fields in a WMS body are not the WMS's to say: ignored, the milestone rules.
    await send(
      'wms',
      body('wms.milestone.v1', 'ord-3', {
        ...wms('picked', 'm-p'),
        state: 'delivered',
        customerStatus: 'Delivered',
      }),
    );
    expect((await store.getOrder('ord-3'))?.state).toBe('picked');
  });

  test('an order still being decided is answered retryable and nothing is recorded; the retry after acceptance applies', async () => {
    const o = await putOrder('ord-4', 'validating');
    const raw = body('wms.milestone.v1', 'ord-4', wms('released', 'm-r'), { id: 'wh-pending' });
    const err = await refusal(send('wms', raw));
    expect(err.kind).toBe('transient');
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(await store.listExceptions({ status: 'open' })).toEqual([]);
    expect(await store.getTimeline('ord-4')).toEqual([]);
    await store.commit({
      order: {
        next: { ...o, version: 2, state: 'accepted', customerStatus: 'Confirmed' },
        expectedVersion: 1,
      },
    });
    expect((await send('wms', raw)).status).toBe('accepted');
    expect((await store.getOrder('ord-4'))?.state).toBe('released');
  });

  test('a milestone for a cancelled order is recorded in its timeline and changes nothing else', async () => {
    await putOrder('ord-5', 'cancelled');
    expect((await send('wms', body('wms.milestone.v1', 'ord-5', wms('shipped', 'm-s')))).status).toBe(
      'accepted',
    );
    const order = (await store.getOrder('ord-5'))!;
    expect(order.state).toBe('cancelled');
    expect(order.shipments).toEqual([]);
    const [entry] = await store.getTimeline('ord-5');
    expect(entry).toMatchObject({ name: 'shipment.shipped', outcome: 'recorded' });
    expect(entry?.summary['reason']).toBe('order_closed');
    expect(await store.readEvents({ limit: 10 })).toEqual([]);
  });

  test('TMS delivered and ERP invoice facts go through the same path', async () => {
    await putOrder('ord-6', 'shipped');
    await send(
      'tms',
      body('tms.milestone.v1', 'ord-6', {
        milestoneId: 'scan-1',
        shipmentId: 'WO-1',
        carrier: 'ACME',
        trackingNumber: '1Z999',
        milestone: 'delivered',
      }),
    );
    expect((await store.getOrder('ord-6'))?.state).toBe('delivered');
    await send(
      'erp',
      body('erp.invoice.v1', 'ord-6', {
        erpOrderId: 'SO-6',
        invoiceId: 'INV-6',
        status: 'posted',
        number: 'F-0006',
        amount: 18,
        currency: 'USD',
      }),
    );
    const order = (await store.getOrder('ord-6'))!;
    expect(order.state).toBe('invoiced');
    expect(order.invoices.map((i) => [i.number, i.amount])).toEqual([['F-0006', 18]]);
    const types = (await store.readEvents({ limit: 10 })).map((r) => r.event.type);
    expect(types).toEqual([
      'shipment.milestone.v1',
      'order.status_changed.v1',
      'order.status_changed.v1',
      'invoice.issued.v1',
    ]);
  });

  test('1,000 bad signatures make one open exception counting them all, with its writes rate-limited', async () => {
    const refusals = new RefusalLimiter(clock, { perSecond: 1, burst: 10 });
    const raw = body('wms.milestone.v1', 'ord-1', wms('shipped', 'm-1'));
    const forged = {
      [signatureHeader]: signWebhook('not-the-secret', raw, Math.floor(clock.now().getTime() / 1000)),
    };
    let written = 0;
    let limited = 0;
    for (let i = 0; i < 1000; i++) {
      const err = await refusal(
        receiveWebhook(deps({ refusals }), { source: 'wms', rawBody: raw, headers: forged }),
      );
      if (err.details['reason'] === 'rate_limited') {
        limited++;
        expect(err.retryAfterMs).toBeGreaterThan(0);
      } else {
        expect(err.details['reason']).toBe('signature_mismatch');
        written++;
      }
    }
    expect(written).toBe(10);
    expect(limited).toBe(990);
    let ex = await store.listExceptions({ status: 'open' });
    expect(ex).toHaveLength(1);
    expect(ex[0]?.id).toBe('inbound:wms:signature_mismatch');
    expect(ex[0]?.attempts).toBeGreaterThanOrEqual(written);
    // A second later the next refusal is written and carries the ones only counted in memory.
    clock.advance(1000);
    await refusal(receiveWebhook(deps({ refusals }), { source: 'wms', rawBody: raw, headers: forged }));
    ex = await store.listExceptions({ status: 'open' });
    expect(ex).toHaveLength(1);
    expect(ex[0]?.attempts).toBe(1001);
    expect(await store.readEvents({ limit: 10 })).toEqual([]);
  });
});
