/**
 * RFC 9457 problem details: the one error format of the HTTP API.
 *
 * Why one module: every failure — a zod validation issue, a typed `CrossdockError`, Fastify's
 * own parser errors, an unknown route, a bug — leaves the hub as `application/problem+json`
 * with a stable `type`, never as plain text and never with a stack trace. Clients branch on
 * `type` (and `status`), operators quote `traceId`.
 *
 * Status mapping of `CrossdockError` kinds (chosen here, documented for clients):
 * | kind | status | why |
 * | --- | --- | --- |
 * | `data_quality` | 422 | the request is well-formed but its data cannot be processed as is |
 * | `policy_violation` | 409 | valid, but the current business state/policy refuses it; 403 is kept for authorisation |
 * | `conflict` | 409 | a concurrent change or a state that forbids the operation |
 * | `transient` | 503 + `Retry-After` | retrying the same request can succeed |
 * | `downstream_outage` | 503 + `Retry-After` | a system behind the hub is down; 503 (not 502) because the
 *   client can only wait, and 502 would suggest the hub itself returned garbage |
 * Server-side (5xx) problems never carry the internal message: only a generic detail, the
 * kind and, when known, the affected system.
 */
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { $ZodError } from 'zod/v4/core';
import { CrossdockError, type ErrorKind } from '../domain/index.js';

/** The media type of every error body. */
export const problemContentType = 'application/problem+json; charset=utf-8';

/** Stable problem `type` URIs; stored by clients, so never renamed. */
export const problemTypes = {
  validation: 'https://crossdock.dev/problems/validation',
  malformedRequest: 'https://crossdock.dev/problems/malformed-request',
  payloadTooLarge: 'https://crossdock.dev/problems/payload-too-large',
  jsonTooDeep: 'https://crossdock.dev/problems/json-too-deep',
  headersTooLarge: 'https://crossdock.dev/problems/headers-too-large',
  requestTimeout: 'https://crossdock.dev/problems/request-timeout',
  unsupportedMediaType: 'https://crossdock.dev/problems/unsupported-media-type',
  unauthorized: 'https://crossdock.dev/problems/unauthorized',
  forbidden: 'https://crossdock.dev/problems/forbidden',
  notFound: 'https://crossdock.dev/problems/not-found',
  rateLimited: 'https://crossdock.dev/problems/rate-limited',
  idempotencyKeyInvalid: 'https://crossdock.dev/problems/idempotency-key-invalid',
  idempotencyKeyReused: 'https://crossdock.dev/problems/idempotency-key-reused',
  idempotencyInFlight: 'https://crossdock.dev/problems/idempotency-in-flight',
  dataQuality: 'https://crossdock.dev/problems/data-quality',
  policyViolation: 'https://crossdock.dev/problems/policy-violation',
  conflict: 'https://crossdock.dev/problems/conflict',
  transient: 'https://crossdock.dev/problems/temporarily-unavailable',
  downstreamOutage: 'https://crossdock.dev/problems/downstream-outage',
  internal: 'https://crossdock.dev/problems/internal',
  /** Any other 4xx without a more specific type (RFC 9457 §4.2.1). */
  http: 'about:blank',
} as const;

/** One offending input field, in dot/bracket notation (`lines[0].quantity`). */
export interface ProblemFieldError {
  field: string;
  message: string;
}

/** An RFC 9457 problem details object with Crossdock's extension members. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  /** The request path the problem occurred on; filled in by `sendProblem` when absent. */
  instance?: string;
  /** Offending fields, for validation problems. */
  errors?: ProblemFieldError[];
  /** The request's W3C trace id (also its log correlation id); filled in by `sendProblem`. */
  traceId?: string;
  /** For `CrossdockError`s: the error kind. */
  kind?: ErrorKind;
  /** For `CrossdockError`s: whether the same request may succeed later. */
  retryable?: boolean;
  /** For `CrossdockError`s: the stable machine-readable reason (`unknown_order`, `shipped`, …). */
  code?: string;
  [extension: string]: unknown;
}

