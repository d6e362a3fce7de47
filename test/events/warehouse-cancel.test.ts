/**
 * `warehouse-planning` and cancelled orders, on SQLite and PostgreSQL with the WMS simulator: the
 * cancellation stops a warehouse order that has not shipped; one that shipped although the hub
 * did not know it had (the cancellation crossed the truck) is a conflict for logistics naming it;
 * one the hub knew had shipped (a cancelled remainder) is fine; a release whose order was
 * cancelled before it went out releases nothing.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { CrossdockError, newEvent, type SalesOrder } from '../../src/domain/index.js';
import type { AnalyticsSink } from '../../src/events/analytics-sink.js';
import { type DeliveryContext, standardSubscriptions, subscriptionNames } from '../../src/events/index.js';
import { createSimulators, type Simulators } from '../../src/simulators/index.js';
import { order as orderFixture } from '../../src/storage/contract/fixtures.js';
import { openTestStore, type TestBackend, type TestStore } from './support.js';

describe.each(['sqlite-memory', 'postgres'] as TestBackend[])(
  'warehouse planning for cancelled orders on %s',
  (backend) => {
    let ts: TestStore;
    let sims: Simulators;
    beforeEach(async () => {
      ts = await openTestStore(backend);
      sims = createSimulators({ seed: 42, clock: { now: () => new Date() } });
    });
    afterEach(async () => ts.dispose());

    const planning = () =>
      standardSubscriptions({
        crm: sims.crm,
        notifications: sims.notifications,
        wms: sims.wms,
        store: ts.store,
        // Not delivered to by warehouse planning.
        analytics: {} as AnalyticsSink,
      }).find((r) => r.name === subscriptionNames.warehousePlanning)!;

    const ctx = (key: string): DeliveryContext =>
      ({
        subscription: subscriptionNames.warehousePlanning,
        deliveryId: key,
        eventSeq: 1,
        key,
        attempt: 1,
        idempotencyKey: `idem-${key}`,
        now: new Date(),
      }) as DeliveryContext;

    async function stored(id: string, overrides: Partial<SalesOrder>): Promise<SalesOrder> {
      const sku = sims.picks.inPolicy.lines[0]!.sku;
      const o = orderFixture(id, {
        lines: [
          {
            lineNo: 1,
            sku,
            quantity: 1,
            uom: 'EA',
            unitPrice: 1,
            agreedPrice: 1,
            allocations: [{ warehouseId: 'WH-EAST', quantity: 1 }],
            backorderedQuantity: 0,
            promiseDate: null,
          },
        ],
        ...overrides,
      });
      await ts.store.commit({ order: { next: o, expectedVersion: null } });
      return o;
    }

    async function release(hubOrderId: string) {
      return sims.wms.releaseOrder({
        idempotencyKey: `rel-${hubOrderId}`,
        hubOrderId,
        warehouseId: 'WH-EAST',
        shipTo: sims.picks.inPolicy.customer.addresses[0]!,
        shippingMethod: 'ground',
        lines: [{ sku: sims.picks.inPolicy.lines[0]!.sku, quantity: 1 }],
      });
    }

    const cancelled = (o: SalesOrder, partial = false) =>
      newEvent('order.cancelled.v1', o.id, {
        orderId: o.id,
        customerId: o.customerId,
        state: o.state,
        customerStatus: o.customerStatus,
        reason: 'customer_request',
        ...(partial ? { partial: true } : {}),
      });

    test('a warehouse order not shipped is stopped; a repeat changes nothing', async () => {
      const o = await stored(`wc-a-${backend}`, { state: 'cancelled' });
      const wo = await release(o.id);
      await planning().handler(cancelled(o), ctx(o.id));
      expect(sims.wms.order(wo.wmsOrderId)?.status).toBe('cancelled');
      await planning().handler(cancelled(o), ctx(o.id));
      expect(sims.wms.ordersOf(o.id)).toHaveLength(1);
    });

    test('one that shipped unknown to the hub is a conflict for logistics naming it; one the hub knew shipped is fine', async () => {
      const o = await stored(`wc-b-${backend}`, { state: 'cancelled' });
      const wo = await release(o.id);
      sims.wms.advance(wo.wmsOrderId, 'shipped');
      const err = await planning()
        .handler(cancelled(o), ctx(o.id))
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(CrossdockError);
      expect(err).toMatchObject({
        kind: 'conflict',
        owner: 'logistics',
        retryable: false,
        details: { orderId: o.id, shipped: [{ wmsOrderId: wo.wmsOrderId, warehouseId: 'WH-EAST' }] },
      });

      const known = await stored(`wc-c-${backend}`, { state: 'shipped' });
      const shippedWo = await release(known.id);
      sims.wms.advance(shippedWo.wmsOrderId, 'shipped');
      const withShipment: SalesOrder = {
        ...known,
        version: 2,
        shipments: [
          {
            id: shippedWo.wmsOrderId,
            orderId: known.id,
            warehouseId: 'WH-EAST',
            lines: [],
            status: 'shipped',
            events: [],
            externalIds: {},
          },
        ],
      };
      await ts.store.commit({ order: { next: withShipment, expectedVersion: 1 } });
      await expect(planning().handler(cancelled(withShipment, true), ctx(known.id))).resolves.toBeUndefined();
    });

    test('a release whose order was cancelled before it went out releases nothing', async () => {
      const o = await stored(`wc-d-${backend}`, { state: 'cancelled' });
      const accepted = newEvent('order.accepted.v1', o.id, {
        orderId: o.id,
        customerId: o.customerId,
        state: 'accepted',
        customerStatus: 'Confirmed',
        erpOrderNumber: 'SO1',
        total: 1,
        currency: 'USD',
        lines: [],
      });
      expect(await planning().handler(accepted, ctx(o.id))).toBe('skipped');
      expect(sims.wms.ordersOf(o.id)).toEqual([]);
    });
  },
);
