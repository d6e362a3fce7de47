/**
 * The HTTP client of a remote simulator server (`src/simulators/port-server.ts`): one keep-alive
 * undici pool, JSON calls, and transport failures typed like a real vendor connector's.
 *
 * Why the mapping matters: the hub's retry, breaker and resume logic decide on the error kind.
 * A refused connection means nothing was done (downstream_outage, safe to retry); a timeout or a
 * dropped connection is ambiguous (transient: the effect may have happened, which is why every
 * write carries an idempotency key). A problem+json answer carries the remote `CrossdockError`
 * (kind, retryable, owner, details, retryAfterMs) and is rebuilt as that very error.
 */
import { Agent, type Dispatcher, request } from 'undici';
import { CrossdockError, type ErrorKind, errorKinds, type Owner, owners } from '../../domain/index.js';

/** Options of {@link SimHttpClient}. */
export interface SimHttpClientOptions {
  /** Base URL of the simulator server, e.g. `http://127.0.0.1:7070`. */
  url: string;
  /** Per-call timeout (headers and body), in ms; default 10,000. */
  timeoutMs?: number;
  /** Connections kept to the server; default 32. */
  connections?: number;
  /** Custom undici dispatcher (tests); default an Agent owned by the client. */
  dispatcher?: Dispatcher;
}

const refusedCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const timeoutCodes = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

function codeOf(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    // AggregateError (happy eyeballs) holds the per-address failures.
    const errors = (current as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) current = errors[0];
    else current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A transport failure (no HTTP answer) as a typed error. */
export function simTransportError(err: unknown, system: string, operation: string): CrossdockError {
  const code = codeOf(err) ?? 'UNKNOWN';
  if (refusedCodes.has(code)) {
    return CrossdockError.downstreamOutage(`${system} unreachable (${code})`, {
      cause: err,
      details: { system, operation, code, ambiguous: false },
    });
  }
  if (timeoutCodes.has(code)) {
    return CrossdockError.transient(`${system} did not answer ${operation} in time (${code})`, {
      cause: err,
      details: { system, operation, code, ambiguous: true },
    });
  }
  return CrossdockError.transient(`connection to ${system} lost during ${operation} (${code})`, {
    cause: err,
    details: { system, operation, code, ambiguous: true },
  });
}

/** An HTTP error answer as a typed error: the remote kind when the body names one. */
export function simProblemError(
  status: number,
  body: unknown,
  system: string,
  operation: string,
  retryAfterHeader?: string,
): CrossdockError {
  const p = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const kind = (errorKinds as readonly string[]).includes(String(p.kind)) ? (p.kind as ErrorKind) : null;
  const message = typeof p.detail === 'string' ? p.detail : `${system} answered ${status} to ${operation}`;
  const headerMs =
    retryAfterHeader && /^\d+$/.test(retryAfterHeader) ? Number(retryAfterHeader) * 1000 : undefined;
  const retryAfterMs = typeof p.retryAfterMs === 'number' ? p.retryAfterMs : headerMs;
  const details =
    p.details && typeof p.details === 'object' ? (p.details as Record<string, unknown>) : { system, status };
  if (kind) {
    return new CrossdockError(kind, message, {
      ...(typeof p.retryable === 'boolean' ? { retryable: p.retryable } : {}),
      ...((owners as readonly string[]).includes(String(p.owner)) ? { owner: p.owner as Owner } : {}),
      details,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }
  // Not our problem shape (a proxy, a crashed handler): classify by status.
  if (status === 429 || status >= 500) {
    return CrossdockError.transient(message, {
      details: { system, operation, status },
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }
  if (status === 409) return CrossdockError.conflict(message, { details: { system, operation, status } });
  return CrossdockError.dataQuality(message, { details: { system, operation, status } });
}

/** JSON-over-HTTP calls to the simulator server's port API. */
export class SimHttpClient {
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;

  constructor(options: SimHttpClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher =
      options.dispatcher ??
      new Agent({
        connections: options.connections ?? 32,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        connectTimeout: Math.min(this.timeoutMs, 5000),
      });
  }

  /** Calls `system.operation(...args)` on the server; resolves to its result or throws typed. */
  async call<T>(system: string, systemName: string, operation: string, args: unknown[]): Promise<T> {
    // JSON has no `undefined`: drop trailing ones so the remote default parameters apply.
    let n = args.length;
    while (n > 0 && args[n - 1] === undefined) n--;
    const body = await this.send('POST', `/sim-api/${system}/${operation}`, systemName, operation, {
      args: args.slice(0, n),
    });
    return (body as { result: T }).result;
  }

  /** `GET` a JSON document of the server (`/sim-api/info`, `/sim-api/data`). */
  async get<T>(path: string): Promise<T> {
    return (await this.send('GET', path, 'simulators', path, undefined)) as T;
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    systemName: string,
    operation: string,
    payload: unknown,
  ): Promise<unknown> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(`${this.url}${path}`, {
        method,
        dispatcher: this.dispatcher,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        ...(payload === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) }),
      });
    } catch (err) {
      throw simTransportError(err, systemName, operation);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw simTransportError(err, systemName, operation);
    }
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return parsed;
    const ra = res.headers['retry-after'];
    throw simProblemError(res.statusCode, parsed, systemName, operation, Array.isArray(ra) ? ra[0] : ra);
  }
}
