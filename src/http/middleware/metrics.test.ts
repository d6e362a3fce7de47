import Fastify, { type FastifyInstance } from 'fastify';
import { Gauge } from 'prom-client';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { Store } from '../../ports/index.js';
import { createStore } from '../../storage/index.js';
import { problemNotFoundHandler } from '../problem.js';
import { createMetrics, httpMetrics, metricsHandler, ordersGauge } from './metrics.js';

let store: Store;
let app: FastifyInstance | undefined;

beforeEach(async () => {
  store = await createStore({ url: ':memory:' });
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  await store.close();
});

function build(metrics = createMetrics({ defaultMetrics: false })): FastifyInstance {
  const instance = Fastify();
  instance.addHook('onResponse', httpMetrics(metrics));
  instance.setNotFoundHandler(problemNotFoundHandler());
  instance.get('/api/v1/orders/:id', async (request) => ({ id: (request.params as { id: string }).id }));
  instance.get('/metrics', metricsHandler(metrics.registry));
  return instance;
}

describe('httpMetrics', () => {
  test('The metrics text labels requests by route pattern, not by raw URL.', async () => {
    app = build();
    await app.inject({ method: 'GET', url: '/api/v1/orders/o-123' });
    await app.inject({ method: 'GET', url: '/api/v1/orders/o-456' });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain(
      'crossdock_http_requests_total{method="GET",route="/api/v1/orders/:id",status="200"} 2',
    );
    expect(res.body).toContain(
      'crossdock_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/api/v1/orders/:id"}',
    );
    expect(res.body).not.toContain('o-123');
  });

  test('Requests matching no route share one "unmatched" series, so scans cannot add series.', async () => {
    app = build();
    await app.inject({ method: 'GET', url: '/wp-admin' });
    await app.inject({ method: 'GET', url: '/.env' });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.body).toContain(
      'crossdock_http_requests_total{method="GET",route="unmatched",status="404"} 2',
    );
    expect(res.body).not.toContain('wp-admin');
  });

  test('Extra collectors registered on the registry are scraped, including the orders gauge.', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    metrics.registry.registerMetric(ordersGauge(store));
    metrics.registry.registerMetric(
      new Gauge({
        name: 'crossdock_test_extra',
        help: 'An extra collector.',
        registers: [],
        collect() {
          this.set(7);
        },
      }),
    );
    app = build(metrics);
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.body).toContain('# TYPE crossdock_orders gauge');
    expect(res.body).toContain('crossdock_test_extra 7');
  });

  test('Default process metrics carry the crossdock_ prefix when enabled.', async () => {
    app = build(createMetrics());
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.body).toContain('crossdock_process_cpu_user_seconds_total');
  });
});
