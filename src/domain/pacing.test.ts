import { describe, expect, test } from 'vitest';
import { queueFull, Semaphore, TokenBucket } from './pacing.js';

function clock(): { now: () => Date; advance: (ms: number) => void } {
  let ms = 0;
  return {
    now: () => new Date(ms),
    advance: (d) => {
      ms += d;
    },
  };
}

describe('TokenBucket', () => {
  test('The bucket lets a burst through, then one call per interval', () => {
    const c = clock();
    const b = new TokenBucket(c, { perSecond: 10, burst: 3 });
    expect([b.take(), b.take(), b.take()]).toEqual([0, 0, 0]);
    expect(b.take()).toBe(100);
    c.advance(100);
    expect(b.take()).toBe(0);
    expect(b.take()).toBeGreaterThan(0);
  });

  test('A Retry-After pause holds every caller back for that long', () => {
    const c = clock();
    const b = new TokenBucket(c, { perSecond: 100, burst: 100 });
    b.pause(2_000);
    expect(b.take()).toBeGreaterThanOrEqual(2_000);
    c.advance(2_010);
    expect(b.take()).toBe(0);
  });

  test('An infinite rate never waits', () => {
    const b = new TokenBucket(clock(), { perSecond: Number.POSITIVE_INFINITY, burst: 1 });
    for (let i = 0; i < 1000; i++) expect(b.take()).toBe(0);
  });
});

describe('Semaphore', () => {
  test('No more than the limit run at once and waiters are served in order', async () => {
    const s = new Semaphore(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        await s.acquire();
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 2));
        order.push(i);
        active--;
        s.release();
      }),
    );
    expect(peak).toBe(2);
    expect(order).toHaveLength(8);
    expect(s.inFlight).toBe(0);
  });
});

describe('TokenBucket: remaining, full, retune', () => {
  test('remaining counts whole tokens; a bucket is full again once refilled', () => {
    const c = clock();
    const b = new TokenBucket(c, { perSecond: 2, burst: 4 });
    expect(b.full).toBe(true);
    b.take();
    b.take();
    expect(b.remaining).toBe(2);
    expect(b.full).toBe(false);
    c.advance(1_000);
    expect(b.full).toBe(true);
  });

  test('retune keeps the tokens it has, capped by the new size, and refills at the new rate', () => {
    const c = clock();
    const b = new TokenBucket(c, { perSecond: 10, burst: 10 });
    for (let i = 0; i < 10; i++) b.take();
    b.retune({ perSecond: 1, burst: 2 });
    expect(b.take()).toBe(1_000);
    c.advance(1_000);
    expect(b.take()).toBe(0);
    expect(b.options).toEqual({ perSecond: 1, burst: 2 });
  });
});

describe('Semaphore with a bounded queue', () => {
  test('past the queue a caller is refused at once with a retryable queue_full; run releases on failure', async () => {
    const s = new Semaphore(1, { maxQueue: 1, refuse: (queued) => queueFull('erp', 750, queued) });
    let release!: () => void;
    const first = s.run(() => new Promise<void>((r) => (release = r)));
    const second = s.run(async () => 'second');
    expect(s.inFlight).toBe(1);
    expect(s.queued).toBe(1);
    await expect(s.run(async () => 'third')).rejects.toMatchObject({
      code: 'queue_full',
      retryable: true,
      retryAfterMs: 750,
      details: { system: 'erp', queued: 1 },
    });
    release();
    await first;
    expect(await second).toBe('second');
    await expect(s.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(s.inFlight).toBe(0);
  });
});
