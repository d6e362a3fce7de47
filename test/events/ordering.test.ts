/**
 * Per-key ordering under random failures (fast-check), against the real SQLite store: whatever
 * fails and whenever, each key's events take effect once each, in outbox order.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { CrossdockError } from '../../src/domain/index.js';
import { Dispatcher, makeEvent } from '../../src/events/index.js';
import { drainAll } from './drive.js';
import { seeded } from './fixtures.js';
import { ManualClock, openTestStore } from './support.js';

describe('per-key ordering', () => {
  test('Under random transient failures every key receives its events exactly once and in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          keys: fc.integer({ min: 1, max: 8 }),
          events: fc.integer({ min: 1, max: 60 }),
          failRate: fc.double({ min: 0, max: 0.6, noNaN: true }),
          batchSize: fc.integer({ min: 1, max: 20 }),
          concurrency: fc.integer({ min: 1, max: 6 }),
          seed: fc.integer(),
        }),
        async (p) => {
          const clock = new ManualClock();
          const ts = await openTestStore('sqlite-memory', clock);
          try {
            const rnd = seeded(p.seed);
            const effects = new Map<string, number[]>();
            const done = new Set<string>();
            const d = new Dispatcher({ store: ts.store, clock, random: rnd }).register({
              name: 'prop',
              policy: {
                batchSize: p.batchSize,
                concurrency: p.concurrency,
                maxAttempts: 1_000,
                backoff: { baseMs: 10, maxMs: 500 },
                breaker: { failureThreshold: 1_000_000, openMs: 1, halfOpenProbes: 1 },
              },
              handler: async (event, ctx) => {
                if (rnd() < p.failRate) throw CrossdockError.transient('flaky');
                if (done.has(ctx.idempotencyKey)) return;
                done.add(ctx.idempotencyKey);
                const n = Number(event.data.reason);
                effects.set(event.subject, [...(effects.get(event.subject) ?? []), n]);
              },
            });
            await d.init();
            const sent = new Map<string, number[]>();
            for (let i = 0; i < p.events; i++) {
              const key = `k${Math.floor(rnd() * p.keys)}`;
              sent.set(key, [...(sent.get(key) ?? []), i]);
              const e = makeEvent(
                'order.cancelled.v1',
                key,
                {
                  orderId: key,
                  customerId: null,
                  state: 'cancelled',
                  customerStatus: 'Cancelled',
                  reason: String(i),
                },
                { now: clock.now() },
              );
              await ts.store.commit({ events: [e] });
              if (rnd() < 0.3) await d.drainOnce();
            }
            await drainAll(d, ts.store, clock, 100, 20_000);
            expect(effects).toEqual(sent);
          } finally {
            await ts.dispose();
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});