/**
 * An error that already knows its problem: thrown by hooks and routes that want a specific
 * status (404 for a missing order, 400 for a bad header) without a `CrossdockError` kind.
 */
export class ProblemError extends Error {
  readonly problem: Problem;
  readonly headers: Readonly<Record<string, string>>;

  constructor(problem: Problem, headers: Record<string, string> = {}) {
    super(problem.detail ?? problem.title);
    this.name = 'ProblemError';
    this.problem = problem;
    this.headers = headers;
  }
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Renders a validation path the way a client writes it: `lines[0].quantity`,
 * `meta["odd key"]`; the empty path (the whole body) is `(root)`.
 */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && identifier.test(segment))
      out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out === '' ? '(root)' : out;
}

/** The structural part of a zod 4 issue we read (works for `zod` and `zod/mini` errors). */
interface ZodIssueLike {
  readonly code?: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly keys?: readonly string[];
}

/** Narrows anything thrown to a zod 4 error (classic `ZodError` or core `$ZodError`). */
export function isZodError(err: unknown): err is { issues: readonly ZodIssueLike[] } {
  return err instanceof $ZodError;
}

/**
 * A 422 validation problem naming every offending field, from a zod 4 error. Unrecognized
 * keys of strict objects are reported one field each, so a client sees `lines[0].colour`
 * rather than `lines[0]`.
 */
export function problemFromZod(error: { issues: readonly ZodIssueLike[] }, detail?: string): Problem {
  const errors: ProblemFieldError[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys' && issue.keys !== undefined && issue.keys.length > 0) {
      for (const key of issue.keys) {
        errors.push({ field: formatFieldPath([...issue.path, key]), message: 'Unrecognized key' });
      }
    } else {
      errors.push({ field: formatFieldPath(issue.path), message: issue.message });
    }
  }
  return {
    type: problemTypes.validation,
    title: 'Validation failed',
    status: 422,
    detail: detail ?? `${errors.length} field${errors.length === 1 ? '' : 's'} failed validation.`,
    errors,
  };
}

/** The shape of one Ajv error Fastify attaches when a route's JSON schema rejects input. */
interface AjvErrorLike {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

function ajvPath(instancePath: string): PropertyKey[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((raw) => {
      const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      return /^(0|[1-9][0-9]*)$/.test(segment) ? Number(segment) : segment;
    });
}

/** A 422 validation problem from Fastify's Ajv schema validation (routes with JSON schemas). */
export function problemFromAjv(validation: readonly AjvErrorLike[], context?: string): Problem {
  const errors = validation.map((v): ProblemFieldError => {
    const path = ajvPath(v.instancePath ?? '');
    const missing = v.params?.['missingProperty'];
    const extra = v.params?.['additionalProperty'];
    if (typeof missing === 'string') path.push(missing);
    else if (typeof extra === 'string') path.push(extra);
    return { field: formatFieldPath(path), message: v.message ?? 'is invalid' };
  });
  return {
    type: problemTypes.validation,
    title: 'Validation failed',
    status: 422,
    detail: `The request ${context ?? 'input'} failed validation.`,
    errors,
  };
}

interface KindMapping {
  status: number;
  type: string;
  title: string;
  /** Default Retry-After (seconds) for retryable 503s. */
  retryAfterSeconds?: number;
}

const kindMappings: Record<ErrorKind, KindMapping> = {
  data_quality: { status: 422, type: problemTypes.dataQuality, title: 'Data quality problem' },
  policy_violation: { status: 409, type: problemTypes.policyViolation, title: 'Refused by policy' },
  conflict: { status: 409, type: problemTypes.conflict, title: 'Conflict' },
  transient: {
    status: 503,
    type: problemTypes.transient,
    title: 'Temporarily unavailable',
    retryAfterSeconds: 1,
  },
  downstream_outage: {
    status: 503,
    type: problemTypes.downstreamOutage,
    title: 'Downstream system unavailable',
    retryAfterSeconds: 5,
  },
};

/**
 * The problem (and headers) for a `CrossdockError`, by kind. 4xx kinds expose the message,
 * which is written by intent for the caller; 5xx kinds expose only a generic detail and the
 * `system` detail, because their messages come from drivers and vendors (hosts, SQL, stack).
 */
export function problemFromCrossdockError(err: CrossdockError): {
  problem: Problem;
  headers: Record<string, string>;
} {
  const mapping = kindMappings[err.kind];
  const headers: Record<string, string> = {};
  const problem: Problem = {
    type: mapping.type,
    title: mapping.title,
    status: mapping.status,
    kind: err.kind,
    code: err.code,
    retryable: err.retryable,
  };
  const system = err.details['system'];
  if (mapping.status >= 500) {
    const seconds =
      err.retryAfterMs !== undefined
        ? Math.max(1, Math.ceil(err.retryAfterMs / 1000))
        : (mapping.retryAfterSeconds ?? 1);
    headers['retry-after'] = String(seconds);
    problem.detail =
      typeof system === 'string'
        ? `${system} is unavailable; retry in ${seconds} s.`
        : `The request could not be completed now; retry in ${seconds} s.`;
    if (typeof system === 'string') problem['system'] = system;
  } else {
    problem.detail = err.message;
    const field = err.details['field'];
    if (typeof field === 'string') problem.errors = [{ field, message: err.message }];
  }
  return { problem, headers };
}

/**
 * Sends a problem as `application/problem+json`, filling in `instance` and `traceId` from the
 * request. The body is serialized here, so a route's response schema cannot strip members.
 */
export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  const request = reply.request;
  if (problem.instance === undefined) {
    const url = request.url;
    const q = url.indexOf('?');
    problem.instance = q === -1 ? url : url.slice(0, q);
  }
  if (problem.traceId === undefined) {
    const traceId = request.trace?.traceId;
    if (traceId !== undefined) problem.traceId = traceId;
  }
  return reply.code(problem.status).type(problemContentType).send(JSON.stringify(problem));
}

