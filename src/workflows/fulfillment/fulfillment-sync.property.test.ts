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
const tmsTypes = ['in_transit', 'out_for_delivery', 'delivered', 'exception'] as TmsMilestoneType[];

/**
 * The state each milestone asks for, with one shipment carrying the whole order: a carrier scan
 * in transit or out for delivery means it left (shipped), an exception asks for nothing.
 */
function requested(m: Milestone): OrderState | null {
  if (m.system === 'wms') return m.type as OrderState;
  if (m.type === 'exception') return null;
  return m.type === 'delivered' ? 'delivered' : 'shipped';
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

/**
 * A split order: two lines allocated at two warehouses, one warehouse order (shipment) each. Its
 * milestones come per shipment, duplicated, reordered, cut into polls; sometimes a bogus `shipped`
 * report claims more of a SKU than was ordered.
 */
const split = {
  lines: [
    { sku: 'SKU-E', quantity: 2, warehouseId: 'WH-EAST', shipmentId: 'WO-E' },
    { sku: 'SKU-W', quantity: 3, warehouseId: 'WH-WEST', shipmentId: 'WO-W' },
  ],
} as const;

interface SplitMilestone extends Milestone {
  shipment: 0 | 1;
  /** A shipped report claiming more than ordered: must be refused, every time. */
  bogus?: boolean;
}

function splitOrder(id: string): SalesOrder {
  const base = acceptedOrder(id);
  return {
    ...base,
    lines: split.lines.map((l, i) => ({
      lineNo: i + 1,
      sku: l.sku,
      quantity: l.quantity,
      uom: 'EA' as const,
      unitPrice: 10,
      agreedPrice: 10,
      allocations: [{ warehouseId: l.warehouseId, quantity: l.quantity }],
      backorderedQuantity: 0,
      promiseDate: null,
    })),
    total: 50,
    fulfillmentPlan: { strategy: 'split', rationale: 'test' },
  };
}

function deliverSplit(feeds: ScriptedFeeds, orderId: string, m: SplitMilestone): void {
  const line = split.lines[m.shipment];
  const at = clock.now().toISOString();
  if (m.system === 'wms') {
    const lines =
      m.type === 'allocated' || m.type === 'shipped'
        ? [{ sku: line.sku, quantity: m.bogus ? line.quantity + 3 : line.quantity }]
        : undefined;
    feeds.wmsLog.push({
      id: m.id,
      deliveryId: `w${feeds.wmsLog.length + 1}`,
      hubOrderId: orderId,
      shipmentId: line.shipmentId,
      warehouseId: line.warehouseId,
      type: m.type as WmsMilestoneType,
      at,
      ...(lines ? { lines } : {}),
    });
  } else {
    feeds.tmsLog.push({
      id: m.id,
      deliveryId: `t${feeds.tmsLog.length + 1}`,
      hubOrderId: orderId,
      shipmentId: line.shipmentId,
      warehouseId: line.warehouseId,
      carrier: 'UPS',
      trackingNumber: `1Z-${line.shipmentId}`,
      type: m.type as TmsMilestoneType,
      at,
    });
  }
}

/** Whether a milestone means its shipment left the warehouse / was delivered. */
const leaves = (m: SplitMilestone) =>
  !m.bogus && (m.system === 'wms' ? m.type === 'shipped' : m.type !== 'exception');
const delivers = (m: SplitMilestone) => !m.bogus && m.system === 'tms' && m.type === 'delivered';

/**
 * The state the order must end in: the furthest state any milestone asks for, judged on the
 * whole set (what each shipment reached only grows, so the last report of each kind asks for
 * the most): leaving asks for shipped when both shipments left, else partially_shipped;
 * delivered asks for delivered when both were delivered.
 */
function expectedSplitState(milestones: SplitMilestone[]): OrderState {
  const left = [0, 1].map((i) => milestones.some((m) => m.shipment === i && leaves(m)));
  const delivered = [0, 1].map((i) => milestones.some((m) => m.shipment === i && delivers(m)));
  const allLeft = left.every(Boolean);
  let best: OrderState = 'accepted';
  for (const m of milestones) {
    if (m.bogus) continue;
    let s: OrderState | null;
    if (delivers(m))
      s = allLeft && delivered.every(Boolean) ? 'delivered' : allLeft ? 'shipped' : 'partially_shipped';
    else if (leaves(m)) s = allLeft ? 'shipped' : 'partially_shipped';
    else s = m.system === 'wms' ? (m.type as OrderState) : null;
    if (s && stateRank(s) > stateRank(best)) best = s;
  }
  return best;
}

const splitMilestonesArb: fc.Arbitrary<SplitMilestone[]> = fc
  .tuple(
    fc.uniqueArray(
      fc.record({
        shipment: fc.constantFrom(0 as const, 1 as const),
        m: fc.oneof(
          fc.constantFrom(...wmsTypes).map((type) => ({ system: 'wms' as const, type })),
          fc.constantFrom(...tmsTypes).map((type) => ({ system: 'tms' as const, type })),
        ),
      }),
      { minLength: 1, maxLength: 14, selector: (x) => `${x.shipment}:${x.m.system}:${x.m.type}` },
    ),
    fc.option(fc.constantFrom(0 as const, 1 as const), { nil: undefined }),
  )
  .map(([ms, bogus]) => {
    const out: SplitMilestone[] = ms.map((x, i) => ({ ...x.m, shipment: x.shipment, id: `S${i}` }));
    if (bogus !== undefined)
      out.push({ system: 'wms', type: 'shipped', shipment: bogus, id: 'BOGUS', bogus: true });
    return out;
  });

const splitScenarioArb = splitMilestonesArb.chain((milestones) =>
  fc.record({
    milestones: fc.constant(milestones),
    deliveries: fc
      .array(fc.integer({ min: 1, max: 3 }), { minLength: milestones.length, maxLength: milestones.length })
      .chain((counts) =>
        fc.shuffledSubarray(
          counts.flatMap((n, i) => Array.from({ length: n }, () => i)),
          { minLength: counts.reduce((s, n) => s + n, 0) },
        ),
      ),
    cuts: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 10 }),
    rewind: fc.boolean(),
  }),
);

