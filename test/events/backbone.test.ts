/**
 * The event backbone against the real stores (SQLite in memory, SQLite file, PostgreSQL) and the
 * simulators. Effects are counted in the simulators, never calls.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { CrossdockError } from '../../src/domain/index.js';
import {
  Dispatcher,
  discardDeadLetter,
  listDeadLetters,
  MemoryAnalyticsSink,
  replaySubscription,
  resolveDeadLetter,
  retryDeadLetters,
  type SubscriptionRegistration,
  standardSubscriptions,
  subscriptionNames,
} from '../../src/events/index.js';
import type { CrmOrderStatusUpdate, Store } from '../../src/ports/index.js';
import { createSimulators, type Simulators } from '../../src/simulators/index.js';
import { backlog, drainAll } from './drive.js';
import { commitInterleaved, commitStep, lifecycle, makeOrder, seeded } from './fixtures.js';
import { backends, ManualClock, openTestStore, type TestStore } from './support.js';

/** Wraps a port so that a share of calls hang past the dispatcher's timeout and land late. */
function withTimeouts<T extends object>(
  port: T,
  methods: (keyof T)[],
  rate: number,
  random: () => number,
): T {
  const wrapped = Object.create(port) as T;
  for (const m of methods) {
    const original = port[m] as unknown as (...args: unknown[]) => Promise<unknown>;
    (wrapped as Record<keyof T, unknown>)[m] = (...args: unknown[]) => {
      if (random() < rate) {
        return new Promise((resolve, reject) => {
          setTimeout(() => original.apply(port, args).then(resolve, reject), 60);
        });
      }
      return original.apply(port, args);
    };
  }
  return wrapped;
}