/** A problem for a plain HTTP status with a caller-facing detail (e.g. 404 for a missing order). */
export function httpProblem(status: number, detail?: string, type?: string): Problem {
  const problem: Problem = {
    type: type ?? problemTypes.http,
    title: STATUS_CODES[status] ?? 'Error',
    status,
  };
  if (detail !== undefined) problem.detail = detail;
  return problem;
}

function problemFromFastifyError(err: FastifyError, request: FastifyRequest): Problem | null {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return httpProblem(400, err.message, problemTypes.malformedRequest);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return httpProblem(
        413,
        'The request body is larger than this endpoint accepts.',
        problemTypes.payloadTooLarge,
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return httpProblem(
        415,
        `Content-Type ${JSON.stringify(request.headers['content-type'] ?? '')} is not supported; send application/json.`,
        problemTypes.unsupportedMediaType,
      );
    default:
      break;
  }
  const status = err.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own 4xx messages describe the request, not the server, so they are safe to show.
    const ownMessage = typeof err.code === 'string' && err.code.startsWith('FST_');
    return httpProblem(status, ownMessage ? err.message : undefined);
  }
  return null;
}

/** Options of {@link problemErrorHandler}. */
export interface ProblemErrorHandlerOptions {
  /**
   * Where unexpected (500) errors are logged with their stack. Defaults to the request's own
   * logger, which already carries the correlation id.
   */
  logger?: FastifyBaseLogger;
}

/**
 * The one Fastify error handler: zod and schema errors → 422 naming each field,
 * `ProblemError` → its problem, `CrossdockError` → by kind, Fastify's parser errors →
 * 400/413/415, anything else → a 500 problem without message or stack (logged with the
 * correlation id). Install with `app.setErrorHandler(problemErrorHandler())`.
 */
