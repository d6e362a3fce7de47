/**
 * The governance layer of the HTTP API: trace context, API-key auth and scopes, per-client
 * rate limits, idempotency keys, metrics, logging options and problem+json errors.
 *
 * Why one `registerGovernance`: the hooks only work in one order (the trace first, so even a
 * 401 carries a `traceparent`; auth before the rate limit, which keys buckets by client), and
 * the error and not-found handlers must be in place before routes register. Wiring it in one
 * call keeps the composition root from getting that order wrong. The JSON parser it installs
 * refuses bodies nested past `maxJsonDepth` before any route or hook sees them (json-limits.ts).
 */
import type { IncomingMessage } from 'node:http';
import {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import type { Store } from '../../ports/index.js';
import { problemErrorHandler, problemNotFoundHandler } from '../problem.js';
import { type ApiScope, apiKeyAuth, requireScope } from './auth.js';
import { idempotencyKey, idempotencyRelease } from './idempotency.js';
import { registerJsonParser } from './json-limits.js';
import { loggerOptions } from './logging.js';
import { type HttpMetrics, httpMetrics, metricsHandler } from './metrics.js';
import { rateLimit } from './rate-limit.js';
import { type ServerLimits, serverLimitOptions } from './server-limits.js';
import { type TraceContext, traceContext, traceGenReqId } from './trace.js';

export {
  formatFieldPath,
  httpProblem,
  isZodError,
  type Problem,
  ProblemError,
  type ProblemErrorHandlerOptions,
  type ProblemFieldError,
  problemClientErrorHandler,
  problemContentType,
  problemErrorHandler,
  problemFrameworkErrors,
  problemFromAjv,
  problemFromCrossdockError,
  problemFromZod,
  problemNotFoundHandler,
  problemTypes,
  sendProblem,
} from '../problem.js';
export * from './auth.js';
export * from './idempotency.js';
export * from './json-limits.js';
export * from './logging.js';
export * from './metrics.js';
export * from './rate-limit.js';
export * from './server-limits.js';
export * from './trace.js';

/** Options of {@link governanceServerOptions}. */
export interface GovernanceServerOptions {
  /** Environment for the log level (`CROSSDOCK_LOG_LEVEL`, `LOG_LEVEL`); default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Explicit log level; wins over the environment. */
  logLevel?: string;
  /** Largest request body in bytes (default 256 KiB). */
  bodyLimit?: number;
  /** Fastify's per-request "incoming request"/"request completed" lines (default true). */
  requestLogging?: boolean;
  /** Timeouts against slow clients (defaults: `defaultServerLimits`). */
  server?: Partial<ServerLimits>;
}

/** Default request body limit: an order with a few hundred lines fits with room to spare. */
export const defaultBodyLimit = 256 * 1024;

/**
 * The Fastify constructor options governance relies on: pino options with redaction, the
 * trace id as request id (`genReqId`) logged as `correlationId`, the body limit, the server's
 * timeouts, and problem+json for what the HTTP parser and router refuse. Spread
 * into `Fastify({ ...governanceServerOptions(), … })`; to pass your own pino instance use
 * `loggerInstance: pino(loggerOptions(), stream)` instead of `logger`.
 */
export function governanceServerOptions(options: GovernanceServerOptions = {}): FastifyServerOptions & {
  genReqId: (req: IncomingMessage) => string;
} {
  const logging: { env?: Record<string, string | undefined>; level?: string } = {};
  if (options.env !== undefined) logging.env = options.env;
  if (options.logLevel !== undefined) logging.level = options.logLevel;
  return {
    logger: loggerOptions(logging),
    genReqId: traceGenReqId(),
    requestIdHeader: false,
    bodyLimit: options.bodyLimit ?? defaultBodyLimit,
    logController: correlationLogController(options.requestLogging === false),
    ...serverLimitOptions(options.server),
  };
}

/**
 * Fastify's log controller labelling the request id `correlationId` (the trace id, with
 * `traceGenReqId`). For apps that pass their own Fastify options.
 */
export function correlationLogController(disableRequestLogging = false): LogController {
  return new LogController({ requestIdLogLabel: 'correlationId', disableRequestLogging });
}

/** Options of {@link registerGovernance}. */
export interface GovernanceOptions {
  store: Pick<Store, 'findApiKeyByHash' | 'getIdempotency'>;
  /** Where unexpected errors are logged; default the request's logger (with correlation id). */
  logger?: FastifyBaseLogger;
  /** HTTP metrics to record and serve; omit to skip both. */
  metrics?: HttpMetrics;
  /** Requests per second for keys whose `rateLimit` is 0. */
  defaultRateLimit: number;
  /** Bucket capacity in seconds of a client's rate (default 1). */
  burstSeconds?: number;
  /**
   * Largest JSON / text body in bytes. Prefer the same value in the Fastify constructor
   * (`governanceServerOptions({ bodyLimit })`); given here, the JSON and text parsers are
   * re-registered with it. The JSON parser is always Fastify's own secure one (prototype
   * poisoning refused) behind the depth check of `maxJsonDepth`.
   */
  bodyLimit?: number;
  /** API key cache TTL (default 30 s): a revoked key stops working within it. */
  authCacheTtlMs?: number;
  /**
   * Requests per second per client address that carry no valid key (missing, malformed, unknown
   * or revoked) or need a store lookup; past it 429 without asking the store. Default 20.
   */
  unauthenticatedRateLimit?: number;
  /** Deepest nesting of objects and arrays in a JSON body (default 64); deeper is a 400 problem. */
  maxJsonDepth?: number;
  /** URL prefixes served without a key (default `/health/`, `/console/`). */
  publicPrefixes?: readonly string[];
  /** Exact paths served without a key (default `/`, `/console`, `/favicon.ico`). */
  publicPaths?: readonly string[];
  /** Where the metrics route is mounted (default `/metrics`); `null` to mount none. */
  metricsPath?: string | null;
  /** Scope needed to scrape metrics (default `ops:read`). */
  metricsScope?: ApiScope;
}

/** What {@link registerGovernance} hands back for route-level use. */
export interface Governance {
  /** Route-level `preHandler` for POSTs that create: `{ preHandler: governance.idempotency }`. */
  idempotency: ReturnType<typeof idempotencyKey>;
  /**
   * The same for a route whose commit carries the record and answers a used key itself
   * (`lookup: 'on-conflict'`, see `IdempotencyOptions`): the order submission.
   */
  idempotencyOnConflict: ReturnType<typeof idempotencyKey>;
  /** Same as the exported `requireScope`, here for discoverability. */
  requireScope: typeof requireScope;
}

/**
 * Wires the governance layer into an app, before routes are registered: request decorators,
 * `onRequest` hooks trace → auth → rate limit, `onResponse` hooks metrics → idempotency
 * release, the problem+json error and not-found handlers, and `GET /metrics`.
 */
export function registerGovernance(app: FastifyInstance, options: GovernanceOptions): Governance {
  // `trace` is typed non-null because traceContext is the first hook and sets it on every
  // request; `null` here only gives Fastify the property up front (stable object shape).
  if (!app.hasRequestDecorator('trace')) app.decorateRequest('trace', null as unknown as TraceContext);
  if (!app.hasRequestDecorator('principal')) app.decorateRequest('principal', null);
  if (!app.hasRequestDecorator('idempotency')) app.decorateRequest('idempotency', null);

  registerJsonParser(app, {
    ...(options.bodyLimit !== undefined ? { bodyLimit: options.bodyLimit } : {}),
    ...(options.maxJsonDepth !== undefined ? { maxDepth: options.maxJsonDepth } : {}),
  });
  if (options.bodyLimit !== undefined) {
    const bodyLimit = options.bodyLimit;
    app.removeContentTypeParser('text/plain');
    app.addContentTypeParser('text/plain', { parseAs: 'string', bodyLimit }, (_request, body, done) => {
      done(null, body);
    });
  }

  app.addHook('onRequest', traceContext());
  app.addHook(
    'onRequest',
    apiKeyAuth({
      store: options.store,
      ...(options.authCacheTtlMs !== undefined ? { cacheTtlMs: options.authCacheTtlMs } : {}),
      ...(options.unauthenticatedRateLimit !== undefined
        ? { unauthenticatedRate: options.unauthenticatedRateLimit }
        : {}),
      ...(options.publicPrefixes !== undefined ? { publicPrefixes: options.publicPrefixes } : {}),
      ...(options.publicPaths !== undefined ? { publicPaths: options.publicPaths } : {}),
    }),
  );
  app.addHook(
    'onRequest',
    rateLimit({
      defaultRate: options.defaultRateLimit,
      ...(options.burstSeconds !== undefined ? { burstSeconds: options.burstSeconds } : {}),
    }),
  );
  if (options.metrics !== undefined) app.addHook('onResponse', httpMetrics(options.metrics));
  app.addHook('onResponse', idempotencyRelease());

  app.setErrorHandler(problemErrorHandler(options.logger !== undefined ? { logger: options.logger } : {}));
  app.setNotFoundHandler(problemNotFoundHandler());

  const metricsPath = options.metricsPath === undefined ? '/metrics' : options.metricsPath;
  if (options.metrics !== undefined && metricsPath !== null) {
    app.get(
      metricsPath,
      { onRequest: requireScope(options.metricsScope ?? 'ops:read') },
      metricsHandler(options.metrics.registry),
    );
  }

  return {
    idempotency: idempotencyKey({ store: options.store }),
    idempotencyOnConflict: idempotencyKey({ store: options.store, lookup: 'on-conflict' }),
    requireScope,
  };
}
