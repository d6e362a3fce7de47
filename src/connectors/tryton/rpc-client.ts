/**
 * Tryton 6.0 JSON-RPC client: session login with re-login on 401, the user context appended to
 * every model call, Decimal/date conversion, a concurrency limit and per-call timeouts.
 *
 * Why hand-written rather than a generic JSON-RPC library: Tryton accepts exactly
 * `{"id", "method", "params"}` with `Content-Type: application/json`; any extra key (such as
 * `"jsonrpc": "2.0"`) switches it to bare results and HTML error pages, and its errors arrive
 * with HTTP 200. Session auth (`Authorization: Session base64(login:uid:session)`) is used
 * because HTTP Basic re-checks the password on every call (300–580 ms measured).
 */
import { Agent, type Dispatcher, request } from 'undici';
import { CrossdockError } from '../../domain/errors.js';
import { fromHttpStatus, fromTransportError, fromTrytonError } from './errors.js';
import { ConcurrencyLimiter } from './limiter.js';
import { reviveTrytonValue, type TrytonRecord, type TrytonValue } from './values.js';

/** Where and as whom to reach Tryton, and how patiently. */
export interface TrytonClientOptions {
  /** Base URL of trytond, e.g. `http://127.0.0.1:8000`. */
  url: string;
  database: string;
  username: string;
  password: string;
  /** Per request, from the moment it is sent (queue time excluded). Default 10 s. */
  timeoutMs?: number;
  /** Requests in flight at once. Default 4 (Tryton on SQLite serialises writes anyway). */
  maxConcurrency?: number;
  /** Requests allowed to wait for a slot. Default 256. */
  maxQueue?: number;
  /** Language sent at login. Default `en`. */
  language?: string;
  /** Custom undici dispatcher (tests); default a keep-alive Agent owned by the client. */
  dispatcher?: Dispatcher;
}

/** The user context Tryton expects as the last parameter of every model call. */
export type TrytonContext = Record<string, TrytonValue>;

interface Session {
  header: string;
  context: TrytonContext;
}

/** A `search_read` order clause, e.g. `[['write_date', 'ASC'], ['id', 'ASC']]`. */
export type TrytonOrder = [string, 'ASC' | 'DESC'][];

/** A Tryton domain; kept structural because domains nest arbitrarily. */
export type TrytonDomain = TrytonValue[];

/** Talks to one Tryton database as one user. */
export class TrytonRpcClient {
  private session: Promise<Session> | null = null;
  private nextId = 1;
  private readonly endpoint: string;
  private readonly rootEndpoint: string;
  private readonly timeoutMs: number;
  private readonly limiter: ConcurrencyLimiter;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;

  constructor(private readonly options: TrytonClientOptions) {
    this.rootEndpoint = `${options.url.replace(/\/+$/, '')}/`;
    this.endpoint = `${this.rootEndpoint}${encodeURIComponent(options.database)}/`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.limiter = new ConcurrencyLimiter({
      maxConcurrency: options.maxConcurrency ?? 4,
      maxQueue: options.maxQueue ?? 256,
      retryAfterMs: 1000,
    });
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher =
      options.dispatcher ??
      new Agent({
        connections: options.maxConcurrency ?? 4,
        keepAliveTimeout: 10_000,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        connectTimeout: Math.min(this.timeoutMs, 5_000),
      });
  }

  /** Requests in flight and waiting (for metrics). */
  get load(): { inFlight: number; queued: number } {
    return { inFlight: this.limiter.inFlight, queued: this.limiter.queued };
  }

  /** Calls `model.<model>.<method>` with `args` and the user context (merged with `context`). */
  async model<T = TrytonValue>(
    model: string,
    method: string,
    args: TrytonValue[],
    context: TrytonContext = {},
  ): Promise<T> {
    return this.withSession(async (session) => {
      const ctx = { ...session.context, ...context };
      return (await this.send(`model.${model}.${method}`, [...args, ctx], session.header)) as T;
    });
  }

  /** `search_read` with Tryton's positional arguments. */
  async searchRead(
    model: string,
    domain: TrytonDomain,
    fields: string[],
    options: { offset?: number; limit?: number | null; order?: TrytonOrder; context?: TrytonContext } = {},
  ): Promise<TrytonRecord[]> {
    return this.model<TrytonRecord[]>(
      model,
      'search_read',
      [domain, options.offset ?? 0, options.limit ?? null, options.order ?? null, fields],
      options.context,
    );
  }

  /** `read` of known ids; missing ids make Tryton raise, so callers search first. */
  async read(
    model: string,
    ids: number[],
    fields: string[],
    context: TrytonContext = {},
  ): Promise<TrytonRecord[]> {
    if (ids.length === 0) return [];
    return this.model<TrytonRecord[]>(model, 'read', [ids, fields], context);
  }

  /** `create` of one record; returns its id. */
  async create(
    model: string,
    values: Record<string, TrytonValue>,
    context: TrytonContext = {},
  ): Promise<number> {
    const ids = await this.model<number[]>(model, 'create', [[values]], context);
    const id = ids[0];
    if (typeof id !== 'number') throw CrossdockError.transient(`Tryton create on ${model} returned no id`);
    return id;
  }

  /** `write` of the same values on `ids`. */
  async write(
    model: string,
    ids: number[],
    values: Record<string, TrytonValue>,
    context: TrytonContext = {},
  ): Promise<void> {
    await this.model(model, 'write', [ids, values], context);
  }

