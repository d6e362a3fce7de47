import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { type OrderState, type SalesOrder, stateRank } from '../../domain/index.js';
import type {
  Clock,
  TmsFeedMilestone,
  TmsMilestonePage,
  TmsMilestoneType,
  TmsPort,
  WmsFeedMilestone,
  WmsMilestonePage,
  WmsMilestoneType,
  WmsPort,
} from '../../ports/index.js';
import { createStore } from '../../storage/index.js';
import { FulfillmentSync, fulfillmentCursorName } from './fulfillment-sync.js';

const clock: Clock = { now: () => new Date('2025-06-15T12:00:00Z') };

/** A scripted warehouse/carrier: whatever deliveries the test appends, in that order. */
class ScriptedFeeds {
  readonly wmsLog: WmsFeedMilestone[] = [];
  readonly tmsLog: TmsFeedMilestone[] = [];

  readonly wms: WmsPort = {
    system: 'wms-script',
    getInventory: async () => [],
    releaseOrder: async () => ({ wmsOrderId: 'WO-1', duplicate: false }),
    milestonesSince: async (since, limit = 100): Promise<WmsMilestonePage> => {
      const start = Number(since ?? 0);
      const page = this.wmsLog.slice(start, start + limit);
      return { milestones: page, watermark: String(start + page.length) };
    },
  };

  readonly tms: TmsPort = {
    system: 'tms-script',
    bookShipment: async () => ({ carrier: 'UPS', trackingNumber: '1Z', duplicate: false }),
    milestonesSince: async (since, limit = 100): Promise<TmsMilestonePage> => {
      const start = Number(since ?? 0);
      const page = this.tmsLog.slice(start, start + limit);
      return { milestones: page, watermark: String(start + page.length) };
    },
  };

  deliver(orderId: string, m: Milestone): void {
    if (m.system === 'wms') {
      this.wmsLog.push({
        id: m.id,
        deliveryId: `w${this.wmsLog.length + 1}`,
        hubOrderId: orderId,
        shipmentId: 'WO-1',
        warehouseId: 'WH-EAST',
        type: m.type as WmsMilestoneType,
        at: clock.now().toISOString(),
      });
    } else {
      this.tmsLog.push({
        id: m.id,
        deliveryId: `t${this.tmsLog.length + 1}`,
        hubOrderId: orderId,
        shipmentId: 'WO-1',
        carrier: 'UPS',
        trackingNumber: '1Z999',
        type: m.type as TmsMilestoneType,
        at: clock.now().toISOString(),
      });
    }
  }
}

interface Milestone {
  id: string;
  system: 'wms' | 'tms';
  type: string;
}

const wmsTypes: WmsMilestoneType[] = ['released', 'allocated', 'backordered', 'picked', 'packed', 'shipped'];
const tmsTypes: TmsMilestoneType[] = ['in_transit', 'delivered', 'exception'];

/** The state each milestone asks for (TMS in_transit/exception: none). */
function requested(m: Milestone): OrderState | null {
  if (m.system === 'wms') return m.type as OrderState;
  return m.type === 'delivered' ? 'delivered' : null;
}

function acceptedOrder(id: string): SalesOrder {
  const now = clock.now().toISOString();
  return {
    id,
    version: 1,
    source: { system: 'crm', ref: id },
    customerId: 'CUST-1',
    currency: 'USD',
    shipTo: { kind: 'shipping', line1: '1 Main St', city: 'Springfield', postalCode: '62701', country: 'US' },
    shippingMethod: 'ground',
    lines: [
      {
        lineNo: 1,
        sku: 'SKU-1',
        quantity: 2,
        uom: 'EA',
        unitPrice: 10,
        agreedPrice: 10,
        allocations: [],
        backorderedQuantity: 0,
        promiseDate: null,
      },
    ],
    total: 20,
    state: 'accepted',
    customerStatus: 'Confirmed',
    milestones: [],
    holds: [],
    rejection: null,
    fulfillmentPlan: null,
    externalIds: {},
    shipments: [],
    invoices: [],
    correlationId: `corr-${id}`,
    createdAt: now,
    updatedAt: now,
  };
}

