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
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
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

interface Bucket {
  tokens: number;
  last: number;
  capacity: number;
  rate: number;
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
  const buckets = new Map<string, Bucket>();
  let lastSweep = now();

  function sweep(t: number): void {
    lastSweep = t;
    for (const [id, b] of buckets) {
      if (b.tokens + ((t - b.last) * b.rate) / 1000 >= b.capacity) buckets.delete(id);
    }
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
      b = { tokens: capacity, last: t, capacity, rate };
      buckets.set(id, b);
    } else {
      const refilled = b.tokens + ((t - b.last) * rate) / 1000;
      b.tokens = Math.min(refilled, capacity);
      b.last = t;
      b.capacity = capacity;
      b.rate = rate;
    }
    reply.header('ratelimit-limit', String(Math.floor(capacity)));
    if (b.tokens >= 1) {
      b.tokens -= 1;
      reply.header('ratelimit-remaining', String(Math.floor(b.tokens)));
      done();
      return;
    }
    const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / rate));
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
