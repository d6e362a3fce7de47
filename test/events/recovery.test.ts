/**
 * What happens when a destination comes back, on the real stores: the probe that finds it back
 * is not stuck on a delivery that fails for reasons of its own, and deliveries that earned long
 * backoffs before or during the outage do not keep them once the breaker has closed.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { CrossdockError } from '../../src/domain/index.js';
import { Dispatcher } from '../../src/events/index.js';
import type { Store } from '../../src/ports/index.js';
import { commitStep, makeOrder, seeded } from './fixtures.js';
import { backends, ManualClock, openTestStore, type TestStore } from './support.js';

describe.each(backends)('recovery on %s', (backend) => {
  let ts: TestStore;
  let store: Store;
  let clock: ManualClock;
  let dispatcher: Dispatcher | undefined;

  beforeEach(async () => {
    clock = new ManualClock();
    ts = await openTestStore(backend, clock);
    store = ts.store;
  });

  afterEach(async () => {
    await dispatcher?.stop();
    dispatcher = undefined;
    await ts.dispose();
  });

  const order = (id: string) => makeOrder(id, 'cus-1', 'SKU-1', 'WH-1', clock.now());

  test('A delivery that fails for reasons of its own does not keep a recovered destination behind an open breaker: the probe moves on to another key', async () => {
    let down = true;
    const delivered: string[] = [];
    dispatcher = new Dispatcher({ store, clock, random: seeded(1), owner: 'rotate' }).register({
      name: 'crm',
      handler: async (event) => {
        if (down) throw CrossdockError.downstreamOutage('connection refused');
        // The oldest order's payload makes this destination time out, whatever its health.
        if (event.subject === 'ord-1') throw CrossdockError.transient('read timed out');
        delivered.push(event.subject);
      },
    });
    await dispatcher.init();
    const breaker = dispatcher.breaker('crm');
    for (let i = 1; i <= 5; i++) await commitStep(store, clock, order(`ord-${i}`), 0);
    await dispatcher.drainOnce();
    expect(breaker.state).toBe('open');
    clock.advance(breaker.options.openMs);
    await dispatcher.drainOnce(); // the first probe is the oldest key's, and fails: still down
    expect(breaker.state).toBe('open');

    down = false;
    for (let round = 0; round < 3 && delivered.length < 4; round++) {
      clock.advance(breaker.options.openMs);
      await dispatcher.drainOnce();
    }
    expect(breaker.state).toBe('closed');
    expect(delivered.sort()).toEqual(['ord-2', 'ord-3', 'ord-4', 'ord-5']);
    // ord-1 goes on being retried on its own backoff, the others are not held behind it.
    const [status] = await dispatcher.status();
    expect(status?.backlog?.pending).toBe(1);
    expect(status?.counters.parked).toBe(0);
  });

  test('When the breaker closes, a delivery that earned a long backoff before the outage becomes due at once and its key follows in order', async (ctx) => {
    const expediting = store as Store & { expediteDeliveries?: unknown };
    if (typeof expediting.expediteDeliveries !== 'function') {
      // The store's half (Store.expediteDeliveries) is reported in issue 11; without it the
      // dispatcher leaves backoffs as they are.
      ctx.skip();
    }
    let down = false;
    let ord1Fails = true;
    const delivered: string[] = [];
    dispatcher = new Dispatcher({ store, clock, random: seeded(2), owner: 'expedite' }).register({
      name: 'crm',
      handler: async (event) => {
        if (down) throw CrossdockError.downstreamOutage('connection refused');
        if (event.subject === 'ord-1' && ord1Fails) throw CrossdockError.transient('503 for this record');
        delivered.push(`${event.subject}:${event.type}`);
      },
    });
    await dispatcher.init();
    const breaker = dispatcher.breaker('crm');
    const ord1 = order('ord-1');
    await commitStep(store, clock, ord1, 0);
    await commitStep(store, clock, ord1, 1);
    // ord-1's head fails ten times while the CRM is otherwise healthy (a success in between
    // keeps the breaker closed): its backoff grows to minutes.
    for (let i = 0; i < 10; i++) {
      await commitStep(store, clock, order(`other-${i}`), 0);
      await dispatcher.drainOnce();
      expect(breaker.state).toBe('closed');
      clock.advance(10 * 60_000);
    }
    expect(delivered).toHaveLength(10);
    await dispatcher.drainOnce(); // the eleventh failure: the next retry is a minute or more away
    expect(breaker.state).toBe('closed');

    // Then the CRM goes down, the breaker opens, and it comes back (ord-1's cause fixed with it).
    down = true;
    for (let i = 2; i <= 6; i++) await commitStep(store, clock, order(`ord-${i}`), 0);
    await dispatcher.drainOnce();
    expect(breaker.state).toBe('open');
    down = false;
    ord1Fails = false;
    clock.advance(breaker.options.openMs);
    await dispatcher.drainOnce(); // the probe succeeds: closed, and everything waiting is due
    expect(breaker.state).toBe('closed');
    await dispatcher.drainOnce(); // no clock advance: nothing waits out a backoff any longer
    expect(delivered).toEqual(
      expect.arrayContaining(['ord-1:order.accepted.v1', 'ord-1:order.status_changed.v1']),
    );
    expect(delivered.indexOf('ord-1:order.accepted.v1')).toBeLessThan(
      delivered.indexOf('ord-1:order.status_changed.v1'),
    );
    const [status] = await dispatcher.status();
    expect(status?.backlog?.pending).toBe(0);
    expect(status?.counters.expedited).toBeGreaterThan(0);
  });
});