describe.each(backends)('event backbone on %s', (backend) => {
  let ts: TestStore;
  let store: Store;
  let clock: ManualClock;
  let sims: Simulators;
  let dispatcher: Dispatcher | undefined;

  beforeEach(async () => {
    clock = new ManualClock();
    ts = await openTestStore(backend, clock);
    store = ts.store;
    sims = createSimulators({ seed: 11, clock, customerCount: 50, productCount: 50 });
  });

  afterEach(async () => {
    await dispatcher?.stop();
    dispatcher = undefined;
    await ts.dispose();
  });

  function orders(n: number) {
    const wh = sims.data.warehouses[0]!.id;
    const sku = sims.data.products[0]!.sku;
    return Array.from({ length: n }, (_, i) =>
      makeOrder(`ord-${i + 1}`, `cus-${(i % 3) + 1}`, sku, wh, clock.now()),
    );
  }

  test('While the CRM is down orders keep flowing; after it returns every update arrives exactly once, in per-order order, and the CRM ends in the hub state', async () => {
    const applied = new Map<string, number[]>();
    const crm = sims.crm;
    const recordingCrm = Object.create(crm) as typeof crm;
    recordingCrm.upsertOrderStatus = async (u: CrmOrderStatusUpdate) => {
      const r = await crm.upsertOrderStatus(u);
      if (r.applied) applied.set(u.hubOrderId, [...(applied.get(u.hubOrderId) ?? []), u.sequence]);
      return r;
    };
    const regs = standardSubscriptions({
      crm: recordingCrm,
      notifications: sims.notifications,
      wms: sims.wms,
      store,
      analytics: new MemoryAnalyticsSink(),
      policies: {
        [subscriptionNames.crmOrderSync]: {
          breaker: { failureThreshold: 3, openMs: 5_000, halfOpenProbes: 1 },
          backoff: { baseMs: 200, maxMs: 4_000 },
          maxAttempts: 100,
          batchSize: 40,
        },
      },
    }).filter((r) => r.name === subscriptionNames.crmOrderSync);
    dispatcher = new Dispatcher({ store, clock, random: seeded(3), owner: 'test-a' });
    for (const r of regs) dispatcher.register(r);
    await dispatcher.init();

    sims.faults.crm.configure({ down: true });
    const list = orders(25);
    const rnd = seeded(42);
    let cycles = 0;
    await commitInterleaved(store, clock, list, lifecycle.length, rnd, async () => {
      clock.advance(150);
      if (++cycles % 3 === 0) await dispatcher!.drainOnce();
    });
    expect(dispatcher.breaker(subscriptionNames.crmOrderSync).snapshot().transitions).toBeGreaterThan(0);
    expect(sims.faults.crm.effects).toBe(0);
    expect(await listDeadLetters({ store })).toEqual([]);

    sims.faults.crm.reset();
    await drainAll(dispatcher, store, clock, 1_000);

    expect(sims.faults.crm.effects).toBe(list.length * lifecycle.length);
    for (const o of list) {
      const seqs = applied.get(o.id) ?? [];
      expect(seqs).toHaveLength(lifecycle.length);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      const hub = await store.getOrder(o.id);
      const inCrm = sims.crm.orderStatus(o.id);
      expect(inCrm?.state).toBe(hub?.state);
      expect(inCrm?.status).toBe(hub?.customerStatus);
    }
    expect(await listDeadLetters({ store })).toEqual([]);
  });

  test('With 20% injected errors, timeouts and 429s at every destination everything is delivered once and nothing transient is parked', async () => {
    const rnd = seeded(9);
    for (const sys of ['crm', 'wms', 'notifications'] as const) {
      sims.faults[sys].configure({
        errorRate: 0.1,
        rateLimit: { status429Rate: 0.05, retryAfterSeconds: 2 },
      });
    }
    const analytics = new MemoryAnalyticsSink();
    let analyticsCalls = 0;
    const flakyAnalytics = {
      get size() {
        return analytics.size;
      },
      append: async (e: Parameters<typeof analytics.append>[0]) => {
        analyticsCalls++;
        const roll = rnd();
        if (roll < 0.1) throw CrossdockError.transient('sink 503');
        if (roll < 0.15) throw CrossdockError.transient('sink 429', { retryAfterMs: 1_000 });
        if (roll < 0.2) {
          await new Promise((r) => setTimeout(r, 60));
        }
        return analytics.append(e);
      },
    };
    const policy = {
      maxAttempts: 40,
      timeoutMs: 25,
      backoff: { baseMs: 100, maxMs: 2_000 },
      breaker: { failureThreshold: 8, openMs: 2_000, halfOpenProbes: 1 },
      batchSize: 50,
    };
    const regs = standardSubscriptions({
      crm: withTimeouts(sims.crm, ['upsertOrderStatus', 'addActivity'], 0.05, rnd),
      notifications: withTimeouts(sims.notifications, ['send'], 0.05, rnd),
      wms: withTimeouts(sims.wms, ['releaseOrder'], 0.05, rnd),
      store,
      analytics: flakyAnalytics,
      policies: Object.fromEntries(Object.values(subscriptionNames).map((n) => [n, policy])),
    });
    dispatcher = new Dispatcher({ store, clock, random: seeded(5), owner: 'test-c' });
    for (const r of regs) dispatcher.register(r);
    await dispatcher.init();

    const list = orders(20);
    const events = await commitInterleaved(store, clock, list, lifecycle.length, seeded(8));
    await drainAll(dispatcher, store, clock, 1_000);

    expect(await listDeadLetters({ store })).toEqual([]);
    // Every status update applied once (sequence-ordered upserts), one activity per event.
    expect(sims.crm.activityCount).toBe(events.length);
    for (const o of list) expect(sims.crm.activities(o.id)).toHaveLength(lifecycle.length);
    // Notifications: accepted, shipped, delivered, invoiced per order — each exactly once.
    expect(sims.notifications.effectCount).toBe(list.length * 4);
    expect(sims.notifications.repeatedContent()).toEqual([]);
    // One warehouse release per order.
    expect(sims.wms.orderCount).toBe(list.length);
    expect(analytics.size).toBe(events.length);
    expect(analytics.lines).toHaveLength(events.length);
    expect(analyticsCalls).toBeGreaterThan(events.length);
    const injected = ['crm', 'wms', 'notifications'].map((s) => sims.faults[s as 'crm'].stats().injected);
    expect(injected.every((i) => i.error + i.rateLimited > 0)).toBe(true);
    const status = await dispatcher.status();
    // Every subscription registered (carrier booking and backorders need handlers this suite does not give).
    expect(status.map((s) => s.name).sort()).toEqual(
      Object.values(subscriptionNames)
        .filter((n) => n !== subscriptionNames.carrierBooking && n !== subscriptionNames.backorders)
        .sort(),
    );
    expect(regs.map((r) => r.name).sort()).toEqual(status.map((s) => s.name).sort());
    expect(status.every((s) => s.backlog?.pending === 0 && s.counters.parked === 0)).toBe(true);
  });

  test('A permanent failure is parked with kind, owner and the vendor message, and operators can retry, resolve and discard it with an audit trail', async () => {
    const failing = new Set(['ord-1', 'ord-2', 'ord-3']);
    const seen: string[] = [];
    const reg: SubscriptionRegistration = {
      name: 'erp-invoice-sync',
      ordering: 'strict',
      handler: async (event) => {
        if (failing.has(event.subject)) {
          throw CrossdockError.dataQuality('NetSuite: INVALID_FLD_VALUE subsidiary', {
            details: { vendorCode: 'INVALID_FLD_VALUE' },
          });
        }
        seen.push(`${event.subject}:${event.type}`);
      },
    };
    dispatcher = new Dispatcher({ store, clock, owner: 'test-dlq' }).register(reg);
    await dispatcher.init();
    const list = orders(4);
    for (const o of list) {
      await commitStep(store, clock, o, 0);
      await commitStep(store, clock, o, 1);
    }
    await dispatcher.drainOnce();
    const open = await listDeadLetters({ store });
    expect(open).toHaveLength(3);
    for (const e of open) {
      expect(e).toMatchObject({
        kind: 'data_quality',
        owner: 'master_data',
        subscription: 'erp-invoice-sync',
        attempts: 1,
      });
      expect(e.lastError.message).toBe('NetSuite: INVALID_FLD_VALUE subsidiary');
      expect(e.firstError.message).toBe('NetSuite: INVALID_FLD_VALUE subsidiary');
    }
    // Strict ordering: the parked first event blocks the order's second one.
    expect(seen).toEqual(['ord-4:order.accepted.v1', 'ord-4:order.status_changed.v1']);

    const byOrder = new Map(open.map((e) => [e.orderId, e]));
    failing.delete('ord-1');
    const retried = await retryDeadLetters(
      { store, clock },
      [byOrder.get('ord-1')!.id],
      'alice',
      'subsidiary mapped',
    );
    expect(retried[0]?.ok).toBe(true);
    const resolved = await resolveDeadLetter(
      { store, clock },
      byOrder.get('ord-2')!.id,
      'bob',
      'fixed in NetSuite by hand',
    );
    expect(resolved.ok && resolved.record.status).toBe('resolved');
    const discarded = await discardDeadLetter(
      { store, clock },
      byOrder.get('ord-3')!.id,
      'carol',
      'test order',
    );
    expect(discarded.ok && discarded.record.status).toBe('discarded');
    expect((await resolveDeadLetter({ store }, byOrder.get('ord-2')!.id, 'bob', 'again')).ok).toBe(false);

    failing.clear();
    await drainAll(dispatcher, store, clock);
    expect(seen.indexOf('ord-1:order.accepted.v1')).toBeGreaterThan(-1);
    expect(seen.indexOf('ord-1:order.accepted.v1')).toBeLessThan(
      seen.indexOf('ord-1:order.status_changed.v1'),
    );
    // Resolved and discarded heads are closed without delivery; they no longer block their keys.
    expect(seen).not.toContain('ord-2:order.accepted.v1');
    expect(seen).not.toContain('ord-3:order.accepted.v1');
    expect(seen).toEqual(
      expect.arrayContaining(['ord-2:order.status_changed.v1', 'ord-3:order.status_changed.v1']),
    );
    expect(await listDeadLetters({ store })).toEqual([]);
    const audit = await store.listAudit(10);
    const actions = audit.map((a) => `${a.actor}:${a.action}`);
    expect(actions).toEqual(
      expect.arrayContaining(['alice:exception.retry', 'bob:exception.resolve', 'carol:exception.discard']),
    );
    expect(audit.every((a) => typeof a.at === 'string' && a.at.length > 0)).toBe(true);
  });

  test('A replay dry run counts what would be sent, and a replay never repeats a customer notification unless forced', async () => {
    const analytics = new MemoryAnalyticsSink();
    const regs = standardSubscriptions({
      crm: sims.crm,
      notifications: sims.notifications,
      wms: sims.wms,
      store,
      analytics,
    });
    dispatcher = new Dispatcher({ store, clock, owner: 'test-replay' });
    for (const r of regs) dispatcher.register(r);
    await dispatcher.init();
    const start = clock.now().toISOString();
    const list = orders(5);
    const events = await commitInterleaved(store, clock, list, lifecycle.length, seeded(1));
    await drainAll(dispatcher, store, clock);
    expect(sims.notifications.effectCount).toBe(20);

    const sub = subscriptionNames.customerNotifications;
    const dry = await replaySubscription(
      { store, clock, dispatcher },
      { subscription: sub, from: start, dryRun: true, actor: 'ops' },
    );
    expect(dry).toMatchObject({ matched: 20, skippedAlreadyDelivered: 20, toSend: 0, enqueued: 0 });
    const dryAll = await replaySubscription(
      { store, clock, dispatcher },
      {
        subscription: analytics.size > 0 ? subscriptionNames.analyticsExport : sub,
        from: start,
        dryRun: true,
        actor: 'ops',
      },
    );
    expect(dryAll).toMatchObject({ matched: events.length, toSend: events.length, enqueued: 0 });
    expect(await backlog(store)).toBe(0);

    const plain = await replaySubscription(
      { store, clock, dispatcher },
      { subscription: sub, from: start, actor: 'ops' },
    );
    expect(plain.enqueued).toBe(0);
    await drainAll(dispatcher, store, clock);
    expect(sims.notifications.effectCount).toBe(20);

    // From an event id, forced: notifications of that event and later ones go out again.
    const fromEvent = events[10]!;
    const forced = await replaySubscription(
      { store, clock, dispatcher },
      { subscription: sub, from: fromEvent.id, force: true, actor: 'ops' },
    );
    const expected = events.slice(10).filter((e) => e.type !== 'order.status_changed.v1').length;
    expect(forced.enqueued).toBe(expected);
    await drainAll(dispatcher, store, clock);
    expect(sims.notifications.effectCount).toBe(20 + expected);

    // Analytics replay re-sends, the sink keeps one line per event.
    const again = await replaySubscription(
      { store, clock, dispatcher },
      { subscription: subscriptionNames.analyticsExport, from: start, actor: 'ops' },
    );
    expect(again.enqueued).toBe(events.length);
    await drainAll(dispatcher, store, clock);
    expect(analytics.lines).toHaveLength(events.length);
    expect(analytics.duplicates).toBe(events.length);
    const audit = await store.listAudit(10);
    expect(audit.filter((a) => a.action === 'subscription.replay')).toHaveLength(3);
  });

  test('The breaker opens on a destination outage, stops calling it, probes after the open period and closes when it answers', async () => {
    let calls = 0;
    let down = true;
    dispatcher = new Dispatcher({ store, clock, owner: 'test-breaker', random: () => 0 }).register({
      name: 'flaky',
      policy: {
        concurrency: 1,
        breaker: { failureThreshold: 3, openMs: 10_000, halfOpenProbes: 1 },
        backoff: { baseMs: 1, maxMs: 1 },
      },
      handler: async () => {
        calls++;
        if (down) throw CrossdockError.downstreamOutage('connection refused');
      },
    });
    await dispatcher.init();
    const list = orders(6);
    for (const o of list) await commitStep(store, clock, o, 0);
    const b = dispatcher.breaker('flaky');
    const states: string[] = [];
    b.onTransition((_, to) => states.push(to));
    await dispatcher.drainOnce();
    expect(b.state).toBe('open');
    expect(calls).toBe(3);
    clock.advance(5_000);
    expect((await dispatcher.drainOnce()).claimed).toBe(0);
    expect(calls).toBe(3);
    clock.advance(5_000);
    await dispatcher.drainOnce();
    expect(calls).toBe(4);
    expect(states).toEqual(['open', 'half_open', 'open']);
    down = false;
    clock.advance(10_000);
    await drainAll(dispatcher, store, clock);
    expect(states).toEqual(['open', 'half_open', 'open', 'half_open', 'closed']);
    const [status] = await dispatcher.status();
    expect(status?.breaker.state).toBe('closed');
    expect(status?.counters.delivered).toBe(6);
    expect(status?.counters.parked).toBe(0);
  });

  test("An attempt's signal aborts when it times out and when a stop runs out of grace; a handler that never reads it still times out", async () => {
    const seen: { id: string; aborted: boolean; after: boolean }[] = [];
    const list = orders(2);
    // Times out after 20 ms: one handler watches its signal, the other ignores it.
    dispatcher = new Dispatcher({ store, clock }).register({
      name: 'slow',
      policy: { timeoutMs: 20, maxAttempts: 5 },
      handler: async (e, ctx) => {
        if (e.subject === list[0]!.id) {
          const signal = ctx.signal;
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
          seen.push({ id: e.subject, aborted: signal.aborted, after: true });
        } else {
          await new Promise((r) => setTimeout(r, 60));
          seen.push({ id: e.subject, aborted: ctx.signal.aborted, after: true });
        }
      },
    });
    await dispatcher.init();
    for (const o of list) await commitStep(store, clock, o, 0);
    const first = await dispatcher.drainOnce();
    expect(first.claimed).toBe(2);
    expect(first.delivered).toBe(0);
    expect(first.retried).toBe(2);
    await new Promise((r) => setTimeout(r, 80));
    // Both were aborted by their timeout, the late reader too (its signal is made aborted).
    expect(seen.map((s) => [s.id, s.aborted]).sort()).toEqual(list.map((o) => [o.id, true]).sort());
    await dispatcher.stop();

    // A hard stop: a handler hanging on its signal is released once the grace runs out.
    seen.length = 0;
    clock.advance(60_000);
    let release: (() => void) | undefined;
    const started = new Promise<void>((r) => {
      release = r;
    });
    dispatcher = new Dispatcher({ store, clock }).register({
      name: 'slow',
      policy: { timeoutMs: Number.POSITIVE_INFINITY, maxAttempts: 5 },
      handler: async (e, ctx) => {
        release?.();
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
        seen.push({ id: e.subject, aborted: ctx.signal.aborted, after: true });
        throw CrossdockError.transient('stopped');
      },
    });
    await dispatcher.start();
    await started;
    const t0 = Date.now();
    await dispatcher.stop(30);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((s) => s.aborted)).toBe(true);
  });

  test('A stopped dispatcher releases its leases and a dead one is taken over after its lease expires', async () => {
    let hang = true;
    const delivered: string[] = [];
    const make = (owner: string) =>
      new Dispatcher({ store, clock, owner }).register({
        name: 'slow',
        policy: { leaseMs: 30_000, timeoutMs: Number.POSITIVE_INFINITY },
        handler: async (e) => {
          if (hang) await new Promise(() => {});
          delivered.push(e.id);
        },
      });
    const dead = make('proc-dead');
    await dead.init();
    const list = orders(3);
    for (const o of list) await commitStep(store, clock, o, 0);
    void dead.drainOnce();
    await new Promise((r) => setTimeout(r, 50));
    const stats = await store.subscriptionStats();
    expect(stats.find((s) => s.name === 'slow')?.leased).toBe(3);
    hang = false;
    dispatcher = make('proc-new');
    expect((await dispatcher.drainOnce()).claimed).toBe(0);
    clock.advance(30_001);
    await drainAll(dispatcher, store, clock);
    expect(delivered).toHaveLength(3);
  });
});
