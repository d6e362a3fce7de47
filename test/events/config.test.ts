/**
 * Per-subscription delivery settings in the config file (`events.subscriptions`): validated at
 * start with the offending name or field named, and turned into the policies the dispatcher
 * runs with (read back from its status, as the operations API shows them).
 */
import { describe, expect, test } from 'vitest';
import { CrossdockConfig, loadConfig } from '../../src/app/config.js';
import {
  Dispatcher,
  defaultDeliveryPolicy,
  resolvePolicy,
  subscriptionNames,
  subscriptionPolicies,
} from '../../src/events/index.js';
import { ManualClock, openTestStore } from './support.js';

const load = (events: Record<string, unknown>) => loadConfig({ env: {}, overrides: { events } });

describe('events.subscriptions in the config file', () => {
  test('Settings of one subscription reach its dispatcher policy; the others keep the shipped defaults', async () => {
    const config = await load({
      leaseMs: 30_000,
      subscriptions: {
        'crm-order-sync': {
          maxAttempts: 60,
          maxAgeHours: 48,
          backoffCapMs: 900_000,
          breaker: { failureThreshold: 3, openMs: 30_000 },
        },
      },
    });
    const policies = subscriptionPolicies(config.events);
    expect(Object.keys(policies).sort()).toEqual(Object.values(subscriptionNames).sort());
    const crm = resolvePolicy(policies[subscriptionNames.crmOrderSync]);
    expect(crm).toMatchObject({
      maxAttempts: 60,
      maxAgeMs: 48 * 3_600_000,
      leaseMs: 30_000,
      timeoutMs: config.events.handlerTimeoutMs,
      backoff: { baseMs: defaultDeliveryPolicy.backoff.baseMs, maxMs: 900_000, jitter: 'equal' },
      breaker: { failureThreshold: 3, openMs: 30_000, halfOpenProbes: 1 },
    });
    const other = resolvePolicy(policies[subscriptionNames.customerNotifications]);
    expect(other).toEqual({
      ...defaultDeliveryPolicy,
      leaseMs: 30_000,
      timeoutMs: config.events.handlerTimeoutMs,
    });

    const clock = new ManualClock();
    const ts = await openTestStore('sqlite-memory', clock);
    try {
      const d = new Dispatcher({ store: ts.store, clock }).register({
        name: subscriptionNames.crmOrderSync,
        policy: policies[subscriptionNames.crmOrderSync],
        handler: async () => {},
      });
      await d.init();
      const [status] = await d.status();
      expect(status?.limits).toMatchObject({ maxAttempts: 60, maxAgeMs: 48 * 3_600_000 });
      expect(d.breaker(subscriptionNames.crmOrderSync).options).toMatchObject({
        failureThreshold: 3,
        openMs: 30_000,
      });
    } finally {
      await ts.dispose();
    }
  });

  test('Without the block every subscription runs the shipped defaults', async () => {
    const config = await loadConfig({ env: {} });
    expect(config.events.subscriptions).toEqual({});
    for (const p of Object.values(subscriptionPolicies(config.events))) {
      expect(resolvePolicy(p)).toEqual({
        ...defaultDeliveryPolicy,
        leaseMs: config.events.leaseMs,
        timeoutMs: config.events.handlerTimeoutMs,
      });
    }
  });

  test('An unknown subscription name is refused at start, named, with the known ones listed (the same as subscriptionNames)', async () => {
    const err = await load({ subscriptions: { 'crm-order-sink': { maxAttempts: 5 } } }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toContain('events.subscriptions: unknown subscription "crm-order-sink"');
    const known = /\(known: ([^)]*)\)/.exec(err?.message ?? '')?.[1]?.split(', ');
    expect(known?.sort()).toEqual(Object.values(subscriptionNames).sort());
    for (const name of Object.values(subscriptionNames)) {
      expect(CrossdockConfig.safeParse({ events: { subscriptions: { [name]: {} } } }).success).toBe(true);
    }
    // Callers that skip the config schema get the same refusal from the backbone.
    expect(() =>
      subscriptionPolicies({ leaseMs: 1_000, handlerTimeoutMs: 1_000, subscriptions: { nope: {} } }),
    ).toThrow('unknown subscription "nope"');
  });

  test('Out-of-range and misspelt settings are refused with the field named', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ maxAttempts: 0 }, 'events.subscriptions.crm-order-sync.maxAttempts'],
      [{ maxAttempts: 2.5 }, 'events.subscriptions.crm-order-sync.maxAttempts'],
      [{ maxAgeHours: -1 }, 'events.subscriptions.crm-order-sync.maxAgeHours'],
      [{ backoffCapMs: 'ten minutes' }, 'events.subscriptions.crm-order-sync.backoffCapMs'],
      [{ backoffBaseMs: 5_000, backoffCapMs: 1_000 }, 'events.subscriptions.crm-order-sync.backoffCapMs'],
      [{ breaker: { openMs: 0 } }, 'events.subscriptions.crm-order-sync.breaker.openMs'],
      [{ breaker: { failureThreshold: 0 } }, 'events.subscriptions.crm-order-sync.breaker.failureThreshold'],
      [{ maxAtempts: 10 }, 'events.subscriptions.crm-order-sync: Unrecognized key: "maxAtempts"'],
      [
        { breaker: { halfOpen: 2 } },
        'events.subscriptions.crm-order-sync.breaker: Unrecognized key: "halfOpen"',
      ],
    ];
    for (const [settings, field] of cases) {
      await expect(load({ subscriptions: { 'crm-order-sync': settings } })).rejects.toThrow(field);
    }
  });
});
