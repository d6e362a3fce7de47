import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  canTransition,
  customerStatus,
  type OrderState,
  orderStates,
  stateRank,
  terminalStates,
  transition,
} from './order-state.js';

const lifeLine: OrderState[] = orderStates.filter((s) => !terminalStates.has(s) || s === 'closed');
const forwardOnly = lifeLine.filter((s) => s !== 'validating' && s !== 'received');

/** Fold a sequence of requested states under the monotonic rule, recording every event. */
function fold(start: OrderState, events: OrderState[]) {
  const timeline: { requested: OrderState; applied: boolean }[] = [];
  let state = start;
  const visited: OrderState[] = [state];
  for (const requested of events) {
    const r = transition(state, requested);
    timeline.push({ requested, applied: r.applied });
    state = r.state;
    visited.push(state);
  }
  return { state, timeline, visited };
}

describe('order state machine', () => {
  test('an order never moves backwards along the life line, whatever the event sequence', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...orderStates), { maxLength: 60 }), (events) => {
        const { visited } = fold('received', events);
        for (let i = 1; i < visited.length; i++) {
          const prev = visited[i - 1]!;
          const next = visited[i]!;
          if (prev === next) continue;
          // Leaving on_hold for re-validation is the one move to a lower rank.
          if (prev === 'on_hold' && next === 'validating') continue;
          expect(stateRank(next)).toBeGreaterThan(stateRank(prev));
          expect(terminalStates.has(prev)).toBe(false);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('every event is kept in the timeline, applied or not', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...orderStates), { maxLength: 40 }), (events) => {
        const { timeline } = fold('received', events);
        expect(timeline).toHaveLength(events.length);
        expect(timeline.map((t) => t.requested)).toEqual(events);
      }),
    );
  });

  test('duplicated and reordered fulfillment milestones end in the furthest milestone', () => {
    fc.assert(
      fc.property(
        fc.subarray(forwardOnly, { minLength: 1 }).chain((milestones) =>
          fc.tuple(
            fc.constant(milestones),
            fc.shuffledSubarray([...milestones, ...milestones, ...milestones], {
              minLength: milestones.length * 3,
            }),
          ),
        ),
        ([milestones, shuffled]) => {
          const furthest = milestones.reduce((a, b) => (stateRank(b) > stateRank(a) ? b : a));
          const { state } = fold('accepted', shuffled);
          const expected = stateRank(furthest) > stateRank('accepted') ? furthest : 'accepted';
          expect(state).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('a duplicate event is never applied twice', () => {
    fc.assert(
      fc.property(fc.constantFrom(...orderStates), fc.constantFrom(...orderStates), (from, to) => {
        const first = transition(from, to);
        const again = transition(first.state, to);
        if (first.applied) expect(again.applied).toBe(false);
      }),
    );
  });

  test('terminal states accept no further transition', () => {
    for (const t of terminalStates) for (const s of orderStates) expect(canTransition(t, s)).toBe(false);
  });

  test('an order can be cancelled until goods leave a warehouse, and rejected only before acceptance', () => {
    expect(canTransition('packed', 'cancelled')).toBe(true);
    expect(canTransition('partially_shipped', 'cancelled')).toBe(false);
    expect(canTransition('on_hold', 'rejected')).toBe(true);
    expect(canTransition('accepted', 'rejected')).toBe(false);
    expect(canTransition('on_hold', 'validating')).toBe(true);
    expect(canTransition('accepted', 'validating')).toBe(false);
  });

  test('the customer-facing status is derived from the state', () => {
    expect(customerStatus('validating')).toBe('Processing');
    expect(customerStatus('on_hold')).toBe('On hold');
    expect(customerStatus('accepted')).toBe('Confirmed');
    expect(customerStatus('backordered')).toBe('Backordered');
    expect(customerStatus('picked')).toBe('Preparing');
    expect(customerStatus('partially_shipped')).toBe('Shipped');
    expect(customerStatus('delivered')).toBe('Delivered');
    expect(customerStatus('invoiced', false)).toBe('Shipped');
    expect(customerStatus('invoiced', true)).toBe('Delivered');
    expect(customerStatus('rejected')).toBe('Cancelled');
    for (const s of orderStates) expect(typeof customerStatus(s)).toBe('string');
  });
});
