import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, test } from 'vitest';
import { registerSimulatorRoutes } from './http.js';
import { createSimulators, type Simulators } from './index.js';

const clock = { now: () => new Date('2025-06-15T12:00:00Z') };
const fixtures = join(process.cwd(), '..', 'shared', 'fixtures', 'external', 'salesforce', 'restforce');
const haveFixtures = existsSync(fixtures);
const fixture = (name: string): unknown => JSON.parse(readFileSync(join(fixtures, name), 'utf8'));

let app: FastifyInstance | null = null;
afterEach(async () => {
  await app?.close();
  app = null;
});

function build(): { app: FastifyInstance; sims: Simulators } {
  const sims = createSimulators({ seed: 42, clock });
  app = Fastify();
  registerSimulatorRoutes(app, sims);
  return { app, sims };
}

/** The top-level keys of a JSON object, sorted (a shape fingerprint). */
function keysOf(value: unknown): string[] {
  return value && typeof value === 'object' ? Object.keys(value).sort() : [];
}

describe('simulator HTTP routes', () => {
  test('ERP orders are listed in pages with a next offset', async () => {
    const { app, sims } = build();
    const customer = sims.picks.inPolicy.customer;
    const line = sims.picks.inPolicy.lines[0]!;
    for (let i = 0; i < 3; i++) {
      await sims.erp.createSalesOrder({
        idempotencyKey: `k${i}`,
        hubOrderId: `ORD-${i}`,
        erpCustomerId: customer.externalIds['erp']!,
        currency: 'USD',
        shipTo: customer.addresses[1]!,
        lines: [{ sku: line.sku, quantity: 1, unitPrice: line.unitPrice }],
      });
    }
    const res = await app.inject({ method: 'GET', url: '/sim/erp/orders?limit=2' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.items).toHaveLength(2);
    expect(body).toMatchObject({ total: 3, limit: 2, offset: 0, nextOffset: 2 });
    const last = (await app.inject({ method: 'GET', url: '/sim/erp/orders?limit=2&offset=2' })).json();
    expect(last.nextOffset).toBeNull();
    expect((await app.inject({ method: 'GET', url: '/sim/erp/orders/1' })).json().hubOrderId).toBe('ORD-0');
  });

  test('an ERP customer is found by the hub id or the ERP id, and an unknown one is a 404 problem', async () => {
    const { app, sims } = build();
    const c = sims.picks.overCredit;
    const byHub = await app.inject({ method: 'GET', url: `/sim/erp/customers/${c.id}` });
    expect(byHub.json().erpId).toBe(c.externalIds['erp']);
    const byErp = await app.inject({ method: 'GET', url: `/sim/erp/customers/${c.externalIds['erp']}` });
    expect(byErp.json().externalId).toBe(c.id);
    const missing = await app.inject({ method: 'GET', url: '/sim/erp/customers/NOPE' });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toContain('application/problem+json');
  });

  test('faults can be read, set and cleared per system, and take effect on port calls', async () => {
    const { app, sims } = build();
    const set = await app.inject({
      method: 'POST',
      url: '/sim/erp/faults',
      payload: { down: true, rateLimit: { retryAfterSeconds: 3 } },
    });
    expect(set.statusCode).toBe(200);
    expect(set.json().config).toMatchObject({
      down: true,
      errorRate: 0,
      rateLimit: { retryAfterSeconds: 3 },
    });
    await expect(sims.erp.getProducts()).rejects.toMatchObject({ kind: 'downstream_outage' });
    const read = (await app.inject({ method: 'GET', url: '/sim/erp/faults' })).json();
    expect(read.stats.injected.down).toBe(1);
    const cleared = await app.inject({ method: 'DELETE', url: '/sim/erp/faults' });
    expect(cleared.json().config.down).toBe(false);
    await expect(sims.erp.getProducts()).resolves.toHaveLength(sims.data.products.length);
    expect((await app.inject({ method: 'GET', url: '/sim/notifications/faults' })).statusCode).toBe(200);
  });

  test('a bad fault body is a 422 problem naming the offending field', async () => {
    const { app } = build();
    const res = await app.inject({ method: 'POST', url: '/sim/tms/faults', payload: { errorRate: 2 } });
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toContain('application/problem+json');
    const body = res.json();
    expect(body).toMatchObject({ status: 422, title: 'Validation failed' });
    expect(body.errors.map((e: { field: string }) => e.field)).toEqual(['errorRate']);
    const nested = await app.inject({
      method: 'POST',
      url: '/sim/crm/faults',
      payload: { rateLimit: { status429Rate: -1 } },
    });
    expect(nested.json().errors[0].field).toBe('rateLimit.status429Rate');
  });

  test('CRM accounts, WMS inventory, TMS shipments and notifications are inspectable', async () => {
    const { app, sims } = build();
    const crmId = sims.picks.inPolicy.customer.externalIds['crm']!;
    expect((await app.inject({ method: 'GET', url: `/sim/crm/accounts/${crmId}` })).json().name).toBe(
      sims.picks.inPolicy.customer.name,
    );
    const inv = (
      await app.inject({ method: 'GET', url: `/sim/wms/inventory?sku=${sims.picks.hazmat.sku}` })
    ).json();
    expect(inv.items.every((p: { sku: string }) => p.sku === sims.picks.hazmat.sku)).toBe(true);
    await sims.notifications.send({
      idempotencyKey: 'n',
      customerId: 'c',
      orderId: 'o',
      template: 't',
      data: {},
    });
    expect((await app.inject({ method: 'GET', url: '/sim/notifications' })).json().total).toBe(1);
    expect((await app.inject({ method: 'GET', url: '/sim/tms/shipments' })).json().total).toBe(0);
    expect((await app.inject({ method: 'GET', url: '/sim/erp/orders?limit=0' })).statusCode).toBe(422);
  });

  test('the Salesforce-shaped Account read answers like Salesforce REST', async () => {
    const { app, sims } = build();
    const c = sims.picks.inPolicy.customer;
    const res = await app.inject({
      method: 'GET',
      url: `/sim/crm/services/data/v59.0/sobjects/Account/${c.externalIds['crm']}`,
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.attributes).toEqual({
      type: 'Account',
      url: `/services/data/v59.0/sobjects/Account/${c.externalIds['crm']}`,
    });
    expect(body).toMatchObject({ Id: c.externalIds['crm'], Name: c.name, IsDeleted: false });
    const missing = await app.inject({
      method: 'GET',
      url: '/sim/crm/services/data/v59.0/sobjects/Account/001000000000000AAA',
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual([
      { message: 'The requested resource does not exist', errorCode: 'NOT_FOUND' },
    ]);
  });

  test('the Salesforce-shaped routes fail like Salesforce when faults are injected', async () => {
    const { app, sims } = build();
    const url = `/sim/crm/services/data/v59.0/sobjects/Account/${sims.picks.inPolicy.customer.externalIds['crm']}`;
    sims.faults.crm.configure({ down: true });
    const down = await app.inject({ method: 'GET', url });
    expect(down.statusCode).toBe(503);
    expect(down.json()[0].errorCode).toBe('SERVER_UNAVAILABLE');
    sims.faults.crm.configure({ down: false, rateLimit: { status429Rate: 1, retryAfterSeconds: 4 } });
    const limited = await app.inject({ method: 'GET', url });
    expect(limited.statusCode).toBe(403);
    expect(limited.json()[0].errorCode).toBe('REQUEST_LIMIT_EXCEEDED');
    expect(limited.headers['retry-after']).toBe('4');
  });

  test('the Salesforce-shaped order-status upsert creates with 201, updates with 204 and ignores stale sequences', async () => {
    const { app, sims } = build();
    const url = '/sim/crm/services/data/v59.0/sobjects/Crossdock_Order_Status__c/Hub_Order_Id__c/ORD-9';
    const body = (seq: number, status: string) => ({
      Status__c: status,
      State__c: status,
      Sequence__c: seq,
      Idempotency_Key__c: `ORD-9:${seq}`,
    });
    const created = await app.inject({ method: 'PATCH', url, payload: body(2, 'accepted') });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({
      id: sims.crm.orderStatus('ORD-9')!.crmRecordId,
      errors: [],
      success: true,
    });
    const updated = await app.inject({ method: 'PATCH', url, payload: body(4, 'shipped') });
    expect(updated.statusCode).toBe(204);
    expect(updated.body).toBe('');
    await app.inject({ method: 'PATCH', url, payload: body(3, 'picked') });
    expect(sims.crm.orderStatus('ORD-9')?.status).toBe('shipped');
    const bad = await app.inject({
      method: 'PATCH',
      url,
      payload: { Status__c: 'x', State__c: 'x', Idempotency_Key__c: 'k' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual([
      { message: 'Required fields are missing: [Sequence__c]', errorCode: 'REQUIRED_FIELD_MISSING' },
    ]);
  });

  test.skipIf(!haveFixtures)(
    'our Salesforce shapes match the real payloads recorded by restforce',
    async () => {
      const { app, sims } = build();
      const id = sims.picks.inPolicy.customer.externalIds['crm']!;
      const record = fixture('sobject_find_success_response.json') as { attributes: { url: string } };
      const ours = (
        await app.inject({ method: 'GET', url: `/sim/crm/services/data/v59.0/sobjects/Account/${id}` })
      ).json();
      expect(keysOf(ours.attributes)).toEqual(keysOf(record.attributes));
      const urlShape = /^\/services\/data\/v\d+\.\d+\/sobjects\/[A-Za-z_]+\/[0-9A-Za-z]+$/;
      expect(record.attributes.url).toMatch(urlShape);
      expect(ours.attributes.url).toMatch(urlShape);
      expect(ours).toHaveProperty('Id');
      expect(ours).toHaveProperty('IsDeleted');

      const realError = fixture('sobject_find_error_response.json') as unknown[];
      const ourError = (
        await app.inject({ method: 'GET', url: '/sim/crm/services/data/v59.0/sobjects/Account/x' })
      ).json();
      expect(Array.isArray(ourError)).toBe(true);
      expect(keysOf(ourError[0])).toEqual(keysOf(realError[0]));
      expect(keysOf((fixture('write_error_response.json') as unknown[])[0])).toEqual(keysOf(ourError[0]));

      const upsertUrl =
        '/sim/crm/services/data/v59.0/sobjects/Crossdock_Order_Status__c/Hub_Order_Id__c/ORD-F';
      const payload = { Status__c: 'a', State__c: 'a', Sequence__c: 1, Idempotency_Key__c: 'k' };
      const created = (await app.inject({ method: 'PATCH', url: upsertUrl, payload })).json();
      expect(keysOf(created)).toEqual(keysOf(fixture('upsert_created_success_response.json')));
      const updated = await app.inject({
        method: 'PATCH',
        url: upsertUrl,
        payload: { ...payload, Sequence__c: 2 },
      });
      expect(updated.body).toBe(readFileSync(join(fixtures, 'upsert_updated_success_response.json'), 'utf8'));
    },
  );
});

describe('simulator HTTP routes: guard and mounted systems', () => {
  test('every route gets the guard of its access: read for GET, write for every other method', async () => {
    const sims = createSimulators({ seed: 42, clock });
    const seen: string[] = [];
    app = Fastify();
    registerSimulatorRoutes(app, sims, {
      guard: (access) => (request, reply, done) => {
        seen.push(`${access} ${request.method}`);
        if (request.headers['x-allow'] === access) done();
        else void reply.code(403).send({ refused: access });
      },
    });
    const fault = await app.inject({ method: 'POST', url: '/sim/wms/faults', payload: { down: true } });
    expect(fault.json()).toEqual({ refused: 'write' });
    expect(sims.faults.wms.config.down).toBe(false);
    const read = await app.inject({ method: 'GET', url: '/sim/wms/faults', headers: { 'x-allow': 'read' } });
    expect(read.statusCode).toBe(200);
    const patch = await app.inject({
      method: 'PATCH',
      url: '/sim/crm/services/data/v59.0/sobjects/Crossdock_Order_Status__c/Hub_Order_Id__c/ORD-G',
      headers: { 'x-allow': 'read' },
      payload: { Status__c: 'a', State__c: 'a', Sequence__c: 1, Idempotency_Key__c: 'k' },
    });
    expect(patch.statusCode).toBe(403);
    expect(sims.crm.orderStatus('ORD-G')).toBeNull();
    expect(seen).toEqual(['write POST', 'read GET', 'write PATCH']);
  });

  test('only the systems asked for are mounted', async () => {
    const sims = createSimulators({ seed: 42, clock });
    app = Fastify();
    registerSimulatorRoutes(app, sims, { systems: ['crm', 'notifications'] });
    expect((await app.inject({ method: 'GET', url: '/sim/crm/faults' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/sim/notifications' })).statusCode).toBe(200);
    for (const url of ['/sim/erp/faults', '/sim/erp/orders', '/sim/wms/orders', '/sim/tms/shipments']) {
      expect((await app.inject({ method: 'GET', url })).statusCode).toBe(404);
    }
  });

  test('listings count what is kept and say how many were evicted', async () => {
    const sims = createSimulators({ seed: 42, clock, maxRecords: 100 });
    app = Fastify();
    registerSimulatorRoutes(app, sims);
    for (let i = 0; i < 150; i++) {
      await sims.notifications.send({
        idempotencyKey: `n${i}`,
        customerId: 'c',
        orderId: `o${i}`,
        template: 't',
        data: {},
      });
    }
    const first = (await app.inject({ method: 'GET', url: '/sim/notifications?limit=60' })).json();
    expect(first).toMatchObject({ total: 100, evicted: 50, nextOffset: 60 });
    expect(first.items[0].orderId).toBe('o50');
    const last = (await app.inject({ method: 'GET', url: '/sim/notifications?limit=60&offset=60' })).json();
    expect(last.items).toHaveLength(40);
    expect(last.items.at(-1).orderId).toBe('o149');
    expect(last.nextOffset).toBeNull();
  });
});
