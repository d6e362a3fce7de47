/**
 * Long destination outages with the shipped delivery defaults, on the real stores (SQLite file,
 * PostgreSQL) and the simulators, driven by a manual clock: the scenario distributors plan for
 * (the CRM unable to take updates for thirty minutes while orders keep moving) and a 3-hour one.
 * The backbone must queue and replay with no operator action: nothing parked, nothing delivered
 * twice, each order's updates in order, and the backlog gone promptly once the CRM is back (no
 * stragglers left waiting out a backoff earned during the outage). Effects are counted at the
 * destination, per event id.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { CloudEvent, SalesOrder } from '../../src/domain/index.js';
import {
  type BreakerState,
  Dispatcher,
  defaultDeliveryPolicy,
  listDeadLetters,
  MemoryAnalyticsSink,
  standardSubscriptions,
  subscriptionNames,
} from '../../src/events/index.js';
import type { CrmActivity, CrmOrderStatusUpdate, Store } from '../../src/ports/index.js';
import { createSimulators, type Simulators } from '../../src/simulators/index.js';
import { backlog, drainAll } from './drive.js';
import { commitInterleaved, lifecycle, makeOrder, seeded } from './fixtures.js';
import { ManualClock, openTestStore, type TestBackend, type TestStore } from './support.js';

const crmSubscriptions: string[] = [subscriptionNames.crmOrderSync, subscriptionNames.crmActivityTimeline];
const minute = 60_000;

describe.each<TestBackend>(['sqlite-file', 'postgres'])('a long CRM outage on %s', (backend) => {
  let ts: TestStore;
  let store: Store;
  let clock: ManualClock;
  let sims: Simulators;
  let dispatcher: Dispatcher;
  /** Successful CRM calls per idempotency key (subscription:event id): 1 each, never 2. */
  let effects: Map<string, number>;
  /** Event ids each order's CRM record received, per subscription, in arrival order. */
  let arrived: Map<string, string[]>;
  /** Most CRM calls in flight at once while a CRM breaker was not closed (probes). */
  let maxProbesInFlight: number;

  beforeEach(async () => {
    clock = new ManualClock();
    ts = await openTestStore(backend, clock);
    store = ts.store;
    sims = createSimulators({ seed: 7, clock, customerCount: 50, productCount: 50 });
    effects = new Map();
    arrived = new Map();
    maxProbesInFlight = 0;
    let probesInFlight = 0;
    const crm = sims.crm;
    const recordingCrm = Object.create(crm) as typeof crm;
    const record = async <T>(subscription: string, key: string, order: string, call: () => Promise<T>) => {
      const probing = dispatcher.breaker(subscription).state !== 'closed';
      if (probing) maxProbesInFlight = Math.max(maxProbesInFlight, ++probesInFlight);
      try {
        const r = await call();
        effects.set(key, (effects.get(key) ?? 0) + 1);
        const k = `${subscription}/${order}`;
        arrived.set(k, [...(arrived.get(k) ?? []), key.slice(subscription.length + 1)]);
        return r;
      } finally {
        if (probing) probesInFlight--;
      }
    };
    recordingCrm.upsertOrderStatus = (u: CrmOrderStatusUpdate) =>
      record(subscriptionNames.crmOrderSync, u.idempotencyKey, u.hubOrderId, () => crm.upsertOrderStatus(u));
    recordingCrm.addActivity = (a: CrmActivity) =>
      record(subscriptionNames.crmActivityTimeline, a.idempotencyKey, a.hubOrderId, () => crm.addActivity(a));
    // The shipped defaults: no policy given.
    dispatcher = new Dispatcher({ store, clock, random: seeded(17), owner: `outage-${backend}` });
    for (const reg of standardSubscriptions({
      crm: recordingCrm,
      notifications: sims.notifications,
      wms: sims.wms,
      store,
      analytics: new MemoryAnalyticsSink(),
    }))
      dispatcher.register(reg);
    await dispatcher.init();
  });

  afterEach(async () => {
    await dispatcher.stop();
    await ts.dispose();
  });

  function orders(n: number): SalesOrder[] {
    const wh = sims.data.warehouses[0]!.id;
    const sku = sims.data.products[0]!.sku;
    return Array.from({ length: n }, (_, i) =>
      makeOrder(`ord-${i + 1}`, sims.data.customers[i % 50]!.id, sku, wh, clock.now()),
    );
  }

  async function parked(): Promise<number> {
    return (await store.subscriptionStats()).reduce((n, s) => n + s.parked, 0);
  }

  /** Every CRM effect exactly once, each order's events in outbox order, CRM = hub. */
  async function expectCrmComplete(list: SalesOrder[], events: CloudEvent[]): Promise<void> {
    expect([...effects.values()].filter((n) => n !== 1)).toEqual([]);
    expect(effects.size).toBe(2 * events.length);
    for (const o of list) {
      const expected = events.filter((e) => e.subject === o.id).map((e) => e.id);
      for (const sub of crmSubscriptions) expect(arrived.get(`${sub}/${o.id}`)).toEqual(expected);
      const hub = await store.getOrder(o.id);
      const inCrm = sims.crm.orderStatus(o.id);
      expect(inCrm?.state).toBe(hub?.state);
      expect(inCrm?.status).toBe(hub?.customerStatus);
    }
    // The customers heard of accepted, shipped, delivered and invoiced once each.
    expect(sims.notifications.effectCount).toBe(list.length * 4);
    expect(sims.notifications.repeatedContent()).toEqual([]);
    expect(sims.wms.orderCount).toBe(list.length);
  }

  /** Brings the CRM back and drains; returns simulated ms from its return and from the breakers' closing. */
  async function recover(): Promise<{ fromReturn: number; fromClose: number }> {
    const closedAt = new Map<string, number>();
    for (const sub of crmSubscriptions) {
      dispatcher.breaker(sub).onTransition((_: BreakerState, to: BreakerState) => {
        if (to === 'closed') closedAt.set(sub, clock.now().getTime());
      });
    }
    sims.faults.crm.reset();
    const back = clock.now().getTime();
    await drainAll(dispatcher, store, clock, 1_000);
    const drained = clock.now().getTime();
    expect(closedAt.size).toBe(crmSubscriptions.length);
    return { fromReturn: drained - back, fromClose: drained - Math.max(...closedAt.values()) };
  }

  test('The CRM down for 30 minutes while 1,000 events over 200 orders arrive: 0 parked, 0 duplicates, per-order order kept, drained as soon as the breaker closes, no operator action', async () => {
    const list = orders(200);
    sims.faults.crm.configure({ down: true });
    const outage = 30 * minute;
    const step = outage / (list.length * lifecycle.length);
    let n = 0;
    const events = await commitInterleaved(store, clock, list, lifecycle.length, seeded(23), async () => {
      clock.advance(step);
      if (++n % 4 === 0) await dispatcher.drainOnce();
    });
    expect(events).toHaveLength(1_000);
    // Thirty minutes in: the CRM took nothing, nothing was parked, and it was probed rather
    // than hammered: one probe at a time, about one per open period per subscription.
    expect(sims.faults.crm.effects).toBe(0);
    expect(await parked()).toBe(0);
    expect(await listDeadLetters({ store })).toEqual([]);
    const { breaker, concurrency } = defaultDeliveryPolicy;
    expect(maxProbesInFlight).toBe(1);
    expect(sims.faults.crm.calls).toBeLessThanOrEqual(
      crmSubscriptions.length * (concurrency + outage / breaker.openMs + 1),
    );
    const status = await dispatcher.status();
    for (const s of status.filter((x) => crmSubscriptions.includes(x.name))) {
      // Only the calls in flight when the breaker opened cost an attempt; the probes did not.
      expect(s.counters.retried).toBeLessThanOrEqual(concurrency);
      expect(s.counters.probesFailed).toBeGreaterThan(outage / breaker.openMs / 2);
      expect(s.backlog?.pending).toBeGreaterThan(0);
    }
    // The other destinations were up all along.
    expect(sims.notifications.effectCount).toBe(list.length * 4);

    const { fromReturn, fromClose } = await recover();
    // Drained within the breaker's open period plus one round, and in the rounds right after the
    // breakers closed: no delivery kept waiting out a backoff.
    expect(fromReturn).toBeLessThanOrEqual(breaker.openMs + 1_000);
    expect(fromClose).toBeLessThanOrEqual(1_000);
    expect(await backlog(store)).toBe(0);
    expect(await parked()).toBe(0);
    expect(await listDeadLetters({ store })).toEqual([]);
    await expectCrmComplete(list, events);
  }, 120_000);

  test('A 3-hour CRM outage parks nothing, neither before 2 hours nor after, and drains when the CRM returns', async () => {
    const list = orders(40);
    sims.faults.crm.configure({ down: true });
    const started = clock.now().getTime();
    const spacing = (2 * 60 * minute) / (list.length * lifecycle.length);
    // The events arrive over the first two hours, checked for parking as they go ...
    const events = await commitInterleaved(store, clock, list, lifecycle.length, seeded(5), async () => {
      clock.advance(spacing);
      await dispatcher.drainOnce();
      expect(await parked()).toBe(0);
    });
    expect(clock.now().getTime() - started).toBeGreaterThanOrEqual(2 * 60 * minute);
    // ... and the CRM stays down for a third hour.
    while (clock.now().getTime() - started < 3 * 60 * minute) {
      clock.advance(spacing);
      await dispatcher.drainOnce();
    }
    expect(await parked()).toBe(0);
    expect(await listDeadLetters({ store })).toEqual([]);
    expect(sims.faults.crm.effects).toBe(0);

    const { fromReturn } = await recover();
    expect(fromReturn).toBeLessThanOrEqual(defaultDeliveryPolicy.breaker.openMs + 1_000);
    expect(await parked()).toBe(0);
    await expectCrmComplete(list, events);
  }, 120_000);
});
