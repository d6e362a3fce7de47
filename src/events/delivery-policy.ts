/**
 * The delivery policy of a subscription and the one decision it drives: after a failed
 * attempt, retry (when) or park (as which exception).
 *
 * Why decide on the error's kind, not its message: a CRM answering 400 "missing field" will
 * answer the same on every retry, so retrying only burns its rate limit and delays the
 * operator; a 503 will pass later, so parking it would make a person do a machine's job. The
 * CrossdockError's `retryable` flag carries that decision (defaulted from the kind: transient
 * and downstream_outage retry; data_quality, policy_violation and conflict park), and a
 * connector may override it when it knows better (a conflict that a re-read would fix).
 */
import { randomUUID } from 'node:crypto';
import { type CrossdockError, type ErrorKind, type Owner, toCrossdockError } from '../domain/index.js';
import type { Delivery, ExceptionInput } from '../ports/index.js';
import { type BackoffOptions, backoffDelay, defaultBackoff } from './backoff.js';
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
 * Defaults. Why these numbers: 12 attempts with a 250 ms base and 5 min cap span about 20
 * minutes of backoff, and the 24 h max age then keeps retrying a down CRM across a long
 * maintenance window before asking a person (the breaker keeps that cheap). A batch of 500
 * amortises the claim and complete round trips (see the dispatcher for the measurement); a 60 s
 * lease is 6× the handler timeout, so a live process never loses a claim mid-batch.
 */
export const defaultDeliveryPolicy: DeliveryPolicy = {
  maxAttempts: 12,
  maxAgeMs: 24 * 3_600_000,
  backoff: defaultBackoff,
  concurrency: 16,
  ratePerSecond: Number.POSITIVE_INFINITY,
  burst: 100,
  breaker: defaultBreakerOptions,
  batchSize: 500,
  leaseMs: 60_000,
  timeoutMs: 10_000,
};

/** Merges a partial policy over the defaults (nested breaker/backoff merged too). */
export function resolvePolicy(partial: Partial<DeliveryPolicy> = {}): DeliveryPolicy {
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
