/**
 * The estate driver over the simulators alone, with a manual clock: the test plays the hub
 * (creates and confirms the ERP order, releases to the WMS, books the carrier on `packed`) and
 * only moves the clock and ticks; the estate does everything else.
 */
import { describe, expect, test, vi } from 'vitest';
import type { Clock } from '../ports/index.js';
import { Estate, type EstateOptions, type EstateReturnDue, type EstateTimers } from './estate.js';
import { createSimulators, type Simulators } from './index.js';

class ManualClock implements Clock {
  private ms = Date.parse('2026-06-15T08:00:00Z');
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** Fast dwell times (1 s each, no jitter) so a few clock moves run an order through. */
const quick = {
  tickMs: 1000,
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
  invoiceAfterMs: 4000,
  paymentAfterMs: 2000,
  receiptEveryMs: 1000,
};

interface World {
  sims: Simulators;
  clock: ManualClock;
  estate: Estate;
  /** Plays the hub for one order: ERP order created and confirmed, released, booked on packed. */
  order(n: number, quantity?: number): Promise<string>;
  /** Moves the clock `ms` at a time and ticks, `times` times. */
  run(times: number, ms?: number): void;
}

async function world(options: Partial<EstateOptions['settings']> = {}, seed = 7): Promise<World> {
  const clock = new ManualClock();
  const sims = createSimulators({ seed: 42, clock, customerCount: 20, productCount: 40 });
  const estate = new Estate({
    clock,
    seed,
    wms: sims.wms,
    tms: sims.tms,
    erp: sims.erp,
    inventory: sims.inventory,
    settings: { ...quick, ...options },
  });
  // The hub books a packed shipment with the TMS (here synchronously, as the simulator answers).
  sims.wms.onMilestone((m) => {
    if (m.type !== 'packed') return;
    void sims.tms.bookShipment({
      idempotencyKey: `book:${m.wmsOrderId}`,
      hubOrderId: m.hubOrderId,
      shipmentId: m.wmsOrderId,
      shippingMethod: 'ground',
      weightKg: 3,
      hazmat: false,
      destinationCountry: 'US',
    });
  });
  estate.start();
  const { customer, lines } = sims.picks.inPolicy;
  const line = lines[0]!;
  return {
    sims,
    clock,
    estate,
    async order(n, quantity = 4) {
      const hubOrderId = `ORD-${n}`;
      const erpCustomerId = customer.externalIds['erp']!;
      const ref = await sims.erp.createSalesOrder({
        idempotencyKey: hubOrderId,
        hubOrderId,
        erpCustomerId,
        currency: 'USD',
        shipTo: customer.addresses.find((a) => a.kind === 'shipping')!,
        lines: [{ sku: line.sku, quantity, unitPrice: line.unitPrice, warehouseId: line.warehouseId }],
      });
      await sims.erp.confirmSalesOrder(ref.erpOrderId);
      await sims.wms.releaseOrder({
        idempotencyKey: `release:${hubOrderId}`,
        hubOrderId,
        warehouseId: line.warehouseId,
        shipTo: customer.addresses.find((a) => a.kind === 'shipping')!,
        shippingMethod: 'ground',
        lines: [{ sku: line.sku, quantity }],
      });
      return hubOrderId;
    },
    run(times, ms = 1000) {
      for (let i = 0; i < times; i++) {
        clock.advance(ms);
        estate.tick();
      }
    },
  };
}

/** The WMS and TMS milestones of one hub order, as `type` or `type(detail)`. */
function story(sims: Simulators, hubOrderId: string): string[] {
  const wms = sims.wms
    .milestoneLog(0, 10_000)
    .filter((m) => m.hubOrderId === hubOrderId)
    .map((m) => ({ at: m.at, seq: m.seq, src: 0, text: m.type }));
  const tms = sims.tms
    .milestoneLog(0, 10_000)
    .filter((m) => m.hubOrderId === hubOrderId)
    .map((m) => ({ at: m.at, seq: m.seq, src: 1, text: m.reason ? `${m.type}(${m.reason})` : m.type }));
  return [...wms, ...tms]
    .sort((a, b) => a.at.localeCompare(b.at) || a.src - b.src || a.seq - b.seq)
    .map((e) => e.text);
}

function erpOrder(sims: Simulators, hubOrderId: string) {
  return sims.erp.orderByIdempotencyKey(hubOrderId)!;
}

describe('the estate driver', () => {
  test('a released order is picked, packed, shipped, carried and delivered, then invoiced and paid, on the clock alone', async () => {
    const w = await world();
    const id = await w.order(1);
    w.run(1);
    expect(story(w.sims, id)).toEqual(['released', 'allocated', 'picked']);
    w.run(5);
    expect(story(w.sims, id)).toEqual([
      'released',
      'allocated',
      'picked',
      'packed',
      'shipped',
      'in_transit',
      'out_for_delivery',
      'delivered',
    ]);
    expect(erpOrder(w.sims, id).invoices).toEqual([]);
    w.run(1);
    expect(erpOrder(w.sims, id).invoices).toEqual([expect.objectContaining({ state: 'posted' })]);
    w.run(2);
    expect(erpOrder(w.sims, id).invoices).toEqual([expect.objectContaining({ state: 'paid' })]);
    expect(w.estate.stats()).toMatchObject({
      picked: 1,
      packed: 1,
      shipped: 1,
      inTransit: 1,
      outForDelivery: 1,
      delivered: 1,
      invoiced: 1,
      paid: 1,
      failed: 0,
    });
    expect(w.estate.pending).toBe(0);
    w.estate.stop();
  });

  test('nothing moves before its dwell time: a clock that stands still does nothing', async () => {
    const w = await world({ dwell: { pick: 5000 } });
    const id = await w.order(1);
    w.run(4);
    expect(story(w.sims, id)).toEqual(['released', 'allocated']);
    w.run(1);
    expect(story(w.sims, id)).toEqual(['released', 'allocated', 'picked']);
    for (let i = 0; i < 5; i++) w.estate.tick();
    expect(story(w.sims, id)).toEqual(['released', 'allocated', 'picked']);
    w.estate.stop();
  });

  test('a short-pick rate of 1 short-picks half a line, ships the rest, and the missing units arrive as a receipt', async () => {
    const w = await world({ shortPickRate: 1, receiptEveryMs: 60_000 });
    const id = await w.order(1, 4);
    const wo = w.sims.wms.ordersOf(id)[0]!;
    const sku = wo.lines[0]!.sku;
    const onHand = () =>
      w.sims.inventory.positions(sku).find((p) => p.warehouseId === wo.warehouseId)!.onHand;
    const before = onHand();
    w.run(1);
    const short = w.sims.wms.milestoneLog(0, 100).find((m) => m.type === 'backordered')!;
    expect(short).toMatchObject({ wmsOrderId: wo.wmsOrderId, lines: [{ sku, quantity: 2 }] });
    expect(w.sims.wms.order(wo.wmsOrderId)!.lines[0]).toMatchObject({ allocated: 2, backordered: 2 });
    expect(onHand()).toBe(before - 2);
    w.run(2);
    const shipped = w.sims.wms.milestoneLog(0, 100).find((m) => m.type === 'shipped')!;
    expect(shipped.lines).toEqual([{ sku, quantity: 2 }]);
    // Half the order shipped: no invoice yet (the rest is backordered).
    w.run(10);
    expect(erpOrder(w.sims, id).invoices).toEqual([]);
    // The next receipt round brings the two missing units and a case.
    w.run(1, 60_000);
    expect(onHand()).toBe(before - 2 - 2 + 2 + 10);
    expect(w.estate.stats()).toMatchObject({ shortPicks: 1, receipts: expect.any(Number) });
    w.estate.stop();
  });

  test('a carrier-exception rate of 1 delays every shipment with a reason, then it recovers and is delivered', async () => {
    const w = await world({ carrierExceptionRate: 1 });
    const ids = [await w.order(1), await w.order(2)];
    w.run(12);
    for (const id of ids) {
      const s = story(w.sims, id);
      const exception = s.findIndex((t) => t.startsWith('exception('));
      expect(exception).toBeGreaterThan(s.indexOf('in_transit'));
      expect(s.slice(exception + 1)).toEqual(['in_transit', 'out_for_delivery', 'delivered']);
    }
    const exceptions = w.sims.tms.milestoneLog(0, 100).filter((m) => m.type === 'exception');
    expect(exceptions).toHaveLength(2);
    for (const e of exceptions) {
      expect(e.reason).toMatch(/^[a-z_]+$/);
      expect(e.detail).toMatch(/^Delayed: /);
    }
    expect(w.estate.stats()).toMatchObject({ exceptions: 2, recovered: 2, delivered: 2 });
    w.estate.stop();
  });

  test('the same seed gives the same sequence; another seed another one', async () => {
    const settings = { shortPickRate: 0.5, carrierExceptionRate: 0.5, returnRate: 0.5, jitter: 0.5 };
    const play = async (seed: number) => {
      const w = await world(settings, seed);
      for (let i = 1; i <= 12; i++) await w.order(i, 2 + (i % 3));
      w.run(40, 500);
      w.estate.stop();
      const wms = w.sims.wms.milestoneLog(0, 10_000).map((m) => `${m.at} ${m.wmsOrderId} ${m.type}`);
      const tms = w.sims.tms
        .milestoneLog(0, 10_000)
        .map((m) => `${m.at} ${m.trackingNumber} ${m.type} ${m.reason ?? ''}`);
      return { log: [...wms, ...tms], stats: w.estate.stats() };
    };
    const a = await play(11);
    const b = await play(11);
    const c = await play(12);
    expect(b.log).toEqual(a.log);
    expect(b.stats).toEqual(a.stats);
    expect(c.log).not.toEqual(a.log);
    // The rates of one half did something in that run (the paths are exercised).
    expect(a.stats.shortPicks + a.stats.exceptions).toBeGreaterThan(0);
  });

  test('a cancelled warehouse order is let go; the others carry on', async () => {
    const w = await world();
    const a = await w.order(1);
    const b = await w.order(2);
    await w.sims.wms.cancelRelease({ idempotencyKey: 'cancel-1', hubOrderId: a, reason: 'customer_request' });
    w.run(8);
    expect(story(w.sims, a)).toEqual(['released', 'allocated']);
    expect(story(w.sims, b)).toContain('delivered');
    expect(w.estate.stats()).toMatchObject({ skipped: 1, failed: 0 });
    w.estate.stop();
  });

  test('work per tick is bounded, and so is what it follows', async () => {
    const w = await world({ maxStepsPerTick: 2, maxTracked: 3 });
    for (let i = 1; i <= 4; i++) await w.order(i);
    expect(w.estate.stats().dropped).toBe(1);
    expect(w.estate.pending).toBe(3);
    w.clock.advance(1000);
    expect(w.estate.tick()).toBe(2);
    expect(w.estate.tick()).toBe(1);
    expect(w.estate.tick()).toBe(0);
    w.estate.stop();
  });

  test('a delivered unit due back goes to the return hook; once the warehouse expects it, the parcel is received and accepted', async () => {
    const clock = new ManualClock();
    const sims = createSimulators({ seed: 42, clock, customerCount: 20, productCount: 40 });
    const returns: EstateReturnDue[] = [];
    const estate = new Estate({
      clock,
      seed: 3,
      wms: sims.wms,
      tms: sims.tms,
      erp: sims.erp,
      inventory: sims.inventory,
      settings: { ...quick, returnRate: 1, returnAfterMs: 1000 },
      // Plays the returns flow: records the request; the hub tells the warehouse later (below).
      hooks: {
        requestReturn: async (due) => {
          returns.push(due);
          return { returnId: 'RET-1' };
        },
      },
    });
    estate.start();
    sims.wms.onMilestone((m) => {
      if (m.type === 'packed')
        void sims.tms.bookShipment({
          idempotencyKey: m.wmsOrderId,
          hubOrderId: m.hubOrderId,
          shipmentId: m.wmsOrderId,
          shippingMethod: 'ground',
          weightKg: 1,
          hazmat: false,
          destinationCountry: 'US',
        });
    });
    const line = sims.picks.inPolicy.lines[0]!;
    const { wmsOrderId } = await sims.wms.releaseOrder({
      idempotencyKey: 'r1',
      hubOrderId: 'ORD-R',
      warehouseId: line.warehouseId,
      shipTo: sims.picks.inPolicy.customer.addresses[0]!,
      shippingMethod: 'ground',
      lines: [{ sku: line.sku, quantity: 1 }],
    });
    for (let i = 0; i < 8; i++) {
      clock.advance(1000);
      estate.tick();
    }
    // The hook is called off the tick (it may be slow); the receipt waits for its answer.
    await new Promise((r) => setImmediate(r));
    expect(returns).toEqual([
      expect.objectContaining({
        hubOrderId: 'ORD-R',
        shipmentId: wmsOrderId,
        lines: [{ sku: line.sku, quantity: 1 }],
        returnLines: [{ sku: line.sku, quantity: 1, reason: expect.any(String) }],
      }),
    ]);
    expect(estate.stats().returnsDue).toBe(1);
    // The parcel waits until the warehouse has been told to expect it.
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      estate.tick();
    }
    expect(estate.stats().returnsReceived).toBe(0);
    await sims.wms.expectReturn({
      returnId: 'RET-1',
      hubOrderId: 'ORD-R',
      rmaNumber: 'RMA/1',
      warehouseId: line.warehouseId,
      lines: [{ sku: line.sku, quantity: 1 }],
    });
    clock.advance(1000);
    estate.tick();
    expect(sims.wms.expectedReturn('RET-1')?.received).toBe(true);
    const [receipt] = (await sims.wms.returnReceiptsSince(null)).receipts;
    expect(receipt).toMatchObject({
      returnId: 'RET-1',
      lines: [expect.objectContaining({ sku: line.sku, received: 1, accepted: 1 })],
    });
    expect(estate.stats().returnsReceived).toBe(1);
    estate.stop();
  });

  test('stop clears its one timer and lets go of the simulators; start again resumes', async () => {
    const clock = new ManualClock();
    const sims = createSimulators({ seed: 42, clock, customerCount: 20, productCount: 40 });
    const live = new Set<number>();
    let n = 0;
    const timers: EstateTimers = {
      setInterval: () => {
        live.add(++n);
        return n;
      },
      clearInterval: (h) => {
        live.delete(h as number);
      },
    };
    const estate = new Estate({
      clock,
      seed: 1,
      wms: sims.wms,
      tms: sims.tms,
      erp: sims.erp,
      inventory: sims.inventory,
      settings: quick,
      timers,
    });
    estate.start();
    estate.start();
    expect(live.size).toBe(1);
    expect(estate.running).toBe(true);
    estate.stop();
    expect(live.size).toBe(0);
    expect(estate.running).toBe(false);
    // Stopped: a release is not followed.
    const line = sims.picks.inPolicy.lines[0]!;
    await sims.wms.releaseOrder({
      idempotencyKey: 'after-stop',
      hubOrderId: 'ORD-S',
      warehouseId: line.warehouseId,
      shipTo: sims.picks.inPolicy.customer.addresses[0]!,
      shippingMethod: 'ground',
      lines: [{ sku: line.sku, quantity: 1 }],
    });
    expect(estate.pending).toBe(0);
    estate.start();
    expect(live.size).toBe(1);
    estate.stop();
    expect(live.size).toBe(0);
  });

  test('with the real timers, stop leaves no timer behind', async () => {
    const clock = new ManualClock();
    const sims = createSimulators({ seed: 42, clock, customerCount: 20, productCount: 40 });
    const estate = new Estate({
      clock,
      seed: 1,
      wms: sims.wms,
      tms: sims.tms,
      erp: sims.erp,
      inventory: sims.inventory,
      settings: quick,
    });
    const set = vi.spyOn(globalThis, 'setInterval');
    const clear = vi.spyOn(globalThis, 'clearInterval');
    try {
      estate.start();
      expect(set).toHaveBeenCalledTimes(1);
      const handle = set.mock.results[0]!.value as NodeJS.Timeout;
      expect(handle.hasRef()).toBe(false);
      estate.stop();
      expect(clear.mock.calls.map((c) => c[0])).toEqual([handle]);
    } finally {
      set.mockRestore();
      clear.mockRestore();
    }
  });
});
