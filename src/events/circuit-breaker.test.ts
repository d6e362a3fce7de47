import { describe, expect, test } from 'vitest';
import type { BreakerState } from './circuit-breaker.js';
import { CircuitBreaker } from './circuit-breaker.js';

function clock(): { now: () => Date; advance: (ms: number) => void } {
  let ms = Date.parse('2025-01-01T00:00:00Z');
  return {
    now: () => new Date(ms),
    advance: (d) => {
      ms += d;
    },
  };
}

describe('CircuitBreaker', () => {
  test('The breaker opens after the failure threshold, half-opens after the open period and closes on a successful probe', () => {
    const c = clock();
    const b = new CircuitBreaker(c, { failureThreshold: 3, openMs: 1_000, halfOpenProbes: 1 });
    const seen: [BreakerState, BreakerState][] = [];
    b.onTransition((from, to) => seen.push([from, to]));
    for (let i = 0; i < 2; i++) {
      expect(b.tryAcquire()).toBe(true);
      b.onFailure();
    }
    expect(b.state).toBe('closed');
    b.onFailure();
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBe(false);
    expect(b.waitMs()).toBe(1_000);
    c.advance(999);
    expect(b.state).toBe('open');
    c.advance(1);
    expect(b.state).toBe('half_open');
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    b.onSuccess();
    expect(b.state).toBe('closed');
    expect(seen).toEqual([
      ['closed', 'open'],
      ['open', 'half_open'],
      ['half_open', 'closed'],
    ]);
    expect(b.snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 0, transitions: 3 });
  });

  test('A failed probe reopens the breaker for another full open period', () => {
    const c = clock();
    const b = new CircuitBreaker(c, { failureThreshold: 1, openMs: 500, halfOpenProbes: 1 });
    b.onFailure();
    c.advance(500);
    expect(b.tryAcquire()).toBe(true);
    b.onFailure();
    expect(b.state).toBe('open');
    expect(b.snapshot().retryAt).toBe(new Date(c.now().getTime() + 500).toISOString());
  });

  test('A success in between resets the consecutive failure count', () => {
    const b = new CircuitBreaker(clock(), { failureThreshold: 2, openMs: 500, halfOpenProbes: 1 });
    b.onFailure();
    b.onSuccess();
    b.onFailure();
    expect(b.state).toBe('closed');
  });

  test('acquire tells a call from a probe, and refuses while open or while the one probe is out', () => {
    const c = clock();
    const b = new CircuitBreaker(c, { failureThreshold: 1, openMs: 100, halfOpenProbes: 1 });
    expect(b.acquire()).toBe('call');
    b.onFailure();
    expect(b.acquire()).toBeNull();
    c.advance(100);
    expect(b.acquire()).toBe('probe');
    expect(b.acquire()).toBeNull();
    b.onSuccess();
    expect(b.acquire()).toBe('call');
  });

  test('A probe slot given back unused lets the next caller probe', () => {
    const c = clock();
    const b = new CircuitBreaker(c, { failureThreshold: 1, openMs: 10, halfOpenProbes: 1 });
    b.onFailure();
    c.advance(10);
    expect(b.tryAcquire()).toBe(true);
    b.onNeutral();
    expect(b.tryAcquire()).toBe(true);
  });
});
