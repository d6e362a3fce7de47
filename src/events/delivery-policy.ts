/**
 * The delivery policy of a subscription and the decisions it drives: after a failed attempt,
 * retry (when) or park (as which exception); after a failed breaker probe, wait or park.
 *
 * Why decide on the error's kind, not its message: a CRM answering 400 "missing field" will
 * answer the same on every retry, so retrying only burns its rate limit and delays the
 * operator; a 503 will pass later, so parking it would make a person do a machine's job. The
 * CrossdockError's `retryable` flag carries that decision (defaulted from the kind: transient
 * and downstream_outage retry; data_quality, policy_violation and conflict park), and a
 * connector may override it when it knows better (a conflict that a re-read would fix).
 *
 * What counts as an attempt (the dispatcher applies it; `decideFailure` for a charged attempt,
 * `decideProbeFailure` for a probe):
 * - A call the breaker refused (open, or half-open with its probe taken) was not made: nothing
 *   is counted, the delivery is released and waits for the breaker.
 * - A half-open probe that fails with a health failure (transient, downstream_outage) says the
 *   destination is still down, nothing about the delivery that carried it: its attempts are not
 *   counted, it is released, and only the maximum age can park it. Why: a probe goes out every
 *   `breaker.openMs`, so charging probes to the oldest waiting deliveries (the ones a claim hands
 *   out first) spent their whole attempt budget in minutes of an outage and parked the head of
 *   a strictly ordered key, which then blocked every later update of that order.
 * - Every other call that fails counts one attempt against its own delivery: a call made while
 *   the breaker was closed (including the ones in flight when it opens), and a probe that fails
 *   with anything but a health failure (the destination answered, so the breaker closes and the
 *   failure is the delivery's own).
 * So a down destination spends the attempts of at most the calls that were in flight while the
 * breaker opened (about `breaker.failureThreshold`, up to `concurrency`), once per outage; a
 * long outage is bounded by `maxAgeMs`, and `maxAttempts` with the backoff bounds a delivery that
 * keeps failing while its destination is otherwise up.
 */
import { randomUUID } from 'node:crypto';
import {
  type BackoffOptions,
  backoffCeiling,
  backoffDelay,
  type CrossdockError,
  type ErrorKind,
  minBackoffDelay,
  type Owner,
  toCrossdockError,
} from '../domain/index.js';
import type { Delivery, ExceptionInput } from '../ports/index.js';
import { type BreakerOptions, defaultBreakerOptions } from './circuit-breaker.js';

/** Everything that governs deliveries to one destination. */
export interface DeliveryPolicy {
  /** Attempts in total (first try included) before a retryable failure is parked. */
  maxAttempts: number;
  /** A delivery older than this (since enqueued) is parked instead of retried, in ms. */
  maxAgeMs: number;
  backoff: BackoffOptions;
  /** Keys delivered in parallel (calls in flight to the destination). */
  concurrency: number;
  /** Sustained calls per second; `Infinity` = unlimited. */
  ratePerSecond: number;
  /** Calls allowed back-to-back. */
  burst: number;
  breaker: BreakerOptions;
  /** Deliveries claimed per round trip to the store. */
  batchSize: number;
  /** How long a claim is ours; a crashed process's claims are re-claimed after it. */
  leaseMs: number;
  /** A handler call slower than this counts as a transient failure, in ms. */
  timeoutMs: number;
  /** Owner of exceptions when the error does not name one. */
  owner?: Owner;
}

/**
 * Defaults, sized for the outage distributors plan for (a CRM unable to take updates for half an
 * hour) with room to spare: a down system is retried for at least 2 hours before anything is
 * parked, whatever the breaker does.
 * - While the breaker is open nothing is attempted and nothing is counted (see the module
 *   comment), so an outage of any length up to `maxAgeMs` (24 h) parks nothing; one probe per
 *   `breaker.openMs` (10 s) is all the destination sees of it.
 * - A delivery that fails on *every* attempt (the breaker closed, e.g. a destination failing
 *   only this call) is retried for `retrySpanMs(defaultDeliveryPolicy)`: 40 attempts, backoff
 *   from 250 ms doubling to a 10 min cap with equal jitter, i.e. at least 2 h 23 min and at most
 *   4 h 47 min before `max_attempts` parks it. Full jitter could not promise the 2 h: its delays
 *   may all be drawn near 0.
 * - 24 h maximum age: a long maintenance window is ridden out before a person is asked.
 * A batch of 500 amortises the claim and complete round trips (see the dispatcher for the
 * measurement); a 60 s lease is 6× the handler timeout, so a live process never loses a claim
 * mid-batch.
 */
