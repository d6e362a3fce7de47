import { describe, expect, it } from 'vitest';
import type { CrossdockError } from '../../domain/errors.js';
import { ConcurrencyLimiter } from './limiter.js';

describe('ConcurrencyLimiter', () => {
  it('never runs more tasks at once than allowed and refuses past the queue with a retryable error', async () => {
    const limiter = new ConcurrencyLimiter({ maxConcurrency: 2, maxQueue: 3, retryAfterMs: 500 });
    let running = 0;
    let peak = 0;
    const task = async (): Promise<void> => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 10));
      running -= 1;
    };
    const results = await Promise.allSettled(Array.from({ length: 7 }, () => limiter.run(task)));
    expect(peak).toBe(2);
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused).toHaveLength(2);
    const reason = (refused[0] as PromiseRejectedResult).reason as CrossdockError;
    expect(reason.kind).toBe('transient');
    expect(reason.retryAfterMs).toBe(500);
    expect(limiter.inFlight).toBe(0);
  });
});