export function problemErrorHandler(options: ProblemErrorHandlerOptions = {}) {
  const logger = options.logger;
  return function crossdockProblemErrorHandler(
    error: unknown,
    request: FastifyRequest,
    reply: FastifyReply,
  ): FastifyReply {
    if (error instanceof ProblemError) {
      for (const name in error.headers) reply.header(name, error.headers[name]);
      return sendProblem(reply, { ...error.problem });
    }
    if (isZodError(error)) return sendProblem(reply, problemFromZod(error));
    if (error instanceof CrossdockError) {
      const { problem, headers } = problemFromCrossdockError(error);
      for (const name in headers) reply.header(name, headers[name]);
      if (problem.status >= 500) {
        (logger ?? request.log).warn(
          { err: error, correlationId: request.id, kind: error.kind },
          'request failed with a retryable server-side error',
        );
      }
      return sendProblem(reply, problem);
    }
    if (error instanceof Error) {
      const fastifyError = error as FastifyError;
      if (Array.isArray(fastifyError.validation)) {
        return sendProblem(reply, problemFromAjv(fastifyError.validation, fastifyError.validationContext));
      }
      const problem = problemFromFastifyError(fastifyError, request);
      if (problem !== null) return sendProblem(reply, problem);
    }
    (logger ?? request.log).error({ err: error, correlationId: request.id }, 'unhandled error');
    return sendProblem(reply, {
      type: problemTypes.internal,
      title: 'Internal Server Error',
      status: 500,
      detail: 'An unexpected error occurred. Quote the traceId when reporting it.',
    });
  };
}

/**
 * The not-found handler: unknown routes get a 404 problem instead of Fastify's default JSON.
 * Install with `app.setNotFoundHandler(problemNotFoundHandler())`.
 */
export function problemNotFoundHandler() {
  return function crossdockNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    return sendProblem(
      reply,
      httpProblem(404, `No route ${request.method} ${request.url.split('?')[0]}.`, problemTypes.notFound),
    );
  };
}

/** Options of {@link problemClientErrorHandler}. */
export interface ProblemClientErrorHandlerOptions {
  /** Where refused connections are logged, at debug level (they are the client's doing). */
  logger?: FastifyBaseLogger;
  /** The server's header size limit, for the detail (default Node's `maxHeaderSize`, 16 KiB). */
  maxHeaderSize?: number;
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses before a request exists (headers
 * past the size limit, a request slower than `requestTimeout` or `headersTimeout`, bytes that are
 * not HTTP) is answered as problem+json, as everything else is, instead of Fastify's plain JSON;
 * then the connection is closed. No `traceId` or `instance`: there is no request to take them from.
 * Install with `Fastify({ clientErrorHandler: problemClientErrorHandler() })`.
 */
export function problemClientErrorHandler(options: ProblemClientErrorHandlerOptions = {}) {
  const headerLimit = options.maxHeaderSize ?? maxHeaderSize;
  return function crossdockClientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
    // A reset connection has nobody left to answer (as Fastify's own handler does).
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    let problem: Problem;
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      problem = httpProblem(
        408,
        'The request did not arrive completely within the time the server allows; the connection is closed.',
        problemTypes.requestTimeout,
      );
    } else if (err.code === 'HPE_HEADER_OVERFLOW') {
      problem = httpProblem(
        431,
        `The request headers are larger than the ${headerLimit} bytes the server accepts in all ` +
          '(an Idempotency-Key is at most 255 characters).',
        problemTypes.headersTooLarge,
      );
    } else {
      problem = httpProblem(400, 'The request is not valid HTTP/1.1.', problemTypes.malformedRequest);
    }
    options.logger?.debug({ code: err.code, status: problem.status }, 'client error before a request');
    if (socket.writable) {
      const body = JSON.stringify(problem);
      socket.write(
        `HTTP/1.1 ${problem.status} ${problem.title}\r\nContent-Type: ${problemContentType}\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

/**
 * Fastify's `frameworkErrors`: a URL the router cannot decode (400) or a path parameter past
 * `maxParamLength` (414) answered as problem+json instead of Fastify's plain JSON.
 */
export function problemFrameworkErrors(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 500;
  sendProblem(
    reply,
    status >= 500
      ? {
          type: problemTypes.internal,
          title: 'Internal Server Error',
          status,
          detail: 'An unexpected error occurred.',
        }
      : httpProblem(status, error.message, problemTypes.malformedRequest),
  );
}