describe('FulfillmentSync of a split order under random, duplicated and reordered milestones', () => {
  test('the order is partially_shipped until both shipments left and delivered only when both were; an over-shipment is refused every time', async () => {
    await fc.assert(
      fc.asyncProperty(splitScenarioArb, async ({ milestones, deliveries, cuts, rewind }) => {
        const store = await createStore({ url: ':memory:' });
        try {
          const orderId = 'ord_split';
          await store.commit({ order: { next: splitOrder(orderId), expectedVersion: null } });
          const feeds = new ScriptedFeeds();
          const sync = new FulfillmentSync({ store, clock, wms: feeds.wms, tms: feeds.tms, pageSize: 3 });
          let at = 0;
          for (const cut of [...cuts, deliveries.length]) {
            for (const i of deliveries.slice(at, at + cut)) deliverSplit(feeds, orderId, milestones[i]!);
            at = Math.min(deliveries.length, at + cut);
            await sync.syncOnce();
            if (rewind) {
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
          const expected = expectedSplitState(milestones);
          expect(order.state).toBe(expected);
          const left = [0, 1].filter((i) => milestones.some((m) => m.shipment === i && leaves(m))).length;
          if (expected === 'partially_shipped') {
            expect(order.customerStatus).toBe(`Partially shipped (${left} of 2)`);
          }
          // Shipped quantities never exceed what was ordered, per SKU.
          for (const line of split.lines) {
            const shipment = order.shipments.find((s) => s.id === line.shipmentId);
            const qty = shipment?.lines.find((l) => l.sku === line.sku)?.quantity ?? 0;
            expect(qty).toBeLessThanOrEqual(line.quantity);
          }

          const timeline = (await store.getTimeline(orderId)).filter((t) => t.kind === 'event');
          expect(timeline).toHaveLength(deliveries.length);
          for (const [i, m] of milestones.entries()) {
            const delivered = deliveries.filter((d) => d === i).length;
            const recorded = timeline.filter((t) => t.summary['milestoneId'] === `${m.system}:${m.id}`);
            expect(recorded).toHaveLength(delivered);
            if (m.bogus) {
              expect(recorded.map((t) => t.outcome)).toEqual(recorded.map(() => 'refused'));
            } else {
              expect(recorded.filter((t) => t.summary['repeat'] === false)).toHaveLength(1);
            }
          }
          const bogus = milestones.find((m) => m.bogus);
          const exceptions = await store.listExceptions({ status: 'open' });
          expect(exceptions.map((e) => e.id)).toEqual(
            bogus ? [`fulfillment:${orderId}:over_shipment:wms:BOGUS`] : [],
          );
          if (bogus) {
            expect(exceptions[0]!.kind).toBe('data_quality');
            expect(exceptions[0]!.lastError['raw']).toMatchObject({ id: 'BOGUS', type: 'shipped' });
          }
          const moved = timeline.filter((t) => t.summary['applied'] === true).length;
          const outbox = (await store.readEvents({ fromSeq: 0, limit: 1000 })).map((e) => e.event.type);
          expect(outbox.filter((t) => t === 'order.status_changed.v1')).toHaveLength(moved);
          expect(outbox.filter((t) => t === 'shipment.milestone.v1')).toHaveLength(
            milestones.filter((m) => !m.bogus).length,
          );
        } finally {
          await store.close();
        }
      }),
      { numRuns: 80 },
    );
  });
});
