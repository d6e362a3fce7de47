/**
 * The hub runs each subscription with the delivery settings of the config file's
 * `events.subscriptions` (read back from `GET /api/v1/subscriptions`), the rest on the defaults.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Hub } from '../../src/app/hub.js';
import { defaultDeliveryPolicy } from '../../src/events/index.js';
import { openTestHub } from '../support/hub.js';

const key = 'hub-policies-bootstrap-secret-0123456789';
let hub: Hub;
let dispose: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ hub, dispose } = await openTestHub('policies', key, {
    overrides: {
      events: {
        subscriptions: {
          'crm-order-sync': { maxAttempts: 60, maxAgeHours: 48, breaker: { openMs: 30_000 } },
        },
      },
    },
  }));
});
afterAll(async () => {
  await dispose?.();
});

test('The hub applies events.subscriptions settings per subscription and keeps the defaults elsewhere', async () => {
  const res = await hub.app.inject({
    url: '/api/v1/subscriptions',
    headers: { authorization: `Bearer ${key}` },
  });
  const items: { name: string; limits: { maxAttempts: number; maxAgeMs: number } }[] = res.json().items;
  const byName = new Map(items.map((s) => [s.name, s]));
  expect(byName.get('crm-order-sync')?.limits).toMatchObject({ maxAttempts: 60, maxAgeMs: 48 * 3_600_000 });
  expect(byName.get('customer-notifications')?.limits).toMatchObject({
    maxAttempts: defaultDeliveryPolicy.maxAttempts,
    maxAgeMs: defaultDeliveryPolicy.maxAgeMs,
  });
});
