/**
 * A concurrency limit with a bounded queue, sized for Tryton's measured speed.
 *
 * Why: Tryton on SQLite serialises writes (about 3 sales/s, create+quote+confirm about 300 ms);
 * 8 parallel clients all succeed but merely queue inside trytond, where each waiting request
 * eats into its own HTTP timeout. Queuing here instead keeps the timeout honest (it only starts
 * when the request is sent) and a full queue answers at once with a retryable `transient`
 * carrying a Retry-After, so a burst from the hub is pushed back to the outbox, never flooded
 * onto the ERP.
 */
import { CrossdockError } from '../../domain/errors.js';

/** Options for {@link ConcurrencyLimiter}. */
export interface ConcurrencyLimiterOptions {
  /** Requests in flight at once. */
  maxConcurrency: number;
  /** Requests allowed to wait; one more is refused with a retryable error. */
  maxQueue: number;
  /** Suggested wait for refused callers. */
  retryAfterMs?: number;
}

/** Runs async tasks with at most `maxConcurrency` in flight and `maxQueue` waiting. */
export class ConcurrencyLimiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly options: ConcurrencyLimiterOptions) {}

  /** Tasks in flight now (for metrics and tests). */
  get inFlight(): number {
    return this.active;
  }

  /** Tasks waiting for a slot now. */
  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.options.maxConcurrency) {
      if (this.waiting.length >= this.options.maxQueue) {
        throw CrossdockError.transient('ERP request queue is full', {
          retryAfterMs: this.options.retryAfterMs ?? 1000,
          details: { system: 'tryton', queued: this.waiting.length },
        });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active += 1;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}
