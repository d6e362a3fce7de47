import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Dispatcher } from '../../src/events/index.js';
import type { Store } from '../../src/ports/index.js';
import { createStore } from '../../src/storage/index.js';
import { commitStep, makeOrder } from './fixtures.js';

let store: Store;
const clock = { now: () => new Date() };

beforeEach(async () => {
  store = await createStore({ url: ':memory:' });
});
afterEach(async () => {
  await store.close();
});

describe('deliveries a destination skips', () => {
  test('A skipped delivery completes without a "delivered" line in the order timeline; a real one gets its line', async () => {
    const seen: string[] = [];
    let skip = '';
    const dispatcher = new Dispatcher({ store, clock, owner: 'test' });
    dispatcher.register({
      name: 'notify',
      types: [],
      recordInTimeline: true,
      handler: async (event) => {
        seen.push(event.id);
        return event.id === skip ? 'skipped' : undefined;
      },
    });
    await dispatcher.init();
    // Subscriptions get a delivery for each event committed after they exist.
    const order = makeOrder('ord-skip', 'CUST-1', 'SKU-1', 'WH-1', clock.now());
    const accepted = await commitStep(store, clock, order, 0);
    const next = await commitStep(store, clock, order, 1);
    skip = next.id;
    await dispatcher.drainOnce('notify');
    expect(seen).toEqual([accepted.id, next.id]);
    const stats = (await store.subscriptionStats()).find((s) => s.name === 'notify')!;
    expect(stats).toMatchObject({ pending: 0, delivered: 2 });
    const lines = (await store.getTimeline('ord-skip')).filter((t) => t.kind === 'delivery');
    expect(lines.map((t) => t.summary['eventId'])).toEqual([accepted.id]);
  });
});