export const defaultDeliveryPolicy: DeliveryPolicy = {
  maxAttempts: 40,
  maxAgeMs: 24 * 3_600_000,
  backoff: { baseMs: 250, maxMs: 600_000, jitter: 'equal' },
  concurrency: 16,
  ratePerSecond: Number.POSITIVE_INFINITY,
  burst: 100,
  breaker: defaultBreakerOptions,
  batchSize: 500,
  leaseMs: 60_000,
  timeoutMs: 10_000,
};

/**
 * How long a delivery failing on every attempt is retried before `max_attempts` parks it: the
 * sum of the backoff delays of retries 1 … maxAttempts−1, at their shortest and longest draws
 * (no `Retry-After`, which only lengthens them; `maxAgeMs` may park it earlier).
 */
export function retrySpanMs(policy: Pick<DeliveryPolicy, 'maxAttempts' | 'backoff'>): {
  minMs: number;
  maxMs: number;
} {
  let minMs = 0;
  let maxMs = 0;
  for (let n = 1; n < policy.maxAttempts; n++) {
    minMs += minBackoffDelay(n, policy.backoff);
    maxMs += backoffCeiling(n, policy.backoff);
  }
  return { minMs, maxMs };
}

/** A policy given in part: what differs from the defaults, nested breaker and backoff too. */
export type DeliveryPolicyOverrides = Omit<Partial<DeliveryPolicy>, 'backoff' | 'breaker'> & {
  backoff?: Partial<BackoffOptions>;
  breaker?: Partial<BreakerOptions>;
};

/**
 * One subscription's settings in the config file (`events.subscriptions.<name>`, validated by
 * the config schema): the knobs an operator sizes for a destination's outages, in the units an
 * operator thinks in.
 */
export interface SubscriptionPolicySettings {
  /** Attempts in total (first included) before a retryable failure is parked. */
  maxAttempts?: number | undefined;
  /** A delivery older than this is parked instead of retried, in hours. */
  maxAgeHours?: number | undefined;
  /** Delay ceiling of the first retry, in ms. */
  backoffBaseMs?: number | undefined;
  /** Longest wait between two attempts of a delivery, in ms. */
  backoffCapMs?: number | undefined;
  breaker?:
    | {
        /** Consecutive health failures that open the breaker. */
        failureThreshold?: number | undefined;
        /** How long it stays open before one probe, in ms. */
        openMs?: number | undefined;
      }
    | undefined;
}

/** The overrides a subscription's config settings stand for (only what they set). */
export function policyFromSettings(settings: SubscriptionPolicySettings): DeliveryPolicyOverrides {
  const out: DeliveryPolicyOverrides = {};
  if (settings.maxAttempts !== undefined) out.maxAttempts = settings.maxAttempts;
  if (settings.maxAgeHours !== undefined) out.maxAgeMs = Math.round(settings.maxAgeHours * 3_600_000);
  const backoff: Partial<BackoffOptions> = {};
  if (settings.backoffBaseMs !== undefined) backoff.baseMs = settings.backoffBaseMs;
  if (settings.backoffCapMs !== undefined) backoff.maxMs = settings.backoffCapMs;
  if (Object.keys(backoff).length > 0) out.backoff = backoff;
  const breaker: Partial<BreakerOptions> = {};
  if (settings.breaker?.failureThreshold !== undefined)
    breaker.failureThreshold = settings.breaker.failureThreshold;
  if (settings.breaker?.openMs !== undefined) breaker.openMs = settings.breaker.openMs;
  if (Object.keys(breaker).length > 0) out.breaker = breaker;
  return out;
}

