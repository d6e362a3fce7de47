/**
 * Bounded retries with exponential backoff and full jitter, driven by `CrossdockError.retryable`.
 *
 * Why here and not in the RPC client: only the port methods know that a call is safe to repeat.
 * Every ErpPort write in this connector searches for its idempotency anchor before writing, and
 * every workflow button re-reads state before pressing, so the whole method can be retried; a
 * bare `create` could not.
 */
import { backoffDelay, CrossdockError, toCrossdockError } from '../../domain/index.js';

/** How many times, and how patiently, a port method retries retryable failures. */
export interface RetryPolicy {
  /** Total attempts including the first (1 = no retry). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Defaults sized for Tryton: a lock wait or restart clears within a few seconds. */
export const defaultRetryPolicy: RetryPolicy = { attempts: 3, baseDelayMs: 200, maxDelayMs: 3000 };

/** Runs `fn`, retrying retryable CrossdockErrors; `attempt` is 0-based. */
export async function withRetry<T>(policy: RetryPolicy, fn: (attempt: number) => Promise<T>): Promise<T> {
  let last: CrossdockError | undefined;
  for (let attempt = 0; attempt < Math.max(1, policy.attempts); attempt += 1) {
    try {
      return await fn(attempt);
    } catch (err) {
      last = toCrossdockError(err);
      if (!last.retryable || attempt + 1 >= policy.attempts) throw last;
      // The code base's one backoff: full jitter under base·2^attempt, the vendor's Retry-After a floor.
      const delay = backoffDelay(
        attempt + 1,
        { baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs },
        Math.random,
        last.retryAfterMs,
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  throw last ?? CrossdockError.transient('retry loop ended without a result');
}
