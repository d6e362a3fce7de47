/**
 * Every route the hub serves under `/api/`, `/health/` and `/metrics` is in `/openapi.json`, and
 * the document names no route the hub does not serve: the route table (`routeTable`, recorded
 * as routes register) against the document, so the two cannot drift apart.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Hub } from '../../src/app/hub.js';
import { routeTable } from '../../src/http/app.js';
import { openTestHub } from '../support/hub.js';

const bootstrap = 'openapi-routes-bootstrap-secret-0123456789';
let hub: Hub;
let dispose: () => Promise<void>;

beforeAll(async () => {
  ({ hub, dispose } = await openTestHub('openapi-routes', bootstrap));
});
afterAll(async () => dispose());

/** `/api/v1/orders/:id` → `/api/v1/orders/{id}`. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z_]+)/g, '{$1}');

test('every served API, health and metrics route is in /openapi.json, and every documented one is served', async () => {
  const res = await hub.app.inject({
    url: '/openapi.json',
    headers: { authorization: `Bearer ${bootstrap}` },
  });
  expect(res.statusCode).toBe(200);
  const doc = res.json() as { paths: Record<string, Record<string, unknown>> };
  const documented = new Set(
    Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
        .map((m) => `${m.toUpperCase()} ${path}`),
    ),
  );
  const served = new Set(
    routeTable(hub.app)
      .filter((r) => r.method !== 'HEAD' && /^\/(api\/|health\/|metrics$)/.test(r.url))
      .map((r) => `${r.method} ${openApiPath(r.url)}`),
  );
  expect([...served].filter((r) => !documented.has(r)).sort()).toEqual([]);
  expect([...documented].filter((r) => !served.has(r)).sort()).toEqual([]);
});