  /** A workflow button (`quote`, `confirm`, `assign_try`, …) on `ids`; returns its raw result. */
  async button(
    model: string,
    name: string,
    ids: number[],
    context: TrytonContext = {},
  ): Promise<TrytonValue> {
    return this.model(model, name, [ids], context);
  }

  /**
   * Runs a wizard through one state and ends it: `wizard.<name>.create`, then `execute` of
   * `state` with `data` (the values of its views, keyed by view state name) in a context naming
   * the record it runs on (`active_model`, `active_id`, `active_ids`), then `delete`. Returns
   * what `execute` returned. Why one call: the connector only runs wizards whose answers it knows
   * (the sale's exception handlers), so the session never outlives the call.
   */
  async wizard(
    name: string,
    state: string,
    data: Record<string, TrytonValue>,
    record: { model: string; id: number },
  ): Promise<TrytonValue> {
    return this.withSession(async (session) => {
      const ctx = {
        ...session.context,
        active_model: record.model,
        active_id: record.id,
        active_ids: [record.id],
      };
      const created = await this.send(`wizard.${name}.create`, [ctx], session.header);
      const wizardId = Array.isArray(created) ? created[0] : null;
      if (typeof wizardId !== 'number') {
        throw CrossdockError.transient(`Tryton wizard ${name} did not start`, {
          details: { system: 'tryton' },
        });
      }
      try {
        return await this.send(`wizard.${name}.execute`, [wizardId, data, state, ctx], session.header);
      } finally {
        await this.send(`wizard.${name}.delete`, [wizardId, ctx], session.header).catch(() => undefined);
      }
    });
  }

  /** The server version, without logging in (readiness probe). */
  async version(): Promise<string> {
    return String(await this.send('common.server.version', [], undefined, this.rootEndpoint));
  }

  /** Drops the session (the next call logs in again) and releases the connection pool. */
  async close(): Promise<void> {
    this.session = null;
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async withSession<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    const session = await this.ensureSession();
    try {
      return await fn(session);
    } catch (err) {
      // 401 means the session expired (server restart, timeout): the call was not executed, so
      // logging in again and repeating it is safe, once.
      if (err instanceof SessionExpired) {
        if (this.session && (await this.session.catch(() => null)) === session) this.session = null;
        const fresh = await this.ensureSession();
        return fn(fresh).catch((again: unknown) => {
          if (again instanceof SessionExpired) {
            throw CrossdockError.downstreamOutage('Tryton keeps rejecting fresh sessions (HTTP 401)', {
              details: { system: 'tryton' },
            });
          }
          throw again;
        });
      }
      throw err;
    }
  }

  private ensureSession(): Promise<Session> {
    if (!this.session) {
      const pending = this.login();
      this.session = pending;
      pending.catch(() => {
        if (this.session === pending) this.session = null;
      });
    }
    return this.session;
  }

  private async login(): Promise<Session> {
    const { username, password } = this.options;
    const result = await this.send(
      'common.db.login',
      [username, { password }, this.options.language ?? 'en'],
      undefined,
    );
    if (!Array.isArray(result) || typeof result[0] !== 'number' || typeof result[1] !== 'string') {
      throw CrossdockError.downstreamOutage('Tryton rejected the integration credentials', {
        retryable: false,
        details: { system: 'tryton', method: 'common.db.login' },
      });
    }
    const header = `Session ${Buffer.from(`${username}:${result[0]}:${result[1]}`).toString('base64')}`;
    const prefs = await this.send('model.res.user.get_preferences', [true, {}], header);
    const context: TrytonContext = {};
    if (prefs && typeof prefs === 'object' && !Array.isArray(prefs)) {
      for (const [key, value] of Object.entries(prefs as Record<string, TrytonValue>)) context[key] = value;
    }
    return { header, context };
  }

  private send(
    method: string,
    params: TrytonValue[],
    authorization: string | undefined,
    endpoint = this.endpoint,
  ): Promise<TrytonValue> {
    return this.limiter.run(async () => {
      const id = this.nextId++;
      const body = JSON.stringify({ id, method, params });
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (authorization) headers['authorization'] = authorization;
      let response: Dispatcher.ResponseData;
      try {
        response = await request(endpoint, {
          method: 'POST',
          body,
          headers,
          dispatcher: this.dispatcher,
          signal: AbortSignal.timeout(this.timeoutMs),
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
        });
      } catch (err) {
        throw fromTransportError(method, err, this.timeoutMs);
      }
      let text: string;
      try {
        text = await response.body.text();
      } catch (err) {
        throw fromTransportError(method, err, this.timeoutMs);
      }
      if (response.statusCode === 401) throw new SessionExpired();
      if (response.statusCode !== 200) {
        const retryAfter = Number(response.headers['retry-after']);
        throw fromHttpStatus(
          method,
          response.statusCode,
          Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined,
        );
      }
      let parsed: { id?: unknown; result?: TrytonValue; error?: unknown };
      try {
        parsed = JSON.parse(text, reviveTrytonValue) as typeof parsed;
      } catch (err) {
        throw CrossdockError.transient('Tryton answered with something other than JSON', {
          cause: err,
          details: { system: 'tryton', method, bodyStart: text.slice(0, 120) },
        });
      }
      if (parsed.error !== undefined && parsed.error !== null) throw fromTrytonError(method, parsed.error);
      return parsed.result ?? null;
    });
  }
}

/** Internal signal: HTTP 401, the session is gone. */
class SessionExpired extends Error {
  constructor() {
    super('Tryton session expired');
  }
}
