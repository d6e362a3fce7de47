/**
 * The HTTP application: governance (trace → auth → rate limit → idempotency, problem+json),
 * the process API, the operations API, health, metrics, OpenAPI, and the simulators' routes.
 * Built without listening, so tests call it in-process with `app.inject()`. The server's limits
 * against slow and anonymous clients (timeouts, the rate of requests without a valid key, the
 * depth of JSON bodies) are set here, with safe defaults when the composition root gives none.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Clock, Store } from '../ports/index.js';
import type { QuoteToOrder } from '../workflows/index.js';
import {
  type ApiScope,
  type Governance,
  type HttpMetrics,
  isDefaultPublic,
  isScopeHook,
  ordersGauge,
  type RouteParams,
  registerGovernance,
  type ServerLimits,
  serverLimitOptions,
  traceGenReqId,
} from './middleware/index.js';
import { registerAccountRoutes } from './routes/accounts.js';
import { registerAvailabilityRoutes } from './routes/availability.js';
import { registerConsoleRoutes } from './routes/console.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerOpenApiRoute } from './routes/openapi.js';
import { registerOrderRoutes } from './routes/orders.js';
import { registerPortalRoutes } from './routes/portal.js';
import { registerReturnRoutes } from './routes/returns.js';

export interface HttpAppDeps {
  store: Store;
  workflow: QuoteToOrder;
  clock: Clock;
  logger: FastifyBaseLogger;
  metrics: HttpMetrics;
  version: string;
  defaultRateLimit: number;
  bodyLimitBytes: number;
  /**
   * Timeouts and the rate of requests without a valid key (the configuration's `server` block).
   * Timeouts not given take `defaultServerLimits` (30 s request, 10 s headers, 5 s keep-alive,
   * 60 s idle connection). `unauthenticatedRateLimit` applies only when given (the configuration
   * gives 20/s): an app built without it, as suites that sweep every route without a key do, has
   * no limit on requests without a valid key.
   */
  server?: Partial<ServerLimits>;
  /** Deepest nesting of a JSON body (default 64 levels); deeper is a 400 problem. */
  maxJsonDepth?: number;
  /** Extra route registrations (simulators, operations API) from the composition root. */
  extraRoutes?: ((app: FastifyInstance, governance: Governance) => void)[];
}

/** One route of the app as registered: what the auth matrix test and the OpenAPI check read. */
export interface RouteEntry {
  method: string;
  url: string;
  /** Served without a key (health, console). */
  public: boolean;
  /**
   * The scope the route demands for given path parameters; `null` when any valid key will do
   * (a route with no scope hook that is not public).
   */
  requiredScope: ((params: RouteParams) => ApiScope) | null;
}

const routeTables = new WeakMap<FastifyInstance, RouteEntry[]>();

/** Every route registered on an app built by {@link buildHttpApp}, HEAD routes included. */
export function routeTable(app: FastifyInstance): readonly RouteEntry[] {
  return routeTables.get(app) ?? [];
}

function recordRoutes(app: FastifyInstance): void {
  const table: RouteEntry[] = [];
  routeTables.set(app, table);
  app.addHook('onRoute', (route) => {
    const hooks = [route.onRequest, route.preValidation, route.preHandler].flatMap((h) =>
      h === undefined ? [] : Array.isArray(h) ? h : [h],
    );
    const scopeHook = hooks.find(isScopeHook);
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      table.push({
        method,
        url: route.url,
        public: isDefaultPublic(route.url),
        requiredScope: scopeHook ? scopeHook.requiredScope : null,
      });
    }
  });
}

export async function buildHttpApp(deps: HttpAppDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.bodyLimitBytes,
    genReqId: traceGenReqId(),
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'correlationId', disableRequestLogging: true }),
    return503OnClosing: true,
    ...serverLimitOptions(deps.server, deps.logger),
  });
  // First, so every route registered below (child contexts inherit onRoute hooks) is recorded.
  recordRoutes(app);
  const governance = registerGovernance(app, {
    store: deps.store,
    metrics: deps.metrics,
    defaultRateLimit: deps.defaultRateLimit,
    bodyLimit: deps.bodyLimitBytes,
    unauthenticatedRateLimit: deps.server?.unauthenticatedRateLimit ?? Number.POSITIVE_INFINITY,
    ...(deps.maxJsonDepth !== undefined ? { maxJsonDepth: deps.maxJsonDepth } : {}),
  });
  // Orders by state and hold reason, read from the store at scrape time (never stale).
  deps.metrics.registry.registerMetric(ordersGauge(deps.store));

  registerHealthRoutes(app, { store: deps.store });
  registerConsoleRoutes(app, deps.version);
  registerOpenApiRoute(app, deps.version);
  registerOrderRoutes(app, { store: deps.store, workflow: deps.workflow, governance });
  registerAvailabilityRoutes(app, { store: deps.store, clock: deps.clock });
  registerReturnRoutes(app, { store: deps.store, clock: deps.clock, governance });
  registerAccountRoutes(app, { store: deps.store, clock: deps.clock });
  registerPortalRoutes(app, { store: deps.store });
  for (const register of deps.extraRoutes ?? []) register(app, governance);
  return app;
}
