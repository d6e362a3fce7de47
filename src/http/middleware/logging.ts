/**
 * pino options for the hub's Fastify logger.
 *
 * Why here: secrets must never reach a log line, whoever logs what. Redaction is configured
 * once, at the logger, so a future `request.log.info({ headers })` or a logged config object
 * cannot leak an API key, a cookie or a password. JSON lines (pino's default) so log shippers
 * need no parser; level from the environment so operators can turn on `debug` without a build.
 */
import { hostname } from 'node:os';
import type { LoggerOptions } from 'pino';

/** Paths pino replaces with `[redacted]`; exported so tests and other loggers reuse them. */
export const redactedLogPaths: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  'authorization',
  'secret',
  'password',
  'apiKey',
  'token',
  '*.secret',
  '*.password',
  '*.apiKey',
  '*.token',
  '*.*.secret',
  '*.*.password',
];

/** Log levels pino understands; anything else in the environment falls back to `info`. */
const levels = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Options of {@link loggerOptions}. */
export interface LoggingOptions {
  /** Explicit level; wins over the environment. */
  level?: string;
  /** Environment to read `CROSSDOCK_LOG_LEVEL` / `LOG_LEVEL` from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Extra redaction paths (connector credentials, webhook signing secrets). */
  redact?: readonly string[];
}

/** The level the hub logs at: explicit, else `CROSSDOCK_LOG_LEVEL`, else `LOG_LEVEL`, else `info`. */
export function logLevelFrom(options: LoggingOptions = {}): string {
  const env = options.env ?? process.env;
  const candidate = options.level ?? env['CROSSDOCK_LOG_LEVEL'] ?? env['LOG_LEVEL'] ?? 'info';
  return levels.has(candidate) ? candidate : 'info';
}

/**
 * pino options for Fastify's `logger` (or for `pino(options, stream)` passed as
 * `loggerInstance`): JSON lines, level from the environment, secrets redacted. The
 * `correlationId` on every request line comes from Fastify's log controller labelling the
 * request id `correlationId`, with the trace id as request id (see `governanceServerOptions`
 * and `correlationLogController`).
 */
export function loggerOptions(options: LoggingOptions = {}): LoggerOptions {
  return {
    level: logLevelFrom(options),
    base: { service: 'crossdock', pid: process.pid, hostname: hostname() },
    redact: { paths: [...redactedLogPaths, ...(options.redact ?? [])], censor: '[redacted]' },
  };
}
