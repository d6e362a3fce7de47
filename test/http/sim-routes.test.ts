/**
 * `/sim/*` on a real hub (SQLite store, real auth): `ops:read` to inspect, `ops:write` for
 * faults and writes (the Salesforce-shaped CRM routes too), nothing for any other scope; no
 * route at all with `simulators.routes: false`, and no `/sim/erp/*` (nor WMS/TMS) when the ERP
 * is a real Tryton. The route list is taken from the registration itself, so a route added
 * later is covered without editing this file.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import type { Hub } from '../../src/app/hub.js';
import { configuredSimulators, selectPorts } from '../../src/app/ports.js';
import { type ApiScope, createApiKey } from '../../src/http/middleware/index.js';
import { systemClock } from '../../src/ports/index.js';
import { createSimulators, registerSimulatorRoutes } from '../../src/simulators/index.js';
import { openTestHub } from '../support/hub.js';

const bootstrap = 'test-bootstrap-secret-sim-routes-0123456789';
const clock = { now: () => new Date('2025-06-15T12:00:00Z') };

interface SimRoute {
  method: string;
  url: string;
  /** The route with its parameters filled in. */
  path: string;
}

/** Every `/sim/*` route the simulators register (HEAD routes aside), from `onRoute`. */
async function allSimRoutes(): Promise<SimRoute[]> {
  const scratch = Fastify();
  const routes: SimRoute[] = [];
  scratch.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) {
      if (method === 'HEAD') continue;
      routes.push({ method, url: r.url, path: r.url.replace(/:[A-Za-z]+/g, 'X1') });
    }
  });
  registerSimulatorRoutes(
    scratch,
    createSimulators({ seed: 42, clock, customerCount: 20, productCount: 30, maxRecords: 100 }),
  );
  await scratch.ready();
  await scratch.close();
  return routes;
}

const isRead = (r: SimRoute) => r.method === 'GET';

describe('/sim/* routes on a hub with the simulated estate', () => {
  let hub: Hub;
  let dispose: (() => Promise<void>) | undefined;
  let routes: SimRoute[];
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    routes = await allSimRoutes();
    ({ hub, dispose } = await openTestHub('sim-routes', bootstrap));
    const scopes: Record<string, ApiScope[]> = {
      ordersRead: ['orders:read'],
      ordersWrite: ['orders:write', 'orders:read'],
      opsRead: ['ops:read'],
      opsWrite: ['ops:write'],
    };
    for (const [name, s] of Object.entries(scopes)) {
      const { record, secret } = createApiKey({ name, scopes: s });
      await hub.store.putApiKey(record);
      keys[name] = secret;
    }
  });

  afterAll(async () => {
    await dispose?.();
  });

  const call = (r: SimRoute, key: string | null) =>
    hub.app.inject({
      method: r.method as 'GET',
      url: r.path,
      headers: key === null ? {} : { authorization: `Bearer ${key}` },
      ...(isRead(r) ? {} : { payload: {} }),
    });

  test('the route list covers faults, every system and the Salesforce-shaped CRM routes', () => {
    const urls = routes.map((r) => `${r.method} ${r.url}`);
    expect(urls).toContain('POST /sim/erp/faults');
    expect(urls).toContain('DELETE /sim/crm/faults');
    expect(urls).toContain('GET /sim/notifications');
    expect(urls).toContain('GET /sim/wms/milestones');
    expect(urls).toContain('GET /sim/tms/shipments/:trackingNumber');
    expect(urls).toContain(
      'PATCH /sim/crm/services/data/v59.0/sobjects/Crossdock_Order_Status__c/Hub_Order_Id__c/:hubOrderId',
    );
    expect(routes.length).toBeGreaterThan(25);
  });

  test('an orders:read or orders:write key gets 403 problem+json on every /sim route, GET and write alike', async () => {
    const downBefore = hub.sims!.faults.erp.config.down;
    for (const r of routes) {
      for (const key of [keys['ordersRead']!, keys['ordersWrite']!]) {
        const res = await call(r, key);
        expect({ route: `${r.method} ${r.path}`, status: res.statusCode }).toEqual({
          route: `${r.method} ${r.path}`,
          status: 403,
        });
        expect(res.headers['content-type']).toContain('application/problem+json');
        expect(res.json().detail).toContain(isRead(r) ? 'ops:read' : 'ops:write');
      }
    }
    // Nothing was changed on the way: the ERP is not down, no CRM status was written.
    expect(hub.sims!.faults.erp.config.down).toBe(downBefore);
    expect(hub.sims!.crm.orderStatus('X1')).toBeNull();
    // Fastify's automatic HEAD twin of a GET route carries the same check.
    const head = await hub.app.inject({
      method: 'HEAD',
      url: '/sim/notifications',
      headers: { authorization: `Bearer ${keys['ordersRead']}` },
    });
    expect(head.statusCode).toBe(403);
  });

  test('without a key every /sim route is 401', async () => {
    for (const r of routes) expect((await call(r, null)).statusCode).toBe(401);
  });

  test('an ops:read key can inspect every GET route but change nothing', async () => {
    for (const r of routes) {
      const res = await call(r, keys['opsRead']!);
      if (isRead(r)) expect([200, 404]).toContain(res.statusCode);
      else expect(res.statusCode).toBe(403);
    }
    const notifications = await call(
      { method: 'GET', url: '/sim/notifications', path: '/sim/notifications' },
      keys['opsRead']!,
    );
    expect(notifications.statusCode).toBe(200);
    expect(notifications.json()).toMatchObject({ offset: 0, evicted: 0 });
    const down = await hub.app.inject({
      method: 'POST',
      url: '/sim/erp/faults',
      headers: { authorization: `Bearer ${keys['opsRead']}` },
      payload: { down: true },
    });
    expect(down.statusCode).toBe(403);
    expect(hub.sims!.faults.erp.config.down).toBe(false);
  });

  test('an ops:write key can inject and clear faults and write a CRM status, but not inspect', async () => {
    const auth = { authorization: `Bearer ${keys['opsWrite']}` };
    const down = await hub.app.inject({
      method: 'POST',
      url: '/sim/crm/faults',
      headers: auth,
      payload: { latencyMs: 5 },
    });
    expect(down.statusCode).toBe(200);
    expect(hub.sims!.faults.crm.config.latencyMs).toBe(5);
    const cleared = await hub.app.inject({ method: 'DELETE', url: '/sim/crm/faults', headers: auth });
    expect(cleared.statusCode).toBe(200);
    expect(hub.sims!.faults.crm.config.latencyMs).toBe(0);
    const upsert = await hub.app.inject({
      method: 'PATCH',
      url: '/sim/crm/services/data/v59.0/sobjects/Crossdock_Order_Status__c/Hub_Order_Id__c/ORD-SIM-1',
      headers: auth,
      payload: { Status__c: 'x', State__c: 'x', Sequence__c: 1, Idempotency_Key__c: 'k' },
    });
    expect(upsert.statusCode).toBe(201);
    const read = await hub.app.inject({ method: 'GET', url: '/sim/crm/faults', headers: auth });
    expect(read.statusCode).toBe(403);
  });

  test('the admin key passes both checks', async () => {
    const res = await hub.app.inject({
      method: 'GET',
      url: '/sim/erp/orders',
      headers: { authorization: `Bearer ${bootstrap}` },
    });
    expect(res.statusCode).toBe(200);
  });
});

