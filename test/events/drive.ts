/** Drives a dispatcher with a manual clock until every subscription's backlog is empty. */
import type { Dispatcher } from '../../src/events/index.js';
import type { Store } from '../../src/ports/index.js';
import type { ManualClock } from './support.js';

/** Pending + leased deliveries over all subscriptions. */
export async function backlog(store: Store): Promise<number> {
  return (await store.subscriptionStats()).reduce((n, s) => n + s.pending + s.leased, 0);
}

/** Cycles and advances time by `stepMs` whenever nothing is due, until the backlog is empty. */
export async function drainAll(
  dispatcher: Dispatcher,
  store: Store,
  clock: ManualClock,
  stepMs = 1_000,
  maxRounds = 5_000,
): Promise<number> {
  for (let round = 0; round < maxRounds; round++) {
    const r = await dispatcher.drainOnce();
    if (r.claimed === 0) {
      if ((await backlog(store)) === 0) return round;
      clock.advance(stepMs);
    }
  }
  throw new Error(`backlog not drained after ${maxRounds} rounds: ${await backlog(store)} left`);
}
