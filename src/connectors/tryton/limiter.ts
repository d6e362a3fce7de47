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
import { queueFull, Semaphore } from '../../domain/index.js';

/** Options for {@link ConcurrencyLimiter}. */
export interface ConcurrencyLimiterOptions {
  /** Requests in flight at once. */
  maxConcurrency: number;
  /** Requests allowed to wait; one more is refused with a retryable error. */
  maxQueue: number;
  /** Suggested wait for refused callers. */
  retryAfterMs?: number;
}

/**
 * Runs async tasks with at most `maxConcurrency` in flight and `maxQueue` waiting: the code
 * base's one {@link Semaphore}, with a bounded queue answering `queue_full`.
 */
export class ConcurrencyLimiter {
  private readonly slots: Semaphore;

  constructor(options: ConcurrencyLimiterOptions) {
    this.slots = new Semaphore(options.maxConcurrency, {
      maxQueue: options.maxQueue,
      refuse: (queued) => queueFull('tryton', options.retryAfterMs ?? 1000, queued),
    });
  }

  /** Tasks in flight now (for metrics and tests). */
  get inFlight(): number {
    return this.slots.inFlight;
  }

  /** Tasks waiting for a slot now. */
  get queued(): number {
    return this.slots.queued;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    return this.slots.run(task);
  }
}
