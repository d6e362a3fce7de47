/**
 * The mission's own example, end to end through the real hub (createHub: HTTP API, quote-to-
 * order, fulfillment sync, dispatcher, SQLite on a writer thread): the CRM cannot receive
 * anything while orders are accepted and shipments flow. When it returns, every update arrives
 * exactly once, in per-order order, and the CRM ends in the hub's state. Effects are counted in
 * the simulated CRM and notification service, not calls.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Hub } from '../../src/app/hub.js';
import type { OrderSubmission } from '../../src/domain/index.js';
import { openTestHub } from '../support/hub.js';

const key = 'outage-bootstrap-secret-0123456789';
let hub: Hub;
let dispose: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ hub, dispose } = await openTestHub('outage', key));
});
afterAll(async () => {
  await dispose?.();
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - started;
}

async function subscriptions(): Promise<
  { name: string; backlog: { pending: number; leased: number; parked: number } }[]
> {
  const res = await hub.app.inject({
    url: '/api/v1/subscriptions',
    headers: { authorization: `Bearer ${key}` },
  });
  return res.json().items;
}

describe('the CRM is down while orders are accepted and shipments flow', () => {
  test('after the CRM returns, every update arrives exactly once, in per-order order, and the CRM equals the hub', async () => {
    const sims = hub.sims!;
    const { customer, lines } = sims.picks.inPolicy;
    const shipTo = customer.addresses.find((a) => a.kind === 'shipping')!;
    sims.faults.crm.configure({ down: true });
    const outageStarted = Date.now();

    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const body: OrderSubmission = {
        customer: { id: customer.id },
        shipTo,
        shippingMethod: 'ground',
        currency: 'USD',
        lines: [
          { sku: lines[i % lines.length]!.sku, quantity: 1, unitPrice: lines[i % lines.length]!.unitPrice },
        ],
      };
      const res = await hub.app.inject({
        method: 'POST',
        url: '/api/v1/orders',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'idempotency-key': `outage-${i}`,
        },
        payload: JSON.stringify(body),
      });
      expect(res.statusCode).toBe(201);
      ids.push(res.json().orderId);
    }
    // Shipments progress in the ERP while the CRM is still down.
    for (const id of ids) {
      const order = (await hub.store.getOrder(id))!;
      for (const state of ['assigned', 'picked', 'packed', 'done'] as const)
        sims.erp.advanceShipment(order.externalIds['erpOrderId']!, state);
    }
    await until('every order shipped in the hub', async () => {
      for (const id of ids) if ((await hub.store.getOrder(id))?.state !== 'shipped') return false;
      return true;
    });
    // Keep the CRM away long enough for retries to back off and the breaker to open.
    await until('5 s of outage', async () => Date.now() - outageStarted >= 5000);
    const crmEffectsDuringOutage = sims.faults.crm.effects;
    const crmCallsDuringOutage = sims.faults.crm.calls;
    const pendingAtReturn = (await subscriptions()).find((s) => s.name === 'crm-order-sync')!.backlog.pending;
    expect(crmEffectsDuringOutage).toBe(0);
    expect(pendingAtReturn).toBeGreaterThan(0);

    sims.faults.crm.configure({ down: false });
    const outageMs = Date.now() - outageStarted;
    const drainMs = await until('the CRM subscriptions to drain', async () => {
      const subs = await subscriptions();
      return subs
        .filter((s) => s.name.startsWith('crm-'))
        .every((s) => s.backlog.pending === 0 && s.backlog.leased === 0);
    });

    let events = 0;
    for (const id of ids) {
      const hubOrder = (await hub.store.getOrder(id))!;
      const outbox = (await hub.store.readEvents({ fromSeq: 0, limit: 100_000 })).filter(
        (e) => e.event.subject === id,
      );
      events += outbox.length;
      // CRM order status equals the hub's, and came from the latest event of the order.
      const status = sims.crm.orderStatus(id)!;
      expect(status.state).toBe(hubOrder.state);
      expect(status.status).toBe(hubOrder.customerStatus);
      expect(status.sequence).toBe(Math.max(...outbox.map((e) => e.seq)));
      // One CRM activity per event, none twice, in the order the hub emitted them.
      const activities = sims.crm.activities(id);
      expect(activities).toHaveLength(outbox.length);
      expect(new Set(activities.map((a) => a.idempotencyKey)).size).toBe(activities.length);
    }
    // Nothing parked, nothing notified twice.
    expect((await subscriptions()).every((s) => s.backlog.parked === 0)).toBe(true);
    expect(sims.notifications.repeatedContent()).toEqual([]);
    console.info(
      `CRM outage: ${ids.length} orders, ${events} events, CRM down ${(outageMs / 1000).toFixed(1)} s ` +
        `(${crmCallsDuringOutage} calls refused, ${crmEffectsDuringOutage} effects), ${pendingAtReturn} order-sync updates waiting at return, ` +
        `drained in ${(drainMs / 1000).toFixed(1)} s; CRM effects after: ${sims.faults.crm.effects} = ${events} order-status + ${events} activities expected`,
    );
    expect(sims.faults.crm.effects).toBe(2 * events);
  }, 120_000);
});
