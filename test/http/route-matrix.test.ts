/**
 * The auth and scope matrix: every route the hub registers × {no key, a made-up key, a key for
 * each scope alone}, with the answer each must get (401, 403, or through to the handler).
 *
 * Why generated from the route table: a route added later is in the matrix the moment it is
 * registered, so it cannot be forgotten. The rule each route demands is read from its scope
 * hook (`requireScope` / `requireScopeFor` carry `requiredScope`); a route that is neither public
 * nor scoped fails this suite unless it is named in `anyKeyRoutes` below, on purpose.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Hub } from '../../src/app/hub.js';
import { holdReasons } from '../../src/domain/index.js';
import { type RouteEntry, routeTable } from '../../src/http/app.js';
import { type ApiScope, apiScopes, createApiKey, type RouteParams } from '../../src/http/middleware/index.js';
import { openTestHub } from '../support/hub.js';

const bootstrap = 'route-matrix-bootstrap-secret-0123456789';

/** Routes any valid key may call (no scope of their own): keep this list short and deliberate. */
const anyKeyRoutes = new Set(['GET /openapi.json']);

/** A concrete path and its parameters for a route pattern (`:id` → `x1`; known names get real values). */
function concrete(url: string): { path: string; params: RouteParams } {
  const params: Record<string, string> = {};
  const values: Record<string, string> = { source: 'wms', reason: 'credit', system: 'crm' };
  const path = url
    .replace(/:([A-Za-z_]+)/g, (_m, name: string) => {
      params[name] = values[name] ?? 'x1';
      return params[name]!;
    })
    .replace(/\*$/, 'x1');
  return { path, params };
}

interface Answer {
  statusCode: number;
  authenticate: boolean;
  detail: string;
  head: boolean;
}

/** Refused by authentication (401 with WWW-Authenticate) — not a handler's own 401. */
const unauthenticated = (a: Answer) => a.statusCode === 401 && a.authenticate;
/** Refused for a missing scope — not a handler's own 403 (a HEAD answer has no body to tell by). */
const forbidden = (a: Answer) => a.statusCode === 403 && (a.head || /lacks the scope/.test(a.detail));

describe('every route × every credential', () => {
  let hub: Hub;
  let dispose: () => Promise<void>;
  let routes: RouteEntry[];
  const secrets = new Map<ApiScope, string>();

  beforeAll(async () => {
    ({ hub, dispose } = await openTestHub('route-matrix', bootstrap));
    for (const scope of apiScopes) {
      const { record, secret } = createApiKey({ name: `only-${scope}`, scopes: [scope] });
      await hub.store.putApiKey(record);
      secrets.set(scope, secret);
    }
    routes = routeTable(hub.app).filter((r) => r.method !== 'HEAD' || !r.url.startsWith('/api/'));
  });
  afterAll(async () => dispose());

  async function call(route: RouteEntry, path: string, secret: string | null): Promise<Answer> {
    const res = await hub.app.inject({
      method: route.method as 'GET',
      url: path,
      headers: {
        ...(secret === null ? {} : { authorization: `Bearer ${secret}` }),
        ...(route.method === 'GET' || route.method === 'HEAD' || route.method === 'DELETE'
          ? {}
          : { 'content-type': 'application/json' }),
      },
      ...(route.method === 'GET' || route.method === 'HEAD' || route.method === 'DELETE'
        ? {}
        : { payload: '{}' }),
    });
    let detail = '';
    try {
      detail = String((res.json() as { detail?: unknown }).detail ?? '');
    } catch {
      // not JSON (metrics text, the console's HTML): no problem detail to read
    }
    return {
      statusCode: res.statusCode,
      authenticate: res.headers['www-authenticate'] !== undefined,
      detail,
      head: route.method === 'HEAD',
    };
  }

  test('the table holds the process, operations, webhook, metrics and simulator routes', () => {
    const names = routes.map((r) => `${r.method} ${r.url}`);
    for (const expected of [
      'POST /api/v1/orders',
      'GET /api/v1/orders/:id',
      'GET /api/v1/exceptions',
      'POST /api/v1/exceptions/:id/discard',
      'POST /api/v1/subscriptions/:name/replay',
      'POST /api/v1/webhooks/:source',
      'GET /metrics',
      'GET /health/ready',
    ]) {
      expect(names).toContain(expected);
    }
    expect(names.some((n) => n.includes('/sim/'))).toBe(true);
  });

  test('every route is public, scoped, or deliberately open to any valid key', () => {
    const loose = routes
      .filter((r) => !r.public && r.requiredScope === null)
      .map((r) => `${r.method} ${r.url}`)
      .filter((n) => !anyKeyRoutes.has(n) && !anyKeyRoutes.has(n.replace(/^HEAD /, 'GET ')));
    expect(loose).toEqual([]);
  });

  test('the access rule of every route is pinned: a change shows up in review as a snapshot diff', () => {
    const rules = routes
      .filter((r) => r.method !== 'HEAD')
      .map((r) => {
        const rule = r.public
          ? 'public'
          : r.requiredScope === null
            ? 'any key'
            : [
                ...new Set(
                  ['x1', 'wms', 'tms', 'crm', 'erp', ...holdReasons, 'nonsense'].map((v) =>
                    r.requiredScope!(new Proxy({}, { get: () => v }) as RouteParams),
                  ),
                ),
              ].join(' | ');
        return `${r.method} ${r.url} -> ${rule}`;
      })
      .sort();
    expect(rules).toMatchSnapshot();
  });

  test('no key and a made-up key get 401 everywhere but the public routes; each scope opens exactly its routes', async () => {
    const failures: string[] = [];
    for (const route of routes) {
      const { path, params } = concrete(route.url);
      const name = `${route.method} ${path}`;
      if (route.public) {
        const a = await call(route, path, null);
        if (unauthenticated(a)) failures.push(`${name}: public, but 401 without a key`);
        continue;
      }
      for (const secret of [null, 'cdk_madeup_0000000000000000000000000000000000000000000']) {
        const a = await call(route, path, secret);
        if (!unauthenticated(a))
          failures.push(`${name}: ${secret === null ? 'no key' : 'made-up key'} got ${a.statusCode}`);
      }
      const needed = route.requiredScope ? route.requiredScope(params) : null;
      for (const scope of apiScopes) {
        const a = await call(route, path, secrets.get(scope)!);
        const allowed = needed === null || scope === needed || scope === 'admin';
        if (unauthenticated(a)) failures.push(`${name}: key ${scope} got 401`);
        else if (allowed && forbidden(a)) failures.push(`${name}: key ${scope} should pass, got 403`);
        else if (!allowed && !forbidden(a))
          failures.push(`${name}: key ${scope} should get 403 (needs ${needed}), got ${a.statusCode}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