describe('/sim/* routes switched off', () => {
  test('with simulators.routes false every /sim path is a 404, even for the admin key', async () => {
    const routes = await allSimRoutes();
    const { hub, dispose } = await openTestHub('sim-routes-off', bootstrap, {
      overrides: { simulators: { routes: false } },
    });
    try {
      expect(hub.sims).not.toBeNull();
      for (const r of routes) {
        const res = await hub.app.inject({
          method: r.method as 'GET',
          url: r.path,
          headers: { authorization: `Bearer ${bootstrap}` },
          ...(r.method === 'GET' ? {} : { payload: {} }),
        });
        expect({ route: `${r.method} ${r.path}`, status: res.statusCode }).toEqual({
          route: `${r.method} ${r.path}`,
          status: 404,
        });
        expect(res.json().detail).toMatch(/^No route/);
      }
    } finally {
      await dispose();
    }
  });
});

describe('/sim/* routes with a real ERP configured', () => {
  let app: FastifyInstance;
  let close: () => Promise<void>;

  beforeAll(async () => {
    // Building the ports does not reach Tryton (its client connects on first use), so the
    // mounting can be checked without a trytond; nothing here calls the ERP.
    const example = await loadConfig({ file: 'examples/tryton.config.json', env: {} });
    const config = await loadConfig({
      file: 'examples/tryton.config.json',
      env: {},
      overrides: { logLevel: 'silent', erp: { ...example.erp, url: 'http://127.0.0.1:9' } },
    });
    const ports = await selectPorts(config, systemClock);
    expect(ports.erp.system).toBe('tryton');
    app = Fastify();
    // Every request as an admin principal, so a 404 can only mean "not mounted".
    app.decorateRequest('principal', null);
    app.addHook('onRequest', (request, _reply, done) => {
      request.principal = { keyId: 'admin', name: 'admin', scopes: ['admin'], rateLimit: 0 };
      done();
    });
    for (const register of ports.routes) register(app);
    await app.ready();
    close = async () => {
      await app.close();
      await ports.close();
    };
  });

  afterAll(async () => {
    await close?.();
  });

  test('no /sim/erp, /sim/wms or /sim/tms route exists; the CRM and notification simulators are served', async () => {
    expect(configuredSimulators({ erp: { kind: 'tryton' } } as never)).toEqual(['crm', 'notifications']);
    for (const r of await allSimRoutes()) {
      const system = r.url.split('/')[2];
      const mounted = app.hasRoute({ method: r.method as 'GET', url: r.url });
      expect({ route: `${r.method} ${r.url}`, mounted }).toEqual({
        route: `${r.method} ${r.url}`,
        mounted: system === 'crm' || system === 'notifications',
      });
    }
    expect((await app.inject({ method: 'GET', url: '/sim/erp/orders' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/sim/erp/faults', payload: {} })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/sim/wms/orders' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/sim/crm/accounts' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/sim/notifications' })).statusCode).toBe(200);
  });
});
