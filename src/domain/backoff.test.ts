import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { backoffCeiling, backoffDelay, minBackoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  test('Full jitter draws the delay uniformly below the exponential ceiling', () => {
    const opts = { baseMs: 100, maxMs: 10_000 };
    expect(backoffDelay(1, opts, () => 0.999)).toBe(99);
    expect(backoffDelay(3, opts, () => 0.5)).toBe(200);
    expect(backoffDelay(1, opts, () => 0)).toBe(0);
  });

  test('Equal jitter draws the delay in the upper half below the ceiling, so a retry span has a floor', () => {
    const opts = { baseMs: 100, maxMs: 10_000, jitter: 'equal' as const };
    expect(backoffDelay(1, opts, () => 0)).toBe(50);
    expect(backoffDelay(1, opts, () => 0.999)).toBe(99);
    expect(backoffDelay(3, opts, () => 0.5)).toBe(300);
    expect(backoffDelay(20, opts, () => 0)).toBe(5_000);
    expect(minBackoffDelay(20, opts)).toBe(5_000);
    expect(minBackoffDelay(20, { baseMs: 100, maxMs: 10_000 })).toBe(0);
    expect(backoffCeiling(20, opts)).toBe(10_000);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.double({ min: 0, max: 0.9999, noNaN: true }),
        (n, r) => {
          const d = backoffDelay(n, opts, () => r);
          return d >= minBackoffDelay(n, opts) && d < backoffCeiling(n, opts);
        },
      ),
    );
  });

  test('The delay never exceeds the cap however many attempts were made', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.double({ min: 0, max: 0.9999, noNaN: true }),
        (n, r) => {
          const d = backoffDelay(n, { baseMs: 250, maxMs: 300_000 }, () => r);
          return d >= 0 && d < 300_000;
        },
      ),
    );
  });

  test('A Retry-After from the destination is a floor of the delay', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 600_000 }), (n, retryAfter) => {
        const d = backoffDelay(n, { baseMs: 250, maxMs: 300_000 }, Math.random, retryAfter);
        return d >= retryAfter;
      }),
    );
  });
});
