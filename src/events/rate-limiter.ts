/**
 * Per-destination rate limit: a token bucket read from the injected Clock.
 *
 * Why a token bucket rather than a fixed window: vendors state limits as "N per second with
 * bursts" (Salesforce, NetSuite concurrency governance), and a window resets in lockstep, which
 * lets 2·N calls through around its edge. The bucket computes how long to wait instead of
 * sleeping itself, so the dispatcher decides how to wait (real timer in production, a manual
 * clock in tests).
 */
import type { Clock } from '../ports/index.js';

/** Rate of one destination. */
export interface RateLimitOptions {
  /** Sustained calls per second; `Infinity` disables the limit. */
  perSecond: number;
  /** Bucket size: calls allowed back-to-back after a quiet period. */
  burst: number;
}

/** A token bucket for one destination. */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    private readonly clock: Clock,
    readonly options: RateLimitOptions,
  ) {
    this.tokens = options.burst;
    this.lastMs = clock.now().getTime();
  }

  /** Takes one token if there is one and returns 0, else returns the ms until one is due. */
  take(): number {
    if (!Number.isFinite(this.options.perSecond)) return 0;
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.options.perSecond);
  }

  /** Empties the bucket for `ms` (a destination's `Retry-After` on a 429 applies to everyone). */
  pause(ms: number): void {
    this.refill();
    this.tokens = Math.min(this.tokens, 0) - (ms * this.options.perSecond) / 1000;
  }

  private refill(): void {
    const now = this.clock.now().getTime();
    const elapsed = Math.max(0, now - this.lastMs);
    this.lastMs = now;
    this.tokens = Math.min(this.options.burst, this.tokens + (elapsed * this.options.perSecond) / 1000);
  }
}

/**
 * A counting semaphore: how many calls to one destination may be in flight.
 * Why: a rate limit alone lets a slow destination accumulate hundreds of open calls (Tryton
 * confirms ~3 sales/s); the concurrency cap is what protects it.
 */
export class Semaphore {
  private active = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** Resolves when a slot is free; pair every acquire with one {@link release}. */
  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Frees a slot, handing it straight to the next waiter. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.active--;
  }

  /** Calls in flight now. */
  get inFlight(): number {
    return this.active;
  }
}
