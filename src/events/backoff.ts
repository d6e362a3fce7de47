/**
 * Retry timing: exponential backoff with full jitter.
 *
 * Why full jitter (delay = random(0, min(cap, base·2^n))): when a destination comes back after
 * an outage, every parked-for-retry delivery of every key becomes due together. "Equal" jitter
 * still bunches retries at the midpoint; full jitter spreads them over the whole window, which
 * AWS measured as the fewest total calls and the shortest completion time of the variants
 * ("Exponential Backoff And Jitter", 2015). The random source is injectable so tests are exact.
 */

/** Backoff shape of one destination. */
export interface BackoffOptions {
  /** Delay ceiling of the first retry, in ms. */
  baseMs: number;
  /** Ceiling for any single delay, in ms. */
  maxMs: number;
}

/** Default shape: 250 ms first, capped at 5 minutes (a CRM maintenance window is minutes). */
export const defaultBackoff: BackoffOptions = { baseMs: 250, maxMs: 300_000 };

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
  const exp = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  const jittered = Math.floor(random() * exp);
  if (retryAfterMs !== undefined && retryAfterMs > 0) {
    return Math.max(jittered, retryAfterMs + Math.floor(random() * options.baseMs));
  }
  return jittered;
}
