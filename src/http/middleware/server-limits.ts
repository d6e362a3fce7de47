/**
 * Time limits of the HTTP server against slow clients, and problem+json for what Node refuses
 * before a request exists.
 *
 * Why: Fastify's defaults are no request timeout and no connection timeout, so a client trickling a
 * body one byte a minute held its connection (and its parser state) forever, and a few thousand
 * such clients hold every file descriptor. Node enforces `requestTimeout` and `headersTimeout` from
 * a periodic sweep (`connectionsCheckingInterval`, default 30 s, so a limit of 10 s could take 40);
 * the sweep runs here at a tenth of the shorter limit, within 100 ms to 1 s, and costs one pass
 * over the open connections.
 */
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import { problemClientErrorHandler, problemFrameworkErrors } from '../problem.js';

/** The server's limits; the `server` block of the configuration has the same fields. */
export interface ServerLimits {
  /** A whole request (headers and body) must arrive within this, ms (Node `requestTimeout`). */
  requestTimeoutMs: number;
  /** The headers must arrive within this, ms (Node `headersTimeout`; at most `requestTimeoutMs`). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this, ms. */
  keepAliveTimeoutMs: number;
  /** A connection with no traffic at all is closed after this, ms (socket timeout). */
  connectionTimeoutMs: number;
  /** Requests per second per client address without a valid key (missing, unknown or revoked). */
  unauthenticatedRateLimit: number;
}

/** The defaults, as in the configuration's `server` block. */
export const defaultServerLimits: Readonly<ServerLimits> = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  connectionTimeoutMs: 60_000,
  unauthenticatedRateLimit: 20,
};

/**
 * The Fastify constructor options that apply `limits` (defaults for fields not given) and answer
 * the parser's refusals (431, 408, 400) and the router's (bad URL) as problem+json. Spread into
 * `Fastify({ …, ...serverLimitOptions(limits) })`.
 */
export function serverLimitOptions(
  limits: Partial<ServerLimits> = {},
  logger?: FastifyBaseLogger,
): Pick<
  FastifyServerOptions,
  'requestTimeout' | 'connectionTimeout' | 'keepAliveTimeout' | 'clientErrorHandler' | 'frameworkErrors'
> & { http: { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number } } {
  const all = { ...defaultServerLimits, ...limits };
  for (const [name, value] of Object.entries(all)) {
    if (!(Number.isFinite(value) && value > 0)) throw new TypeError(`server.${name} must be > 0.`);
  }
  // Node refuses a headers timeout longer than the request timeout.
  const headersTimeout = Math.min(all.headersTimeoutMs, all.requestTimeoutMs);
  const shorter = Math.min(headersTimeout, all.requestTimeoutMs);
  return {
    requestTimeout: all.requestTimeoutMs,
    connectionTimeout: all.connectionTimeoutMs,
    keepAliveTimeout: all.keepAliveTimeoutMs,
    http: {
      headersTimeout,
      requestTimeout: all.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(shorter / 10))),
    },
    clientErrorHandler: problemClientErrorHandler(logger !== undefined ? { logger } : {}),
    frameworkErrors: problemFrameworkErrors,
  };
}
