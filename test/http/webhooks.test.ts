import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Hub } from '../../src/app/hub.js';
import { customerStatus, type OrderSubmission, type SalesOrder } from '../../src/domain/index.js';
import { signatureHeader, signWebhook } from '../../src/events/index.js';
import { buildHttpApp } from '../../src/http/app.js';
import { type ApiScope, createApiKey, createMetrics } from '../../src/http/middleware/index.js';
import { registerOpsRoutes } from '../../src/http/routes/ops.js';
import { systemClock } from '../../src/ports/index.js';
import { order as orderFixture } from '../../src/storage/contract/fixtures.js';
import { freshDatabase } from '../support/database.js';
import { openTestHub } from '../support/hub.js';

const bootstrap = 'webhook-test-bootstrap-secret-0123456789';
const secrets = {
  crm: 'crm-webhook-secret-0123456789',
  wms: 'wms-webhook-secret-0123456789',
  tms: 'tms-webhook-secret-0123456789',
  erp: 'erp-webhook-secret-0123456789',
};
type Source = keyof typeof secrets;
const sources = Object.keys(secrets) as Source[];

async function until<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(['sqlite', 'postgres'] as const)('POST /api/v1/webhooks/:source on %s', (backend) => {
  let hub: Hub;
  let dispose: (() => Promise<void>) | undefined;
  let drop: (() => Promise<void>) | undefined;
  const keys = {} as Record<'ordersWrite' | Source, string>;
  let seq = 0;

  beforeAll(async () => {
    const overrides: Record<string, unknown> = { webhooks: { secrets } };
    if (backend === 'postgres') {
      const db = await freshDatabase('webhooks');
      drop = db.drop;
      overrides['databaseUrl'] = db.url;
    }
    ({ hub, dispose } = await openTestHub(`webhooks-${backend}`, bootstrap, { overrides }));
    const key = async (name: string, scopes: ApiScope[]) => {
      const k = createApiKey({ name, scopes, rateLimit: 1_000_000 });
      await hub.store.putApiKey(k.record);
      return k.secret;
    };
    keys.ordersWrite = await key('crm-app', ['orders:write', 'orders:read']);
    for (const s of sources) keys[s] = await key(`${s}-sender`, [`webhooks:${s}`]);
  });

  afterAll(async () => {
    await dispose?.();
    await drop?.();
  });

  function cloudEvent(
    type: string,
    subject: string,
    data: Record<string, unknown>,
    id = `evt-${backend}-${++seq}`,
  ): string {
    return JSON.stringify({
      specversion: '1.0',
      id,
      source: 'urn:crossdock:hub', // what a forger would claim; the route decides
      type,
      time: new Date().toISOString(),
      subject,
      data,
    });
  }

  function post(source: string, raw: string, key: string, signWith?: string) {
    return hub.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${source}`,
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/cloudevents+json',
        [signatureHeader]: signWebhook(
          signWith ?? secrets[source as Source] ?? 'x',
          raw,
          Math.floor(Date.now() / 1000),
        ),
      },
      payload: raw,
    });
  }

  async function acceptedOrder(): Promise<SalesOrder> {
    const { customer, lines } = hub.sims!.picks.inPolicy;
    const submission: OrderSubmission = {
      customer: { id: customer.id },
      shipTo: customer.addresses.find((a) => a.kind === 'shipping') ?? customer.addresses[0]!,
      shippingMethod: 'ground',
      currency: 'USD',
      lines: lines.slice(0, 1).map((l) => ({ sku: l.sku, quantity: 1, unitPrice: l.unitPrice })),
    };
    const res = await hub.app.inject({
      method: 'POST',
      url: '/api/v1/orders',
      headers: { authorization: `Bearer ${keys.ordersWrite}`, 'content-type': 'application/json' },
      payload: JSON.stringify(submission),
    });
    expect(res.statusCode).toBe(201);
    return (await hub.store.getOrder(res.json().orderId))!;
  }

  /** Waits until every subscription has nothing pending or leased. */
  async function drained(): Promise<void> {
    hub.dispatcher!.notify();
    await until('the dispatcher to drain', async () => {
      const stats = await hub.store.subscriptionStats();
      return stats.every((s) => s.pending === 0 && s.leased === 0);
    });
  }

  /** The order as released to the warehouse and reported back by the polled WMS feed. */
  async function releasedOrder(): Promise<SalesOrder> {
    const o = await acceptedOrder();
    await drained();
    return until('the WMS feed to report the release', async () => {
      const now = await hub.store.getOrder(o.id);
      const reported = ['released', 'allocated'].every((m) => now?.milestones.includes(m));
      return reported ? now : null;
    });
  }

  const milestone = (m: string, id: string, shipmentId: string, warehouseId: string) => ({
    milestoneId: id,
    shipmentId,
    warehouseId,
    milestone: m,
  });

  test('a forged order.accepted.v1 (and every order.*) is refused from every source and never delivered', async () => {
    const order = await releasedOrder();
    await drained();
    const wms = hub.sims!.wms;
    const notifications = hub.sims!.notifications;
    expect(wms.ordersOf(order.id)).toHaveLength(1);
    const notified = notifications.deliveredTo(order.customerId!, order.id).length;
    expect(notified).toBeGreaterThanOrEqual(1);
    const crmBefore = hub.sims!.crm.orderStatus(order.id);
    const before = await hub.store.readEvents({ limit: 10_000 });
    const lastSeq = before.at(-1)?.seq ?? 0;

    const data = {
      orderId: order.id,
      customerId: order.customerId,
      state: 'accepted',
      customerStatus: 'Confirmed',
      erpOrderNumber: 'SO-FORGED',
      total: order.total,
      currency: order.currency,
      lines: [],
    };
    const types = [
      'order.accepted.v1',
      'order.held.v1',
      'order.rejected.v1',
      'order.status_changed.v1',
      'order.cancelled.v1',
    ];
    for (const source of sources) {
      for (const type of types) {
        // With an admin key: no scope makes a forged hub event acceptable.
        const res = await post(source, cloudEvent(type, order.id, data), bootstrap);
        expect(res.statusCode).toBe(422);
        expect(res.headers['content-type']).toContain('application/problem+json');
        expect(res.json().errors).toEqual([{ field: 'type', message: expect.any(String) }]);
      }
    }
    await drained();
    const after = await hub.store.readEvents({ limit: 10_000 });
    expect(after.filter((e) => e.seq > lastSeq)).toEqual([]);
    expect(wms.ordersOf(order.id)).toHaveLength(1);
    expect(notifications.deliveredTo(order.customerId!, order.id)).toHaveLength(notified);
    expect(hub.sims!.crm.orderStatus(order.id)).toEqual(crmBefore);
    const now = (await hub.store.getOrder(order.id))!;
    expect(now.version).toBe(order.version);
    expect(now.externalIds['erp']).not.toBe('SO-FORGED');
  });

  test('a WMS shipped webhook moves a released order to shipped once; a re-send is a duplicate; a late picked stays in the timeline', async () => {
    const order = await releasedOrder();
    const [wo] = hub.sims!.wms.ordersOf(order.id);
    const shipped = cloudEvent(
      'wms.milestone.v1',
      order.id,
      milestone('shipped', `${wo!.wmsOrderId}:shipped`, wo!.wmsOrderId, wo!.warehouseId),
    );
    const first = await post('wms', shipped, keys.wms);
    expect(first.statusCode).toBe(202);
    expect(first.json().status).toBe('accepted');
    expect((await hub.store.getOrder(order.id))?.state).toBe('shipped');

    const again = await post('wms', shipped, keys.wms);
    expect(again.statusCode).toBe(200);
    expect(again.json().status).toBe('duplicate');

    const late = await post(
      'wms',
      cloudEvent(
        'wms.milestone.v1',
        order.id,
        milestone('picked', `${wo!.wmsOrderId}:picked`, wo!.wmsOrderId, wo!.warehouseId),
      ),
      keys.wms,
    );
    expect(late.statusCode).toBe(202);
    const now = (await hub.store.getOrder(order.id))!;
    expect(now.state).toBe('shipped');

    const timeline = (
      await hub.app.inject({
        url: `/api/v1/orders/${order.id}/timeline`,
        headers: { authorization: `Bearer ${keys.ordersWrite}` },
      })
    ).json().entries as { name: string; system: string; outcome: string }[];
    const fromWebhook = timeline.filter((e) => e.system === 'urn:wms');
    expect(fromWebhook.map((e) => [e.name, e.outcome])).toEqual([
      ['shipment.shipped', 'applied'],
      ['shipment.picked', 'recorded'],
    ]);
    // Published by the hub: one shipped milestone and one status change, CRM told once.
    await drained();
    const events = (await hub.store.readEvents({ limit: 10_000 }))
      .map((r) => r.event)
      .filter((e) => e.subject === order.id && e.source.startsWith('/crossdock/webhooks/'));
    expect(events.map((e) => [e.type, e.data['milestone'] ?? e.data['state']])).toEqual([
      ['shipment.milestone.v1', 'shipped'],
      ['order.status_changed.v1', 'shipped'],
      ['shipment.milestone.v1', 'picked'],
    ]);
    expect(hub.sims!.crm.orderStatus(order.id)?.status).toBe(customerStatus('shipped', false));
  });

  test('a milestone the polled feed already applied, pushed again as a webhook, is recorded once on its shipment', async () => {
    const order = await releasedOrder();
    const polled = (await hub.sims!.wms.milestonesSince(null, 10_000)).milestones.find(
      (m) => m.hubOrderId === order.id && m.type === 'released',
    )!;
    const res = await post(
      'wms',
      cloudEvent(
        'wms.milestone.v1',
        order.id,
        milestone('released', polled.id, polled.shipmentId, polled.warehouseId),
      ),
      keys.wms,
    );
    expect(res.statusCode).toBe(202);
    const now = (await hub.store.getOrder(order.id))!;
    const shipment = now.shipments.find((s) => s.id === polled.shipmentId)!;
    expect(shipment.events.filter((e) => e.type === 'released')).toHaveLength(1);
    const pushed = (await hub.store.getTimeline(order.id)).filter((e) => e.system === 'urn:wms');
    expect(pushed.map((e) => [e.outcome, e.summary['repeat']])).toEqual([['recorded', true]]);
  });

  test('a milestone for an order the hub does not have is refused naming the subject', async () => {
    const res = await post(
      'wms',
      cloudEvent('wms.milestone.v1', 'ord-does-not-exist', milestone('shipped', 'm-1', 'WO-1', 'WH-1')),
      keys.wms,
    );
    expect(res.statusCode).toBe(422);
    expect(res.json().errors).toEqual([{ field: 'subject', message: expect.any(String) }]);
    const ex = await hub.store.listExceptions({ status: 'open' });
    const unknown = ex.find((e) => e.id === 'inbound:wms:unknown_order');
    expect(unknown?.lastError['last']).toMatchObject({ subject: 'ord-does-not-exist' });
  });

  test('an order still being decided gets 503 with Retry-After and nothing is recorded', async () => {
    const o = orderFixture(`ord-pending-${backend}`, {
      state: 'validating',
      customerStatus: customerStatus('validating', false),
      createdAt: new Date().toISOString(),
    });
    await hub.store.commit({ order: { next: o, expectedVersion: null } });
    const res = await post(
      'wms',
      cloudEvent('wms.milestone.v1', o.id, milestone('released', 'm-p', 'WO-P', 'WH-1')),
      keys.wms,
    );
    // Unless the hub decided it in between (its resume loop), the milestone must wait.
    const now = (await hub.store.getOrder(o.id))!;
    if (now.state === 'validating') {
      expect(res.statusCode).toBe(503);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(await hub.store.getTimeline(o.id)).toEqual([]);
    }
  });

  test('a key needs webhooks:<source> for the source it posts to; orders:write is not enough', async () => {
    const raw = cloudEvent('wms.milestone.v1', 'ord-x', milestone('shipped', 'm-scope', 'WO-1', 'WH-1'));
    expect((await post('wms', raw, keys.ordersWrite)).statusCode).toBe(403);
    expect((await post('tms', raw, keys.wms)).statusCode).toBe(403);
    expect((await post('erp', raw, keys.tms)).statusCode).toBe(403);
    expect((await post('wms', raw, 'cdk_nope_nope')).statusCode).toBe(401);
    // The right scope gets through to the checks (here: no such order).
    expect((await post('wms', raw, keys.wms)).statusCode).toBe(422);
    // An unknown source is not found (admin only learns that; others are forbidden).
    expect((await post('edi', raw, keys.wms)).statusCode).toBe(403);
    expect((await post('edi', raw, bootstrap)).statusCode).toBe(404);
  });

  test('1,000 bad signatures make one open exception counting them, and the refusal rate limit answers 429', async () => {
    const raw = cloudEvent('tms.milestone.v1', 'ord-x', {});
    const statuses = new Map<number, number>();
    let retryAfter: string | undefined;
    for (let i = 0; i < 1000; i++) {
      const res = await post('tms', raw, keys.tms, 'not-the-tms-secret-0123456789');
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode === 429) {
        retryAfter ??= res.headers['retry-after'] as string;
        expect(res.headers['content-type']).toContain('application/problem+json');
      }
    }
    expect([...statuses.keys()].sort()).toEqual([401, 429]);
    const written = statuses.get(401)!;
    expect(written).toBeLessThan(100);
    expect(statuses.get(429)).toBe(1000 - written);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    const ex = (await hub.store.listExceptions({ status: 'open', limit: 500 })).filter(
      (e) => e.source === 'inbound:tms' && e.id.includes('signature'),
    );
    expect(ex.map((e) => e.id)).toEqual(['inbound:tms:signature_mismatch']);
    expect(ex[0]!.attempts).toBeGreaterThanOrEqual(written);
  });
});

describe('the refusal counter', () => {
  test('crossdock_webhook_refusals_total counts refusals by source and reason, rate-limited ones included', async () => {
    const { hub, dispose } = await openTestHub('webhook-metrics', bootstrap, {
      overrides: { webhooks: { secrets }, workers: false },
    });
    try {
      // The ops routes on an app of their own, with a registry (the hub passes its own).
      const metrics = createMetrics({ defaultMetrics: false });
      const app = await buildHttpApp({
        store: hub.store,
        workflow: hub.workflow,
        clock: systemClock,
        logger: pino({ level: 'silent' }),
        metrics,
        version: 'test',
        defaultRateLimit: 1_000_000,
        bodyLimitBytes: 1_000_000,
        extraRoutes: [
          (a) =>
            registerOpsRoutes(a, {
              store: hub.store,
              clock: systemClock,
              dispatcher: null,
              webhookSecrets: secrets,
              metrics,
              webhookRefusalLimit: { perSecond: 1, burst: 2 },
            }),
        ],
      });
      const raw = JSON.stringify({
        specversion: '1.0',
        id: 'x',
        source: 'urn:x',
        type: 'order.accepted.v1',
        time: new Date().toISOString(),
        subject: 'o',
        data: {},
      });
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await app.inject({
          method: 'POST',
          url: '/api/v1/webhooks/wms',
          headers: {
            authorization: `Bearer ${bootstrap}`,
            [signatureHeader]: signWebhook('wrong-secret-0123456789', raw, Math.floor(Date.now() / 1000)),
          },
          payload: raw,
        });
        statuses.push(res.statusCode);
      }
      expect(statuses).toEqual([401, 401, 429, 429, 429]);
      const text = await metrics.registry.metrics();
      expect(text).toContain('crossdock_webhook_refusals_total{source="wms",reason="signature_mismatch"} 5');
      await app.close();
    } finally {
      await dispose();
    }
  });
});
