/**
 * Retry timing: exponential backoff with jitter.
 *
 * Why jitter at all: when a destination comes back after an outage, every delivery waiting for a
 * retry would otherwise return in lockstep. Two shapes, after "Exponential Backoff And Jitter"
 * (AWS, 2015), which measured both as far better than none:
 * - `full`: delay = random(0, ceiling), ceiling = min(cap, base·2^n). Spreads retries over the
 *   whole window (the fewest calls in that study); but a delay may be ~0, so the time a failing
 *   delivery is retried before its attempts run out has no lower bound.
 * - `equal`: delay = ceiling/2 + random(0, ceiling/2). Still spread over half the window, and the
 *   retry span has a floor of half the ceilings' sum, which is what lets the delivery policy
 *   *promise* how long a down system is retried before anything is parked (see
 *   `defaultDeliveryPolicy`). The herd at recovery is no longer the backoff's job there: the
 *   dispatcher makes waiting deliveries due when the breaker closes and lets the destination's
 *   rate and concurrency limits pace them.
 * The random source is injectable so tests are exact.
 */

/** Backoff shape of one destination. */
export interface BackoffOptions {
  /** Delay ceiling of the first retry, in ms. */
  baseMs: number;
  /** Ceiling for any single delay, in ms. */
  maxMs: number;
  /** `full` (default): random(0, ceiling); `equal`: ceiling/2 + random(0, ceiling/2). */
  jitter?: 'full' | 'equal';
}

/** Default shape: 250 ms first, capped at 5 minutes, full jitter. */
export const defaultBackoff: BackoffOptions = { baseMs: 250, maxMs: 300_000 };

/** The ceiling of retry number `attempt`: min(cap, base·2^(attempt-1)). */
export function backoffCeiling(attempt: number, options: BackoffOptions = defaultBackoff): number {
  return Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
}

/** The shortest delay retry number `attempt` can get (0 with full jitter, half the ceiling with equal). */
export function minBackoffDelay(attempt: number, options: BackoffOptions = defaultBackoff): number {
  return options.jitter === 'equal' ? Math.floor(backoffCeiling(attempt, options) / 2) : 0;
}

/**
 * The delay before retry number `attempt` (1 = the first retry after the first failure).
 * `retryAfterMs` (the destination's own `Retry-After`) is a floor: we never come back earlier
 * than asked, but we still jitter above it so a crowd of 429s does not return in lockstep.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = defaultBackoff,
  random: () => number = Math.random,
  retryAfterMs?: number,
): number {
  const exp = backoffCeiling(attempt, options);
  const floor = minBackoffDelay(attempt, options);
  const jittered = floor + Math.floor(random() * (exp - floor));
  if (retryAfterMs !== undefined && retryAfterMs > 0) {
    return Math.max(jittered, retryAfterMs + Math.floor(random() * options.baseMs));
  }
  return jittered;
}
