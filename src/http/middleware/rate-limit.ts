/**
 * Per-client rate limits: one token bucket per API key.
 *
 * Why a token bucket: clients (a CRM pushing converted quotes, a portal) are bursty; a bucket
 * lets a client spend up to `burst` requests at once and then holds it to its rate, with an
 * exact `Retry-After`. Per request it is one `Map` lookup and a few float operations — no
 * timers, no allocation once the client's bucket exists. Idle buckets are swept at most once
 * per `sweepIntervalMs`, during a request: a bucket that has refilled completely is identical
 * to a new one, so dropping it changes nothing but memory.
 *
 * Limits are per process: with N API processes behind a balancer a client gets up to N× its
 * rate. That is the accepted trade for not putting a shared store on every request.
 * Requests without a valid key are limited per client address before this, in `apiKeyAuth`
 * (with {@link ClientBuckets}), so they never reach the store past their rate.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { TokenBucket } from '../../domain/index.js';
import type { Clock } from '../../ports/index.js';
import { httpProblem, problemTypes, sendProblem } from '../problem.js';

/** Options of {@link rateLimit}. */
export interface RateLimitOptions {
  /** Requests per second for keys whose `rateLimit` is 0. */
  defaultRate: number;
  /** Bucket capacity for every client; overrides `burstSeconds`. */
  burst?: number;
  /** Capacity as seconds of the client's rate (default 1: a client may send one second's worth at once). */
  burstSeconds?: number;
  /** Rate for requests without a principal (public routes), keyed by IP; 0 (default) = not limited. */
  anonymousRate?: number;
  /** How often idle buckets are swept (default 60 s). */
  sweepIntervalMs?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

/** The limiter's state, exposed for tests and a metrics gauge. */
export interface RateLimiterState {
  /** Clients currently holding a bucket. */
  readonly size: number;
}

/**
 * The `onRequest` hook enforcing the client's rate (`principal.rateLimit`, else
 * `defaultRate`): sets `RateLimit-Limit` / `RateLimit-Remaining`, and when the bucket is empty
 * answers 429 with `Retry-After` (whole seconds, at least 1). Register after `apiKeyAuth`.
 * The returned hook has a `state` property for observing the bucket count.
 */
export function rateLimit(options: RateLimitOptions) {
  if (!(options.defaultRate > 0)) throw new TypeError('defaultRate must be > 0.');
  const defaultRate = options.defaultRate;
  const fixedBurst = options.burst;
  const burstSeconds = options.burstSeconds ?? 1;
  const anonymousRate = options.anonymousRate ?? 0;
  const sweepInterval = options.sweepIntervalMs ?? 60_000;
  const now = options.now ?? Date.now;
  const buckets = new Map<string, TokenBucket>();
  const clock = { now: () => new Date(now()) };
  let lastSweep = now();

  function sweep(t: number): void {
    lastSweep = t;
    // A bucket that has refilled completely is the same as a new one.
    for (const [id, b] of buckets) if (b.full) buckets.delete(id);
  }

  const hook = function rateLimitHook(
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ) {
    const principal = request.principal;
    let id: string;
    let rate: number;
    if (principal !== null && principal !== undefined) {
      id = principal.keyId;
      rate = principal.rateLimit > 0 ? principal.rateLimit : defaultRate;
    } else if (anonymousRate > 0) {
      id = `ip:${request.ip}`;
      rate = anonymousRate;
    } else {
      done();
      return;
    }
    const t = now();
    if (t - lastSweep >= sweepInterval) sweep(t);
    const capacity = fixedBurst ?? Math.max(1, rate * burstSeconds);
    let b = buckets.get(id);
    if (b === undefined) {
      b = new TokenBucket(clock, { perSecond: rate, burst: capacity });
      buckets.set(id, b);
    } else {
      b.retune({ perSecond: rate, burst: capacity });
    }
    reply.header('ratelimit-limit', String(Math.floor(capacity)));
    const waitMs = b.take();
    if (waitMs === 0) {
      reply.header('ratelimit-remaining', String(b.remaining));
      done();
      return;
    }
    const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
    reply.header('ratelimit-remaining', '0');
    reply.header('retry-after', String(retryAfter));
    sendProblem(
      reply,
      httpProblem(
        429,
        `Rate limit of ${rate} requests/s (burst ${Math.floor(capacity)}) exceeded; retry in ${retryAfter} s.`,
        problemTypes.rateLimited,
      ),
    );
  };
  const state: RateLimiterState = {
    get size() {
      return buckets.size;
    },
  };
  return Object.assign(hook, { state });
}

/** Options of {@link ClientBuckets}. */
export interface ClientBucketsOptions {
  /** Requests per second per client. */
  rate: number;
  /** Bucket capacity (default one second's worth, at least 1). */
  burst?: number;
  /** Most clients tracked at once (default 10,000); past it the least recently seen is dropped. */
  maxClients?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

/**
 * One token bucket per client address, bounded in number: the limit on requests without a valid
 * API key (see `apiKeyAuth`). Each bucket is the code base's one `TokenBucket` (domain/pacing.ts).
 *
 * Why bounded: these clients are anonymous, so their number is the attacker's choice (an IPv6
 * /64 is 2^64 addresses). A bucket idle for `burst / rate` seconds has refilled completely and is
 * the same as a new one, so dropping it changes nothing; past `maxClients` the least recently seen
 * client is dropped (Map order, refreshed on every take), which at worst gives that client a fresh
 * burst.
 */
export class ClientBuckets {
  private readonly buckets = new Map<string, { bucket: TokenBucket; seen: number }>();
  private readonly clock: Clock;
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxClients: number;
  private readonly now: () => number;
  private lastSweep: number;

  constructor(options: ClientBucketsOptions) {
    if (!(options.rate > 0)) throw new TypeError('rate must be > 0.');
    this.rate = options.rate;
    this.burst = options.burst ?? Math.max(1, options.rate);
    this.maxClients = options.maxClients ?? 10_000;
    const now = options.now ?? Date.now;
    this.now = now;
    this.clock = { now: () => new Date(now()) };
    this.lastSweep = now();
  }

  /** Takes a token for `client`: 0 when there was one, else the ms until one is due. */
  take(client: string): number {
    const t = this.now();
    let entry = this.buckets.get(client);
    if (entry === undefined) {
      this.makeRoom(t);
      entry = { bucket: new TokenBucket(this.clock, { perSecond: this.rate, burst: this.burst }), seen: t };
    } else {
      this.buckets.delete(client);
      entry.seen = t;
    }
    this.buckets.set(client, entry);
    return entry.bucket.take();
  }

  /** Clients tracked now (for tests and a gauge). */
  get size(): number {
    return this.buckets.size;
  }

  private makeRoom(t: number): void {
    if (this.buckets.size < this.maxClients) return;
    // Full buckets first (idle long enough to have refilled), at most once a second.
    const idleMs = (this.burst / this.rate) * 1000;
    if (t - this.lastSweep >= 1000) {
      this.lastSweep = t;
      for (const [client, entry] of this.buckets) if (t - entry.seen >= idleMs) this.buckets.delete(client);
    }
    // Still full: the least recently seen goes (the Map keeps the order of last use).
    while (this.buckets.size >= this.maxClients) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
  }
}
