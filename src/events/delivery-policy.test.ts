import { describe, expect, test } from 'vitest';
import { CrossdockError, errorKinds } from '../domain/index.js';
import {
  countsAgainstHealth,
  decideFailure,
  decideProbeFailure,
  defaultDeliveryPolicy,
  parkedException,
  resolvePolicy,
  retrySpanMs,
} from './delivery-policy.js';

const now = new Date('2025-03-03T10:00:00Z');
const fresh = { attempts: 0, createdAt: '2025-03-03T09:59:00Z' };
const policy = resolvePolicy({
  maxAttempts: 5,
  maxAgeMs: 3_600_000,
  backoff: { baseMs: 100, maxMs: 10_000 },
});

describe('decideFailure', () => {
  test('Transient and downstream outage failures are retried; data quality, policy and conflict failures are parked', () => {
    const actions = Object.fromEntries(
      errorKinds.map((k) => [
        k,
        decideFailure(fresh, new CrossdockError(k, 'x'), policy, now, () => 0.5).action,
      ]),
    );
    expect(actions).toEqual({
      transient: 'retry',
      downstream_outage: 'retry',
      data_quality: 'park',
      policy_violation: 'park',
      conflict: 'park',
    });
  });

  test('An unknown thrown value counts as transient', () => {
    expect(decideFailure(fresh, new TypeError('socket hang up'), policy, now).action).toBe('retry');
  });

  test('A retryable failure is parked once the attempts are exhausted', () => {
    const d = decideFailure({ ...fresh, attempts: 4 }, CrossdockError.transient('503'), policy, now);
    expect(d).toMatchObject({ action: 'park', reason: 'max_attempts', attempts: 5 });
  });

  test('A retryable failure is parked when the retry would fall past the maximum age', () => {
    const old = { attempts: 1, createdAt: '2025-03-03T08:59:59.900Z' };
    const d = decideFailure(old, CrossdockError.transient('503'), policy, now, () => 0.99);
    expect(d).toMatchObject({ action: 'park', reason: 'max_age' });
  });

  test('The retry waits at least as long as the Retry-After the destination sent', () => {
    const d = decideFailure(
      fresh,
      CrossdockError.transient('429', { retryAfterMs: 7_000 }),
      policy,
      now,
      () => 0,
    );
    expect(d).toMatchObject({ action: 'retry' });
    expect(d.action === 'retry' && d.delayMs).toBeGreaterThanOrEqual(7_000);
  });

  test('A parked delivery becomes an exception with the kind, owner, attempts and the vendor message', () => {
    const err = CrossdockError.dataQuality('CRM: REQUIRED_FIELD_MISSING AccountId', {
      details: { vendorCode: 'X' },
    });
    const decision = decideFailure(fresh, err, policy, now);
    if (decision.action !== 'park') throw new Error('expected park');
    const ex = parkedException(
      {
        id: '7',
        subscription: 'crm-order-sync',
        eventSeq: 3,
        key: 'ord-1',
        event: {
          specversion: '1.0',
          id: 'ev-1',
          source: 's',
          type: 'order.accepted.v1',
          time: now.toISOString(),
          subject: 'ord-1',
          datacontenttype: 'application/json',
          data: {},
        },
        attempts: 0,
        firstError: null,
        lastError: null,
        createdAt: fresh.createdAt,
      },
      decision,
      now,
      policy,
    );
    expect(ex).toMatchObject({
      kind: 'data_quality',
      owner: 'master_data',
      subscription: 'crm-order-sync',
      deliveryId: '7',
      eventId: 'ev-1',
      orderId: 'ord-1',
      attempts: 1,
    });
    expect(ex.error.message).toBe('CRM: REQUIRED_FIELD_MISSING AccountId');
  });

  test('The shipped policy retries a delivery that fails on every attempt for at least 2 hours, however the jitter falls, and keeps the 24 h maximum age', () => {
    const hour = 3_600_000;
    expect(defaultDeliveryPolicy.maxAgeMs).toBe(24 * hour);
    const span = retrySpanMs(defaultDeliveryPolicy);
    expect(span.minMs).toBeGreaterThanOrEqual(2 * hour);
    expect(span.maxMs).toBeLessThan(defaultDeliveryPolicy.maxAgeMs);
    // Played out with the unluckiest draws (every delay as short as it can be): retried until
    // max_attempts parks it, never before 2 hours.
    const policy = resolvePolicy();
    const created = Date.parse('2025-03-03T00:00:00Z');
    let at = created;
    let attempts = 0;
    for (;;) {
      const d = decideFailure(
        { attempts, createdAt: new Date(created).toISOString() },
        CrossdockError.downstreamOutage('connection refused'),
        policy,
        new Date(at),
        () => 0,
      );
      if (d.action === 'park') {
        expect(d).toMatchObject({ reason: 'max_attempts', attempts: policy.maxAttempts });
        break;
      }
      attempts = d.attempts;
      at += d.delayMs;
    }
    expect(at - created).toBe(span.minMs);
    expect(at - created).toBeGreaterThanOrEqual(2 * hour);
  });

  test('A failed probe is released with its attempts unchanged until the delivery passes the maximum age', () => {
    const down = CrossdockError.downstreamOutage('connection refused');
    expect(decideProbeFailure({ attempts: 3, createdAt: fresh.createdAt }, down, policy, now)).toMatchObject({
      action: 'release',
      attempts: 3,
    });
    const old = { attempts: 3, createdAt: '2025-03-03T08:59:59.000Z' };
    expect(decideProbeFailure(old, down, policy, now)).toMatchObject({
      action: 'park',
      reason: 'max_age',
      attempts: 4,
    });
  });

  test('Only failures about the destination health count against the breaker', () => {
    expect(errorKinds.filter(countsAgainstHealth)).toEqual(['transient', 'downstream_outage']);
  });
});
