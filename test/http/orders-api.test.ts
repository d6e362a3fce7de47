import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Hub } from '../../src/app/hub.js';
import type { OrderSubmission } from '../../src/domain/index.js';
import { createApiKey } from '../../src/http/middleware/index.js';
import { openTestHub } from '../support/hub.js';

const bootstrap = 'test-bootstrap-secret-0123456789';
let hub: Hub;
let dispose: (() => Promise<void>) | undefined;
let readOnly: string;

function inPolicyOrder(h: Hub, quantity = 1): OrderSubmission {
  const { customer, lines } = h.sims!.picks.inPolicy;
  return {
    customer: { id: customer.id },
    shipTo: customer.addresses.find((a) => a.kind === 'shipping') ?? customer.addresses[0]!,
    shippingMethod: 'ground',
    currency: 'USD',
    lines: lines.slice(0, 2).map((l) => ({ sku: l.sku, quantity, unitPrice: l.unitPrice })),
  };
}

async function post(body: unknown, headers: Record<string, string> = {}) {
  return hub.app.inject({
    method: 'POST',
    url: '/api/v1/orders',
    headers: { authorization: `Bearer ${bootstrap}`, 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

beforeAll(async () => {
  ({ hub, dispose } = await openTestHub('api', bootstrap));
  const ro = createApiKey({ name: 'reader', scopes: ['orders:read'], rateLimit: 0 });
  await hub.store.putApiKey(ro.record);
  readOnly = ro.secret;
});

afterAll(async () => {
  await dispose?.();
});

describe('POST /api/v1/orders on the embedded default', () => {
  test('an in-policy order is accepted with an ERP order number, and the ERP has exactly that order', async () => {
    const res = await post(inPolicyOrder(hub));
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.state).toBe('accepted');
    expect(body.customerStatus).toBe('Confirmed');
    expect(body.erpOrderNumber).toMatch(/\S+/);
    expect(res.headers['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    const order = await hub.store.getOrder(body.orderId);
    expect(order?.externalIds.erp).toBe(body.erpOrderNumber);
    const timeline = (
      await hub.app.inject({
        url: `/api/v1/orders/${body.orderId}/timeline`,
        headers: { authorization: `Bearer ${bootstrap}` },
      })
    ).json();
    expect(timeline.entries.map((e: { name: string }) => e.name)).toEqual([
      'validate-customer',
      'confirm-pricing',
      'check-availability',
      'check-credit',
      'apply-tax-shipping-rules',
      'route-fulfillment',
      'create-erp-order',
    ]);
  });

  test("an over-credit customer's order comes back on hold with reason credit and its owner", async () => {
    const c = hub.sims!.picks.overCredit;
    const order = {
      ...inPolicyOrder(hub),
      customer: { id: c.id },
      shipTo: c.addresses.find((a) => a.kind === 'shipping') ?? c.addresses[0]!,
    };
    // Price from the list, since the in-policy customer's agreements do not apply here.
    const products = await hub.store.getProducts(order.lines.map((l) => l.sku));
    order.lines = order.lines.map((l) => ({ ...l, unitPrice: products.get(l.sku)!.listPrice, quantity: 50 }));
    const res = await post(order);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.state).toBe('on_hold');
    expect(body.holds.map((h: { reason: string }) => h.reason)).toContain('credit');
    expect(body.holds.find((h: { reason: string }) => h.reason === 'credit').owner).toBe('credit');
    expect(body.erpOrderNumber).toBeNull();
  });

  test('an invalid body gets 422 problem+json naming the field, and writes nothing', async () => {
    const before = await hub.store.countOrders();
    const bad = inPolicyOrder(hub) as unknown as { lines: { quantity: unknown }[] };
    bad.lines[0]!.quantity = -3;
    const res = await post(bad);
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json().errors.map((e: { field: string }) => e.field)).toContain('lines[0].quantity');
    expect(await hub.store.countOrders()).toEqual(before);
  });

  test('unknown SKUs, fractional quantities of whole units and duplicate lines are refused with 422 naming each line', async () => {
    const base = inPolicyOrder(hub);
    const line = base.lines[0]!;
    const res = await post({
      ...base,
      lines: [{ ...line, quantity: 1.5 }, { ...line }, { sku: 'NO-SUCH-SKU', quantity: 1, unitPrice: 1 }],
    });
    expect(res.statusCode).toBe(422);
    const fields = res.json().errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['lines[1].sku', 'lines[2].sku']));
  });

  test('malformed JSON gets 400 and a 1 MB body gets 413, both as problem+json', async () => {
    const bad = await post('{"lines": [');
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
    const huge = await post({ ...inPolicyOrder(hub), notes: 'x'.repeat(1024 * 1024) });
    expect(huge.statusCode).toBe(413);
    expect(huge.body).not.toMatch(/at .*\.ts:\d+/);
  });

  test('no key gets 401 and a read-only key gets 403 on POST', async () => {
    const none = await hub.app.inject({ method: 'POST', url: '/api/v1/orders', payload: inPolicyOrder(hub) });
    expect(none.statusCode).toBe(401);
    const ro = await post(inPolicyOrder(hub), { authorization: `Bearer ${readOnly}` });
    expect(ro.statusCode).toBe(403);
  });

  test('a repeated Idempotency-Key returns the first answer and creates no second ERP order; another body gets 422', async () => {
    const body = inPolicyOrder(hub);
    const key = crypto.randomUUID();
    const erpBefore = hub.sims!.erp.orderCount;
    const first = await post(body, { 'idempotency-key': key });
    const again = await post(body, { 'idempotency-key': key });
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(201);
    expect(again.json()).toEqual(first.json());
    expect(hub.sims!.erp.orderCount).toBe(erpBefore + 1);
    const other = await post({ ...body, poNumber: 'DIFFERENT' }, { 'idempotency-key': key });
    expect(other.statusCode).toBe(422);
  });

  test('a key whose order waits for the ERP replays the 202 for that same order; once the ERP is back the order completes with one ERP order', async () => {
    const body = inPolicyOrder(hub);
    const key = crypto.randomUUID();
    // One order while the ERP answers, so the credit step has the customer's exposure at hand.
    expect((await post(body)).statusCode).toBe(201);
    const erpBefore = hub.sims!.erp.orderCount;
    hub.sims!.faults.erp.configure({ down: true });
    let first: Awaited<ReturnType<typeof post>>;
    let again: Awaited<ReturnType<typeof post>>;
    try {
      first = await post(body, { 'idempotency-key': key });
      again = await post(body, { 'idempotency-key': key });
    } finally {
      hub.sims!.faults.erp.configure({ down: false });
    }
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(202);
    expect(again.headers['idempotency-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    const id = first.json().orderId;
    const deadline = Date.now() + 10_000;
    let order = await hub.store.getOrder(id);
    while (order?.state === 'validating' && Date.now() < deadline) {
      await hub.workflow.resumePending();
      await new Promise((r) => setTimeout(r, 50));
      order = await hub.store.getOrder(id);
    }
    expect(order?.state).toBe('accepted');
    expect(hub.sims!.erp.orderCount).toBe(erpBefore + 1);
    // The repeat gets what the first request got (202, with the order's link), not a new order.
    const later = await post(body, { 'idempotency-key': key });
    expect(later.statusCode).toBe(202);
    expect(later.json().orderId).toBe(id);
    expect(hub.sims!.erp.orderCount).toBe(erpBefore + 1);
  });

  test('a repeat whose own run would fail (the key used, the body now refused by the catalogue) still gets the stored answer', async () => {
    const body = inPolicyOrder(hub);
    const key = crypto.randomUUID();
    const first = await post(body, { 'idempotency-key': key });
    expect(first.statusCode).toBe(201);
    // Same key, same body, but the catalogue no longer knows a SKU: a new request would get 422.
    const sku = body.lines[0]!.sku;
    const product = (await hub.store.getProducts([sku])).get(sku)!;
    await hub.store.upsertProducts([{ ...product, active: false }]);
    try {
      const fresh = await post(body, { 'idempotency-key': crypto.randomUUID() });
      expect(fresh.statusCode).toBe(422);
      const again = await post(body, { 'idempotency-key': key });
      expect(again.statusCode).toBe(201);
      expect(again.headers['idempotency-replayed']).toBe('true');
      expect(again.json()).toEqual(first.json());
    } finally {
      await hub.store.upsertProducts([product]);
    }
  });

  test('an ERP outage during the flow answers 202 with the order validated, then completes once the ERP is back', async () => {
    hub.sims!.faults.erp.configure({ down: true });
    const res = await post(inPolicyOrder(hub));
    hub.sims!.faults.erp.configure({ down: false });
    expect([202, 503]).toContain(res.statusCode);
    if (res.statusCode === 503) {
      expect(res.json().kind).toBe('downstream_outage');
      return;
    }
    const id = res.json().orderId;
    expect(res.json().state).toBe('validating');
    const resumed = await hub.workflow.resumePending();
    expect(resumed).toBeGreaterThanOrEqual(0);
    const deadline = Date.now() + 10_000;
    let order = await hub.store.getOrder(id);
    while (order?.state === 'validating' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      await hub.workflow.resumePending();
      order = await hub.store.getOrder(id);
    }
    expect(order?.state).toBe('accepted');
  });

  test('/openapi.json is OpenAPI 3.1 with schemas generated from the canonical model, and /metrics scrapes', async () => {
    const auth = { authorization: `Bearer ${bootstrap}` };
    const doc = (await hub.app.inject({ url: '/openapi.json', headers: auth })).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.schemas.OrderSubmission.properties.lines.type).toBe('array');
    expect(doc.components.schemas.SalesOrder.properties.state.enum).toContain('partially_allocated');
    const metrics = await hub.app.inject({ url: '/metrics', headers: auth });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('crossdock_http_requests_total');
    expect(metrics.body).toMatch(/crossdock_orders\{state="on_hold",hold_reason="credit"\} \d+/);
  });

  test('/health/ready answers without a key', async () => {
    const res = await hub.app.inject({ url: '/health/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toBe('ready');
  });
});

describe('the landing page', () => {
  test('/ answers HTML without a key and says what runs', async () => {
    const res = await hub.app.inject({ url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain('/api/v1/orders');
  });
});
