/**
 * Pacing primitives shared by the whole code base: a token bucket read from an injected clock,
 * and a counting semaphore with an optional bounded queue. The backoff function lives beside
 * them in `backoff.ts`. One copy each: the dispatcher's destinations, inbound webhook refusals,
 * per-key and per-address HTTP limits, and the Tryton connector's request queue all use these.
 *
 * Why a token bucket rather than a fixed window: vendors state limits as "N per second with
 * bursts" (Salesforce, NetSuite concurrency governance), and a window resets in lockstep, which
 * lets 2·N calls through around its edge. The bucket computes how long to wait instead of
 * sleeping itself, so the caller decides how to wait (real timer in production, a manual clock
 * in tests).
 */
import { CrossdockError } from './errors.js';

/** Anything that tells the time (the `Clock` port is one). */
export interface TimeSource {
  now(): Date;
}

/** Rate of one bucket. */
export interface RateLimitOptions {
  /** Sustained calls per second; `Infinity` disables the limit. */
  perSecond: number;
  /** Bucket size: calls allowed back-to-back after a quiet period. */
  burst: number;
}

/** A token bucket for one destination or client. */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;
  private opts: RateLimitOptions;

  constructor(
    private readonly clock: TimeSource,
    options: RateLimitOptions,
  ) {
    this.opts = { ...options };
    this.tokens = options.burst;
    this.lastMs = clock.now().getTime();
  }

  get options(): RateLimitOptions {
    return this.opts;
  }

  /** Takes one token if there is one and returns 0, else returns the ms until one is due. */
  take(): number {
    if (!Number.isFinite(this.opts.perSecond)) return 0;
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.opts.perSecond);
  }

  /** Whole tokens left now (a `RateLimit-Remaining` header). */
  get remaining(): number {
    if (!Number.isFinite(this.opts.perSecond)) return Math.floor(this.opts.burst);
    this.refill();
    return Math.max(0, Math.floor(this.tokens));
  }

  /** Whether the bucket has refilled completely: then it is the same as a new one. */
  get full(): boolean {
    this.refill();
    return this.tokens >= this.opts.burst;
  }

  /** Changes rate and size from now on (a client's limit edited), keeping the tokens it has. */
  retune(options: RateLimitOptions): void {
    if (options.perSecond === this.opts.perSecond && options.burst === this.opts.burst) return;
    this.refill();
    this.opts = { ...options };
    this.tokens = Math.min(this.tokens, options.burst);
  }

  /** Empties the bucket for `ms` (a destination's `Retry-After` on a 429 applies to everyone). */
  pause(ms: number): void {
    this.refill();
    this.tokens = Math.min(this.tokens, 0) - (ms * this.opts.perSecond) / 1000;
  }

  private refill(): void {
    const now = this.clock.now().getTime();
    const elapsed = Math.max(0, now - this.lastMs);
    this.lastMs = now;
    this.tokens = Math.min(this.opts.burst, this.tokens + (elapsed * this.opts.perSecond) / 1000);
  }
}

/** What a full semaphore queue answers: a retryable error with a Retry-After. */
export interface SemaphoreQueueLimit {
  /** Callers allowed to wait; one more is refused at once. */
  maxQueue: number;
  /** The refusal (a retryable `transient` carrying `retryAfterMs`). */
  refuse: (queued: number) => CrossdockError;
}

/**
 * A counting semaphore: how many calls to one destination may be in flight, optionally with a
 * bounded queue. Why: a rate limit alone lets a slow destination accumulate hundreds of open
 * calls (Tryton confirms ~3 sales/s); the concurrency cap is what protects it, and a bounded
 * queue pushes a burst back to the caller (the outbox) instead of piling it up in memory.
 */
export class Semaphore {
  private active = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(
    readonly limit: number,
    private readonly queue?: SemaphoreQueueLimit,
  ) {}

  /** Resolves when a slot is free; pair every acquire with one {@link release}. Throws when the queue is full. */
  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    if (this.queue && this.waiters.length >= this.queue.maxQueue)
      throw this.queue.refuse(this.waiters.length);
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Frees a slot, handing it straight to the next waiter. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.active--;
  }

  /** Runs `task` holding a slot. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  /** Calls in flight now. */
  get inFlight(): number {
    return this.active;
  }

  /** Callers waiting for a slot now. */
  get queued(): number {
    return this.waiters.length;
  }
}

/** A retryable refusal for a full queue (what {@link SemaphoreQueueLimit.refuse} usually returns). */
export function queueFull(system: string, retryAfterMs: number, queued: number): CrossdockError {
  return CrossdockError.transient(`${system} request queue is full`, {
    code: 'queue_full',
    retryAfterMs,
    details: { system, queued },
  });
}