/** Merges a partial policy over the defaults (nested breaker/backoff merged too). */
export function resolvePolicy(partial: DeliveryPolicyOverrides = {}): DeliveryPolicy {
  return {
    ...defaultDeliveryPolicy,
    ...partial,
    backoff: { ...defaultDeliveryPolicy.backoff, ...partial.backoff },
    breaker: { ...defaultDeliveryPolicy.breaker, ...partial.breaker },
  };
}

/** The outcome of one failed attempt. */
export type FailureDecision =
  | { action: 'retry'; delayMs: number; error: CrossdockError; attempts: number }
  | {
      action: 'park';
      reason: 'permanent' | 'max_attempts' | 'max_age';
      error: CrossdockError;
      attempts: number;
    };

/** Whether a failure of this kind says the destination itself is unhealthy (breaker input). */
export function countsAgainstHealth(kind: ErrorKind): boolean {
  return kind === 'transient' || kind === 'downstream_outage';
}

/**
 * Decides retry vs park for a delivery whose attempt number `delivery.attempts + 1` just
 * failed with `thrown`.
 */
export function decideFailure(
  delivery: Pick<Delivery, 'attempts' | 'createdAt'>,
  thrown: unknown,
  policy: DeliveryPolicy,
  now: Date,
  random: () => number = Math.random,
): FailureDecision {
  const error = toCrossdockError(thrown);
  const attempts = delivery.attempts + 1;
  if (!error.retryable) return { action: 'park', reason: 'permanent', error, attempts };
  if (attempts >= policy.maxAttempts) return { action: 'park', reason: 'max_attempts', error, attempts };
  const delayMs = backoffDelay(attempts, policy.backoff, random, error.retryAfterMs);
  const ageAtRetry = now.getTime() + delayMs - Date.parse(delivery.createdAt);
  if (ageAtRetry > policy.maxAgeMs) return { action: 'park', reason: 'max_age', error, attempts };
  return { action: 'retry', delayMs, error, attempts };
}

/** The outcome of a failed half-open probe: wait for the next probe (uncounted), or park. */
export type ProbeFailureDecision =
  | { action: 'release'; error: CrossdockError; attempts: number }
  | Extract<FailureDecision, { action: 'park' }>;

/**
 * Decides for a delivery whose half-open probe just failed with a health failure (see the module
 * comment): it is released with its attempts unchanged, unless it is already older than the
 * maximum age, which parks it (`max_age`, counting this attempt). A probe failure that is not a
 * health failure is the delivery's own: decide it with {@link decideFailure}.
 */
export function decideProbeFailure(
  delivery: Pick<Delivery, 'attempts' | 'createdAt'>,
  thrown: unknown,
  policy: DeliveryPolicy,
  now: Date,
): ProbeFailureDecision {
  const error = toCrossdockError(thrown);
  const age = now.getTime() - Date.parse(delivery.createdAt);
  if (age > policy.maxAgeMs) {
    return { action: 'park', reason: 'max_age', error, attempts: delivery.attempts + 1 };
  }
  return { action: 'release', error, attempts: delivery.attempts };
}

/** The JSON stored as a delivery's error: the typed error plus when and which attempt. */
export function errorRecord(error: CrossdockError, attempts: number, now: Date): Record<string, unknown> {
  return { ...error.toJSON(), attempt: attempts, at: now.toISOString() };
}

/** The exception record of a parked delivery: kind, owner, attempts and the vendor's message. */
export function parkedException(
  delivery: Delivery,
  decision: Extract<FailureDecision, { action: 'park' }>,
  now: Date,
  policy: DeliveryPolicy,
): ExceptionInput {
  const { error } = decision;
  return {
    id: randomUUID(),
    kind: error.kind,
    owner: decision.reason === 'permanent' ? error.owner : (policy.owner ?? error.owner),
    source: `subscription:${delivery.subscription}`,
    subscription: delivery.subscription,
    deliveryId: delivery.id,
    eventId: delivery.event.id,
    orderId: delivery.key,
    error: {
      ...errorRecord(error, decision.attempts, now),
      parkReason: decision.reason,
      eventType: delivery.event.type,
    },
    attempts: decision.attempts,
  };
}