const milestoneArb: fc.Arbitrary<Milestone[]> = fc
  .uniqueArray(
    fc.oneof(
      fc.constantFrom(...wmsTypes).map((type) => ({ system: 'wms' as const, type })),
      fc.constantFrom(...tmsTypes).map((type) => ({ system: 'tms' as const, type })),
    ),
    { minLength: 1, maxLength: 9, selector: (m) => `${m.system}:${m.type}` },
  )
  .map((ms) => ms.map((m, i) => ({ ...m, id: `M${i}` })));

/** Deliveries: every milestone 1–3 times, in any order, cut into polls; sometimes a lost cursor. */
const scenarioArb = milestoneArb.chain((milestones) =>
  fc.record({
    milestones: fc.constant(milestones),
    deliveries: fc
      .array(fc.integer({ min: 1, max: 3 }), { minLength: milestones.length, maxLength: milestones.length })
      .chain((counts) =>
        fc.shuffledSubarray(
          counts.flatMap((n, i) => Array.from({ length: n }, () => i)),
          {
            minLength: counts.reduce((s, n) => s + n, 0),
          },
        ),
      ),
    cuts: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 10 }),
    rewind: fc.boolean(),
  }),
);

describe('FulfillmentSync under random, duplicated and reordered milestones', () => {
  test('the final state is the furthest milestone and every delivery is in the timeline exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ milestones, deliveries, cuts, rewind }) => {
        const store = await createStore({ url: ':memory:' });
        try {
          const orderId = 'ord_prop';
          await store.commit({ order: { next: acceptedOrder(orderId), expectedVersion: null } });
          const feeds = new ScriptedFeeds();
          const sync = new FulfillmentSync({ store, clock, wms: feeds.wms, tms: feeds.tms, pageSize: 2 });
          let at = 0;
          for (const cut of [...cuts, deliveries.length]) {
            for (const i of deliveries.slice(at, at + cut)) feeds.deliver(orderId, milestones[i]!);
            at = Math.min(deliveries.length, at + cut);
            await sync.syncOnce();
            if (rewind) {
              // A poller that lost its cursor re-reads the feeds: the inbound dedupe must hold.
              await store.commit({
                cursors: [
                  { name: fulfillmentCursorName('wms', 'wms-script'), value: '0' },
                  { name: fulfillmentCursorName('tms', 'tms-script'), value: '0' },
                ],
              });
              await sync.syncOnce();
            }
          }
          const order = (await store.getOrder(orderId))!;
          const furthest = milestones
            .map(requested)
            .filter((s): s is OrderState => s !== null)
            .reduce<OrderState>((best, s) => (stateRank(s) > stateRank(best) ? s : best), 'accepted');
          expect(order.state).toBe(furthest);

          const timeline = (await store.getTimeline(orderId)).filter((t) => t.kind === 'event');
          expect(timeline).toHaveLength(deliveries.length);
          for (const [i, m] of milestones.entries()) {
            const delivered = deliveries.filter((d) => d === i).length;
            const recorded = timeline.filter((t) => t.summary['milestoneId'] === `${m.system}:${m.id}`);
            expect(recorded).toHaveLength(delivered);
            expect(recorded.filter((t) => t.summary['repeat'] === false)).toHaveLength(1);
          }
          const moved = timeline.filter((t) => t.summary['applied'] === true).length;
          const outbox = (await store.readEvents({ fromSeq: 0, limit: 1000 })).map((e) => e.event.type);
          expect(outbox.filter((t) => t === 'order.status_changed.v1')).toHaveLength(moved);
          expect(outbox.filter((t) => t === 'shipment.milestone.v1')).toHaveLength(milestones.length);
        } finally {
          await store.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
