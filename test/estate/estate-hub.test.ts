/**
 * The estate driver in a whole hub, on SQLite and on PostgreSQL, with a manual clock: orders go
 * in over HTTP and the test only moves the clock (and, for receipts, runs the hub's own
 * inventory refresh once, as its 30-second timer would). No test code calls a simulator: the
 * estate picks, packs, ships, carries, delivers, invoices, short-picks, delays and receives.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { SalesOrder, TimelineEntry } from '../../src/domain/index.js';
import { InventoryRefresh } from '../../src/workflows/fulfillment/index.js';
import { drained, type HubUnderTest, openHub, submitOrder, until } from '../fulfillment/hub.js';
import { submissionFor } from '../fulfillment/support.js';
import { ManualClock } from '../workflows/support.js';

const twelveHours = 12 * 3_600_000;

/** One second of estate time per step, no jitter, nothing random unless a test says so. */
function estate(overrides: Record<string, unknown> = {}) {
  return {
    enabled: true,
    tickMs: 20,
    jitter: 0,
    dwell: {
      pick: 1000,
      pack: 1000,
      ship: 1000,
      inTransit: 1000,
      outForDelivery: 1000,
      deliver: 1000,
      exceptionRecovery: 1000,
      returnTransit: 1000,
    },
    shortPickRate: 0,
    carrierExceptionRate: 0,
    returnRate: 0,
    // Far beyond delivery (the loops below move a second of estate time per 25 ms), so the order
    // is delivered before it is invoiced however slow the machine; the test jumps there.
    invoiceAfterMs: twelveHours,
    paymentAfterMs: twelveHours,
    receiptEveryMs: 5000,
    ...overrides,
  };
}

