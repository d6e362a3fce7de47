/**
 * Prometheus metrics of the HTTP layer, and the registry other layers add their collectors to.
 *
 * Why a registry factory instead of prom-client's global one: tests build many apps in one
 * process, and the global registry refuses a metric name twice. Why the route *pattern* as
 * label: `/api/v1/orders/:id` is one series, the raw URL would be one per order. Why cached
 * children: `counter.inc({…labels})` hashes the label object on every call; resolving the
 * child once per (route, method, status) makes recording two property reads and two adds.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from '../../ports/index.js';

/** The route label of requests that matched no route (404s), so scans cannot add series. */
export const unmatchedRoute = 'unmatched';

type HttpLabels = 'method' | 'route' | 'status';

/** The registry and the HTTP instruments recorded by {@link httpMetrics}. */
export interface HttpMetrics {
  /** Add extra collectors here: `metrics.registry.registerMetric(gauge)`. */
  registry: Registry;
  requests: Counter<HttpLabels>;
  duration: Histogram<'method' | 'route'>;
}

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Process metrics (CPU, memory, event-loop lag, GC) with the `crossdock_` prefix. Default true. */
  defaultMetrics?: boolean;
  /** Histogram buckets in seconds. */
  durationBuckets?: number[];
}

/**
 * A fresh registry with `crossdock_http_requests_total{method,route,status}` and
 * `crossdock_http_request_duration_seconds{method,route}`. One per app.
 */
export function createMetrics(options: MetricsOptions = {}): HttpMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'crossdock_' });
  const requests = new Counter<HttpLabels>({
    name: 'crossdock_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram<'method' | 'route'>({
    name: 'crossdock_http_request_duration_seconds',
    help: 'Time from receiving a request to sending its response, by method and route pattern.',
    labelNames: ['method', 'route'],
    buckets: options.durationBuckets ?? [
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ],
    registers: [registry],
  });
  return { registry, requests, duration };
}

interface Children {
  duration: { observe(value: number): void };
  byStatus: Map<number, { inc(value?: number): void }>;
}

/** The `onResponse` hook recording the HTTP metrics of every request, 401s/404s/429s included. */
export function httpMetrics(metrics: HttpMetrics) {
  const byRoute = new Map<string, Map<string, Children>>();
  return function httpMetricsHook(
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ) {
    const route = request.routeOptions.url ?? unmatchedRoute;
    const method = request.method;
    let byMethod = byRoute.get(route);
    if (byMethod === undefined) {
      byMethod = new Map();
      byRoute.set(route, byMethod);
    }
    let children = byMethod.get(method);
    if (children === undefined) {
      children = { duration: metrics.duration.labels(method, route), byStatus: new Map() };
      byMethod.set(method, children);
    }
    const status = reply.statusCode;
    let counter = children.byStatus.get(status);
    if (counter === undefined) {
      counter = metrics.requests.labels(method, route, String(status));
      children.byStatus.set(status, counter);
    }
    counter.inc();
    children.duration.observe(reply.elapsedTime / 1000);
    done();
  };
}

/** The `GET /metrics` handler: Prometheus text format (`text/plain; version=0.0.4`). */
export function metricsHandler(registry: Registry) {
  return async function metricsRoute(_request: FastifyRequest, reply: FastifyReply): Promise<string> {
    const text = await registry.metrics();
    reply.type(registry.contentType);
    return text;
  };
}

/**
 * A gauge `crossdock_orders{state,hold_reason}` read from the store at scrape time (one
 * `countOrders` query per scrape, none per request). Register it with
 * `metrics.registry.registerMetric(ordersGauge(store))`.
 */
export function ordersGauge(store: Pick<Store, 'countOrders'>): Gauge<'state' | 'hold_reason'> {
  return new Gauge<'state' | 'hold_reason'>({
    name: 'crossdock_orders',
    help: 'Orders in the hub by state and hold reason, read from the store at scrape time.',
    labelNames: ['state', 'hold_reason'],
    registers: [],
    async collect() {
      const rows = await store.countOrders();
      this.reset();
      for (const row of rows) this.set({ state: row.state, hold_reason: row.holdReason ?? '' }, row.count);
    },
  });
}
