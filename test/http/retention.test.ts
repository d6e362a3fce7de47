/**
 * Retention on a real hub through its API: an Idempotency-Key past its 24 h expiry is pruned, and
 * the same key then makes a new order; the hub's scheduled job prunes on its own. SQLite on the
 * writer thread, in-process simulators; the hub's clock is moved by hand.
 */
import { afterEach, expect, test } from 'vitest';
import type { Hub } from '../../src/app/hub.js';
import type { OrderSubmission } from '../../src/domain/index.js';
import { ManualClock } from '../events/support.js';
import { openTestHub } from '../support/hub.js';

const bootstrap = 'retention-test-bootstrap-secret-0123456789';
const hour = 3_600_000;
const disposers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const d of disposers.splice(0)) await d();
});

function inPolicyOrder(h: Hub): OrderSubmission {
  const { customer, lines } = h.sims!.picks.inPolicy;
  return {
    customer: { id: customer.id },
    shipTo: customer.addresses.find((a) => a.kind === 'shipping') ?? customer.addresses[0]!,
    shippingMethod: 'ground',
    currency: 'USD',
    lines: lines.slice(0, 2).map((l) => ({ sku: l.sku, quantity: 1, unitPrice: l.unitPrice })),
  };
}

function post(hub: Hub, body: unknown, key: string) {
  return hub.app.inject({
    method: 'POST',
    url: '/api/v1/orders',
    headers: {
      authorization: `Bearer ${bootstrap}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    payload: JSON.stringify(body),
  });
}

async function open(overrides: Record<string, unknown> = {}) {
  const clock = new ManualClock(new Date().toISOString());
  const { hub, dispose } = await openTestHub('retention', bootstrap, { clock, overrides });
  disposers.push(dispose);
  return { hub, clock };
}

test('An Idempotency-Key older than 24 h is pruned, and the same key then makes a new order', async () => {
  const { hub, clock } = await open();
  const key = 'retention-key-0001';
  const body = inPolicyOrder(hub);
  const first = await post(hub, body, key);
  expect(first.statusCode).toBe(201);
  const firstId = first.json().orderId as string;
  const scope = (await hub.store.listApiKeys())[0]!.id;
  expect((await hub.store.getIdempotency(scope, key))?.responseStatus).toBe(201);

  // Within the window the key replays the first answer.
  clock.advance(23 * hour);
  expect((await hub.retention.runOnce()).counts.idempotency).toBe(0);
  const replay = await post(hub, body, key);
  expect(replay.statusCode).toBe(201);
  expect(replay.json().orderId).toBe(firstId);

  // Past 24 h the record is pruned; the key is new again.
  clock.advance(2 * hour);
  const run = await hub.retention.runOnce();
  expect(run.counts.idempotency).toBe(1);
  expect(await hub.store.getIdempotency(scope, key)).toBeNull();
  const again = await post(hub, body, key);
  expect(again.statusCode).toBe(201);
  const secondId = again.json().orderId as string;
  expect(secondId).not.toBe(firstId);
  expect((await hub.store.getOrder(firstId))?.id).toBe(firstId);
  expect((await hub.store.getOrder(secondId))?.id).toBe(secondId);
});

test('The scheduled retention job of a worker hub prunes by itself and is stopped on close', async () => {
  // 6 ms: the first run comes after one interval when that is shorter than a minute.
  const { hub, clock } = await open({ retention: { intervalMinutes: 0.0001 } });
  expect(hub.retention.scheduled).toBe(true);
  await hub.store.commit({
    idempotency: {
      scope: 'someone',
      key: 'old-key',
      requestHash: 'h',
      responseStatus: 201,
      responseBody: {},
      createdAt: new Date(clock.now().getTime() - 25 * hour).toISOString(),
    },
  });
  const deadline = Date.now() + 20_000;
  while ((await hub.store.getIdempotency('someone', 'old-key')) !== null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(await hub.store.getIdempotency('someone', 'old-key')).toBeNull();
});

test('An API-only hub (workers off) schedules no retention job but can run one on demand', async () => {
  const { hub } = await open({ workers: false });
  expect(hub.retention.scheduled).toBe(false);
  const r = await hub.retention.runOnce();
  expect(Object.keys(r.counts).sort()).toEqual([
    'audit_log',
    'exceptions',
    'idempotency',
    'inbound_messages',
    'outbox',
  ]);
});