const open: HubUnderTest[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

async function hubWith(name: string, backend: 'sqlite' | 'postgres', settings: Record<string, unknown>) {
  const clock = new ManualClock();
  const h = await openHub(name, backend, { clock, overrides: { simulators: { estate: estate(settings) } } });
  open.push(h);
  return { h, clock };
}

/** Moves the clock a second at a time until `ok` holds; each poll also runs `each` if given. */
async function advanceUntil<T>(
  clock: ManualClock,
  what: string,
  ok: () => Promise<T | null | undefined | false>,
  each?: () => Promise<void>,
): Promise<T> {
  return until(
    what,
    async () => {
      clock.advance(1000);
      await each?.();
      return ok();
    },
    60_000,
  );
}

const names = (t: TimelineEntry[]) => t.map((e) => e.name);

/** `sub` appears in `all` in this order (other entries may come between). */
function inOrder(all: string[], sub: string[]): boolean {
  let i = 0;
  for (const n of all) if (n === sub[i]) i++;
  return i === sub.length;
}

describe.each(['sqlite', 'postgres'] as const)('the estate in a hub on %s', (backend) => {
  test('an order released by the hub is delivered, invoiced and paid on the clock alone; its timeline grows milestone by milestone', async () => {
    const { h, clock } = await hubWith('estate-flow', backend, {});
    const { hub } = h;
    expect(hub.estate?.running).toBe(true);
    const sims = hub.sims!;
    const sku = sims.picks.inPolicy.lines[0]!.sku;
    const order = await submitOrder(h, await submissionFor(hub.store, sims, [{ sku, quantity: 2 }]));
    expect(order.state).toBe('accepted');

    const snapshots: string[][] = [];
    const get = async (): Promise<SalesOrder> => (await hub.store.getOrder(order.id))!;
    const delivered = await advanceUntil(clock, 'delivered', async () => {
      const t = names(await hub.store.getTimeline(order.id));
      if (snapshots.length === 0 || t.length !== snapshots.at(-1)!.length) snapshots.push(t);
      const o = await get();
      return o.state === 'delivered' ? o : null;
    });
    expect(delivered.customerStatus).toBe('Delivered');
    // The warehouse's shipment, booked with a carrier (the ERP's own stays planned).
    const shipment = delivered.shipments.find((s) => s.id.startsWith('WO-'))!;
    expect(shipment).toMatchObject({ status: 'delivered', trackingNumber: expect.any(String) });

    // Invoiced after `invoiceAfterMs`, paid after `paymentAfterMs`.
    await drained(h);
    clock.advance(twelveHours);
    await until('invoiced', async () => (await get()).state === 'invoiced');
    await drained(h);
    clock.advance(twelveHours);
    await until('paid', async () => names(await hub.store.getTimeline(order.id)).includes('invoice.paid'));

    const timeline = await hub.store.getTimeline(order.id);
    snapshots.push(names(timeline));
    // The timeline only grows: each snapshot begins with the one before.
    for (let i = 1; i < snapshots.length; i++)
      expect(snapshots[i]!.slice(0, snapshots[i - 1]!.length)).toEqual(snapshots[i - 1]);
    expect(snapshots.length).toBeGreaterThan(3);
    const milestones = [
      'shipment.released',
      'shipment.allocated',
      'shipment.picked',
      'shipment.packed',
      'shipment.shipped',
      'shipment.in_transit',
      'shipment.out_for_delivery',
      'shipment.delivered',
      'invoice.posted',
      'invoice.paid',
    ];
    expect(inOrder(names(timeline), milestones), names(timeline).join(', ')).toBe(true);
    // The hub books the carrier after packed (and the carrier scans come after the booking).
    expect(inOrder(names(timeline), ['shipment.packed', 'shipment.booked', 'shipment.in_transit'])).toBe(
      true,
    );
    const applied = (name: string) => timeline.find((e) => e.name === name)?.outcome;
    for (const name of ['shipment.picked', 'shipment.packed', 'shipment.shipped', 'shipment.delivered'])
      expect(applied(name)).toBe('applied');
    expect(applied('invoice.posted')).toBe('applied');
    expect(hub.estate!.stats()).toMatchObject({ delivered: 1, invoiced: 1, paid: 1, failed: 0 });
  }, 120_000);

  test('a short-pick rate of 1 takes the backorder path: the warehouse reports it short, stock arrives, the rest is released and shipped', async () => {
    const { h, clock } = await hubWith('estate-short', backend, { shortPickRate: 1 });
    const { hub } = h;
    const sims = hub.sims!;
    const sku = sims.picks.inPolicy.lines[0]!.sku;
    const order = await submitOrder(h, await submissionFor(hub.store, sims, [{ sku, quantity: 4 }]));
    expect(order.state).toBe('accepted');
    const refresh = new InventoryRefresh({ store: hub.store, source: hub.ports.wms, clock });
    let polls = 0;
    const done = await advanceUntil(
      clock,
      'every unit delivered after the short pick',
      async () => {
        const o = (await hub.store.getOrder(order.id))!;
        return o.state === 'delivered' && o.lines[0]!.backorderedQuantity === 0 ? o : null;
      },
      // The hub's inventory refresh runs every 30 s of real time, long after the sync (every
      // second) has applied the short pick; here every tenth poll once the hub knows of it.
      async () => {
        const o = (await hub.store.getOrder(order.id))!;
        if (o.lines[0]!.backorderedQuantity > 0 && ++polls % 10 === 0) await refresh.refreshOnce();
      },
    );
    const timeline = names(await hub.store.getTimeline(order.id));
    expect(
      inOrder(timeline, ['shipment.backordered', 'backorder.short_allocation', 'backorder.released']),
    ).toBe(true);
    // Shipped in more than one warehouse order: what was picked, then what was re-released.
    expect(done.shipments.length).toBeGreaterThan(1);
    expect(done.lines[0]!.quantity).toBe(4);
    expect(hub.estate!.stats().shortPicks).toBeGreaterThan(0);
    expect(hub.estate!.stats().receipts).toBeGreaterThan(0);
  }, 120_000);

  test('a carrier-exception rate of 1 delays the shipment with a reason; it recovers and is delivered', async () => {
    const { h, clock } = await hubWith('estate-exception', backend, { carrierExceptionRate: 1 });
    const { hub } = h;
    const sims = hub.sims!;
    const sku = sims.picks.inPolicy.lines[0]!.sku;
    const order = await submitOrder(h, await submissionFor(hub.store, sims, [{ sku, quantity: 1 }]));
    await advanceUntil(
      clock,
      'delivered',
      async () => (await hub.store.getOrder(order.id))!.state === 'delivered',
    );
    const timeline = await hub.store.getTimeline(order.id);
    expect(
      inOrder(names(timeline), [
        'shipment.in_transit',
        'shipment.exception',
        'shipment.in_transit',
        'shipment.out_for_delivery',
        'shipment.delivered',
      ]),
    ).toBe(true);
    const exception = timeline.find((e) => e.name === 'shipment.exception')!;
    expect(JSON.stringify(exception.summary)).toMatch(
      /weather_delay|missed_connection|address_correction|mechanical_delay/,
    );
    expect(hub.estate!.stats()).toMatchObject({ exceptions: 1, recovered: 1 });
  }, 120_000);

  test('a return rate of 1 sends a unit back after delivery: a CRM case the ERP authorizes, the warehouse receives, the ERP credits', async () => {
    const { h, clock } = await hubWith('estate-return', backend, {
      returnRate: 1,
      // Well after the hub has applied the shipment (its feeds poll every second of real time).
      returnAfterMs: 120_000,
    });
    const { hub } = h;
    const sims = hub.sims!;
    const sku = sims.picks.inPolicy.lines[0]!.sku;
    const order = await submitOrder(h, await submissionFor(hub.store, sims, [{ sku, quantity: 2 }]));
    const credited = await advanceUntil(clock, 'the return credited', async () => {
      const o = (await hub.store.getOrder(order.id))!;
      return o.returns?.find((r) => r.state === 'credited') ?? null;
    });
    expect(credited.source).toMatchObject({ system: 'crm', by: 'estate' });
    expect(credited.lines).toEqual([
      expect.objectContaining({ sku, quantity: 1, acceptedQuantity: 1, rejectedQuantity: 0 }),
    ]);
    expect(credited.history.map((x) => x.state)).toEqual([
      'requested',
      'authorized',
      'received',
      'inspected',
      'credited',
    ]);
    expect(names(await hub.store.getTimeline(order.id))).toContain('return.requested');
    expect(hub.estate!.stats()).toMatchObject({ returnsDue: 1, returnsReceived: 1, failed: 0 });
  }, 120_000);
});

describe('the estate and the hub lifecycle', () => {
  test('closing the hub clears the estate timer and unsubscribes it; default test hubs run no estate', async () => {
    const set = vi.spyOn(globalThis, 'setInterval');
    const clear = vi.spyOn(globalThis, 'clearInterval');
    try {
      const clock = new ManualClock();
      const h = await openHub('estate-close', 'sqlite', {
        clock,
        overrides: { simulators: { estate: estate({ tickMs: 37 }) } },
      });
      const mine = set.mock.calls.findIndex((c) => c[1] === 37);
      expect(mine).toBeGreaterThanOrEqual(0);
      const handle = set.mock.results[mine]!.value;
      const estateOf = h.hub.estate!;
      expect(estateOf.running).toBe(true);
      await h.close();
      expect(estateOf.running).toBe(false);
      expect(clear.mock.calls.some((c) => c[0] === handle)).toBe(true);
    } finally {
      set.mockRestore();
      clear.mockRestore();
    }

    const plain = await openHub('estate-default', 'sqlite');
    open.push(plain);
    expect(plain.hub.estate).toBeNull();
  }, 60_000);
});
