/**
 * API keys: `Authorization: Bearer <secret>` with scopes per client system.
 *
 * Why this shape: the hub serves thousands of requests per second on two cores, so a request
 * costs one sha256 of the presented secret and one `Map` lookup; the store is asked only when
 * a key is not cached (or its entry expired), and concurrent misses for one key share one
 * query. Secrets are stored only as sha256 (`ApiKeyRecord.secretHash`) and are never kept in
 * the cache or logged; a revoked key stops working within `cacheTtlMs`.
 * A secret has 256 bits of entropy, so an unsalted fast hash is enough (no password KDF); a
 * bootstrap secret chosen by a person must therefore be at least 32 characters.
 *
 * Against floods of made-up tokens: known keys live in a least-recently-used cache, unknown and
 * revoked ones in a small negative cache of their own, so random tokens churn only the negative
 * cache and never push a valid key out (before, a full 10,000-entry cache was cleared, evicting
 * every valid key at once). Requests without a valid key, and every lookup of a secret not known
 * to be valid, spend a token of the client address's bucket (`unauthenticatedRate`, default
 * 20/s); an empty bucket is a 429 with Retry-After and no store query, so a flood never reaches
 * the store. A known key whose entry expired is revalidated without a token, so clients behind
 * the same address as a flood keep working.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { toCrossdockError } from '../../domain/index.js';
import type { ApiKeyRecord, Store } from '../../ports/index.js';
import { httpProblem, ProblemError, problemTypes, sendProblem } from '../problem.js';
import { ClientBuckets } from './rate-limit.js';

/**
 * Scopes a key can hold; `admin` implies every other scope. `webhooks:<source>` lets a system
 * post its own signed webhooks (`POST /api/v1/webhooks/<source>`) and nothing else;
 * `holds:<owner>` lets a team work the holds it owns (release, reject, cancel the order);
 * `portal:read` lets a customer portal read one customer's orders (`/api/v1/portal/…`), and only
 * with a key bound to that customer (see {@link Principal.customerId}).
 */
export const apiScopes = [
  'orders:write',
  'orders:read',
  'ops:read',
  'ops:write',
  'webhooks:crm',
  'webhooks:wms',
  'webhooks:tms',
  'webhooks:erp',
  'holds:credit',
  'holds:pricing',
  'holds:inventory',
  'holds:master_data',
  'holds:tax',
  'holds:logistics',
  'holds:sales',
  'portal:read',
  'admin',
] as const;

/** The only scopes a key bound to a customer may hold: it reads that customer's portal and nothing else. */
export const customerScopes: readonly ApiScope[] = ['portal:read'];
/** One API scope. */
export type ApiScope = (typeof apiScopes)[number];

/** The authenticated client of a request, as exposed on `request.principal`. */
export interface Principal {
  keyId: string;
  name: string;
  scopes: readonly string[];
  /** Requests per second allowed; 0 = the server default. */
  rateLimit: number;
  /**
   * The hub customer id a customer's key (a portal's) is bound to; absent or null for system and
   * staff keys. A bound principal holds only {@link customerScopes}, whatever its record says, so it
   * can never reach a route outside the portal.
   */
  customerId?: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `apiKeyAuth`; `null` on public routes (health, console files). */
    principal: Principal | null;
  }
}

/**
 * Whether a principal holds a scope; `admin` holds all. A principal bound to a customer holds
 * only the customer scopes it was given (`admin` or any other scope on its record counts for
 * nothing), so a customer's key cannot reach a route outside the portal.
 */
export function hasScope(principal: Principal, scope: ApiScope): boolean {
  if (principal.customerId) return customerScopes.includes(scope) && principal.scopes.includes(scope);
  return principal.scopes.includes('admin') || principal.scopes.includes(scope);
}

/** sha256 (hex) of a secret: the only form in which secrets are stored or cached. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

const base62Alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `length` uniformly random base62 chars (rejection sampling, no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const bytes = randomBytes(length * 2);
    for (let i = 0; i < bytes.length && out.length < length; i++) {
      const b = bytes[i]!;
      if (b < 248) out += base62Alphabet[b % 62];
    }
  }
  return out;
}

/** Input of {@link createApiKey}. */
export interface CreateApiKeyInput {
  name: string;
  scopes: readonly ApiScope[];
  /** Requests per second; 0 (default) = the server default. */
  rateLimit?: number;
  /** Use this secret instead of generating one (bootstrap from the environment). */
  secret?: string;
  /** Use this id instead of generating one. */
  id?: string;
  /**
   * Bind the key to this hub customer id (a customer portal's key): it may then hold only
   * {@link customerScopes} (`portal:read`). The caller checks the customer exists.
   */
  customerId?: string;
  now?: Date;
}

/**
 * Makes a new key: the record to store (hash only) and the secret to hand out once. Secrets
 * look like `cdk_<id>_<43 base62 chars>` (~256 bits), so a leaked one is recognisable by
 * secret scanners and names its key id without a lookup.
 */
export function createApiKey(input: CreateApiKeyInput): { record: ApiKeyRecord; secret: string } {
  if (input.name.trim() === '') throw new TypeError('An API key needs a name.');
  for (const scope of input.scopes) {
    if (!(apiScopes as readonly string[]).includes(scope)) throw new TypeError(`Unknown API scope: ${scope}`);
  }
  const rateLimit = input.rateLimit ?? 0;
  if (!Number.isFinite(rateLimit) || rateLimit < 0) throw new TypeError('rateLimit must be >= 0.');
  const customerId = input.customerId?.trim();
  if (input.customerId !== undefined && !customerId) throw new TypeError('customerId must not be empty.');
  if (customerId) {
    const other = input.scopes.filter((s) => !customerScopes.includes(s));
    if (other.length > 0 || input.scopes.length === 0) {
      throw new TypeError(
        `A key bound to a customer may hold only ${customerScopes.join(', ')}` +
          (other.length > 0 ? ` (not ${other.join(', ')})` : '') +
          '.',
      );
    }
  }
  const id = input.id ?? randomBase62(12);
  const secret = input.secret ?? `cdk_${id}_${randomBase62(43)}`;
  const record: ApiKeyRecord = {
    id,
    name: input.name,
    secretHash: hashSecret(secret),
    scopes: [...input.scopes],
    rateLimit,
    createdAt: (input.now ?? new Date()).toISOString(),
    revokedAt: null,
    ...(customerId ? { customerId } : {}),
  };
  return { record, secret };
}

/** What {@link ensureBootstrapKey} did. */
export type BootstrapResult =
  | { created: false }
  | {
      created: true;
      record: ApiKeyRecord;
      /** `env`: the secret came from `CROSSDOCK_BOOTSTRAP_KEY`; `generated`: print `secret` once. */
      source: 'env' | 'generated';
      /** The generated secret (the only time it exists in clear); `null` when from the environment. */
      secret: string | null;
    };

/** The id of the first admin key; fixed so two processes starting at once write one key. */
export const bootstrapKeyId = 'bootstrap';

/**
 * Shortest bootstrap secret accepted: it is hashed with a fast unsalted hash like generated keys
 * (43 base62 characters, ~256 bits), so a chosen one must not be guessable offline.
 */
export const minBootstrapKeyLength = 32;

/**
 * First start only (no key stored yet): creates the admin key, from
 * `CROSSDOCK_BOOTSTRAP_KEY=<secret>` when set, else with a generated secret that `crossdock
 * start` writes once to a 0600 file in the data folder. Later starts do nothing, whatever the
 * environment says. A given secret shorter than {@link minBootstrapKeyLength} characters is
 * refused (a TypeError naming the variable) and no key is created, as the configuration's schema
 * refuses it: this holds for callers that bypass the configuration.
 */
export async function ensureBootstrapKey(
  store: Pick<Store, 'countApiKeys' | 'putApiKey'>,
  env: Record<string, string | undefined> = process.env,
  now: Date = new Date(),
): Promise<BootstrapResult> {
  if ((await store.countApiKeys()) > 0) return { created: false };
  const fromEnv = env['CROSSDOCK_BOOTSTRAP_KEY']?.trim();
  if (fromEnv && fromEnv.length < minBootstrapKeyLength) {
    throw new TypeError(
      `CROSSDOCK_BOOTSTRAP_KEY must be at least ${minBootstrapKeyLength} characters (it has ${fromEnv.length}); ` +
        'use a generated secret, e.g. `openssl rand -base64 32`, or leave it unset to have one generated.',
    );
  }
  const { record, secret } = createApiKey({
    id: bootstrapKeyId,
    name: 'bootstrap admin',
    scopes: ['admin'],
    now,
    ...(fromEnv ? { secret: fromEnv } : {}),
  });
  await store.putApiKey(record);
  return fromEnv
    ? { created: true, record, source: 'env', secret: null }
    : { created: true, record, source: 'generated', secret };
}

/** Extracts the token of `Authorization: Bearer <token>` (scheme case-insensitive), else `null`. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined || header.length < 8) return null;
  if (header.charCodeAt(6) !== 32 || header.slice(0, 6).toLowerCase() !== 'bearer') return null;
  const token = header.slice(7).trim();
  return token === '' ? null : token;
}

/** URL prefixes served without a key by default: health probes and the console's files. */
export const defaultPublicPrefixes: readonly string[] = ['/health/', '/console/'];
/** Exact paths served without a key by default: the console's entry points. */
export const defaultPublicPaths: readonly string[] = ['/', '/console', '/favicon.ico'];

/** Whether a URL is served without a key under the default public prefixes and paths. */
export function isDefaultPublic(url: string): boolean {
  const path = url.split('?')[0] ?? url;
  return defaultPublicPrefixes.some((p) => path.startsWith(p)) || defaultPublicPaths.includes(path);
}

/** Options of {@link apiKeyAuth}. */
export interface ApiKeyAuthOptions {
  store: Pick<Store, 'findApiKeyByHash'>;
  /** How long a lookup (hit or miss) is trusted; a revoked key stops working within it. Default 30 s. */
  cacheTtlMs?: number;
  /** URL prefixes served without a key. Default: `/health/`, `/console/`. */
  publicPrefixes?: readonly string[];
  /** Exact paths served without a key (the console's entry points). Default: `/`, `/console`, `/favicon.ico`. */
  publicPaths?: readonly string[];
  /** Bound on cached valid keys; past it the least recently used is dropped. Default 10,000. */
  maxCacheEntries?: number;
  /** Bound on cached unknown and revoked secrets (oldest dropped first). Default 1,000. */
  maxNegativeEntries?: number;
  /**
   * Requests per second per client address that carry no valid key, or a key never seen valid
   * by this process (each such lookup counts once, however many requests share it; a known key
   * whose cache entry expired is looked up again for free). Past it: 429 with Retry-After, and
   * the store is not asked. Default 20; `Infinity` turns the limit off.
   */
  unauthenticatedRate?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

interface CacheEntry {
  principal: Principal;
  expiresAt: number;
}

function principalOf(record: ApiKeyRecord | null): Principal | null {
  if (record === null || record.revokedAt !== null) return null;
  return {
    keyId: record.id,
    name: record.name,
    scopes: record.scopes,
    rateLimit: record.rateLimit,
    ...(record.customerId ? { customerId: record.customerId } : {}),
  };
}

function unauthorized(reply: FastifyReply, detail: string, invalid: boolean): void {
  reply.header(
    'www-authenticate',
    invalid ? 'Bearer realm="crossdock", error="invalid_token"' : 'Bearer realm="crossdock"',
  );
  sendProblem(reply, httpProblem(401, detail, problemTypes.unauthorized));
}

/**
 * The `onRequest` hook authenticating `Authorization: Bearer <key>`: sets `request.principal`
 * or answers 401 (with `WWW-Authenticate: Bearer`). Public prefixes pass with
 * `principal = null`. Register after `traceContext` and before `rateLimit`.
 */
export function apiKeyAuth(options: ApiKeyAuthOptions) {
  const store = options.store;
  const ttl = options.cacheTtlMs ?? 30_000;
  const maxEntries = options.maxCacheEntries ?? 10_000;
  const maxNegative = options.maxNegativeEntries ?? 1_000;
  const prefixes = options.publicPrefixes ?? defaultPublicPrefixes;
  const paths = new Set(options.publicPaths ?? defaultPublicPaths);
  const now = options.now ?? Date.now;
  const unauthenticatedRate = options.unauthenticatedRate ?? 20;
  const clients = Number.isFinite(unauthenticatedRate)
    ? new ClientBuckets({ rate: unauthenticatedRate, now })
    : null;
  // Known keys, least recently used first (a hit moves its entry to the end).
  const cache = new Map<string, CacheEntry>();
  // Unknown and revoked secrets: hash → expiry, oldest first.
  const negative = new Map<string, number>();
  const pending = new Map<string, Promise<Principal | null>>();

  function isPublic(url: string): boolean {
    for (const prefix of prefixes) if (url.startsWith(prefix)) return true;
    if (paths.size === 0) return false;
    const q = url.indexOf('?');
    return paths.has(q === -1 ? url : url.slice(0, q));
  }

  function lookup(hash: string): Promise<Principal | null> {
    let promise = pending.get(hash);
    if (promise === undefined) {
      promise = store.findApiKeyByHash(hash).then(
        (record) => {
          pending.delete(hash);
          const principal = principalOf(record);
          const expiresAt = now() + ttl;
          if (principal === null) {
            negative.delete(hash);
            if (negative.size >= maxNegative) negative.delete(negative.keys().next().value as string);
            negative.set(hash, expiresAt);
          } else {
            cache.delete(hash);
            if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
            cache.set(hash, { principal, expiresAt });
          }
          return principal;
        },
        (err: unknown) => {
          pending.delete(hash);
          throw err;
        },
      );
      pending.set(hash, promise);
    }
    return promise;
  }

  /**
   * Spends a token of the client address's bucket; when it is empty, answers 429 and returns
   * false (the caller stops there, without a store query).
   */
  function spend(request: FastifyRequest, reply: FastifyReply): boolean {
    if (clients === null) return true;
    const waitMs = clients.take(request.ip);
    if (waitMs === 0) return true;
    const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
    reply.header('retry-after', String(retryAfter));
    sendProblem(
      reply,
      httpProblem(
        429,
        `More than ${unauthenticatedRate} requests/s without a valid API key from this address; retry in ${retryAfter} s.`,
        problemTypes.rateLimited,
      ),
    );
    return false;
  }

  function accept(
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
    p: Principal | null,
  ) {
    if (p === null) {
      unauthorized(reply, 'The API key is not valid.', true);
      return;
    }
    request.principal = p;
    done();
  }

  return function apiKeyAuthHook(
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ) {
    if (isPublic(request.url)) {
      done();
      return;
    }
    const header = request.headers.authorization;
    const secret = bearerToken(header);
    if (secret === null) {
      if (!spend(request, reply)) return;
      unauthorized(
        reply,
        header === undefined
          ? 'This endpoint needs an API key: Authorization: Bearer <key>.'
          : 'The Authorization header must use the Bearer scheme.',
        false,
      );
      return;
    }
    const hash = hashSecret(secret);
    const t = now();
    const entry = cache.get(hash);
    if (entry !== undefined && entry.expiresAt > t) {
      cache.delete(hash);
      cache.set(hash, entry);
      accept(request, reply, done, entry.principal);
      return;
    }
    const refusedUntil = negative.get(hash);
    if (refusedUntil !== undefined && refusedUntil > t) {
      if (spend(request, reply)) accept(request, reply, done, null);
      return;
    }
    // A lookup already under way costs nothing more, nor does revalidating a key known to be
    // valid (its entry expired: a flood from the same address must not lock its clients out);
    // any other lookup spends a token first.
    const inFlight = pending.get(hash);
    if (inFlight === undefined && entry === undefined && !spend(request, reply)) return;
    (inFlight ?? lookup(hash)).then(
      (principal) => accept(request, reply, done, principal),
      (err: unknown) => done(toCrossdockError(err)),
    );
  };
}

/** Route parameters as Fastify hands them to hooks. */
export type RouteParams = Readonly<Record<string, string | undefined>>;

/**
 * A scope hook that says which scope it demands for given route parameters: the route table
 * (`routeTable` in src/http/app.ts) reads it, so the auth matrix test knows every route's rule
 * without a list kept by hand, and a route whose scope depends on its path (`webhooks:<source>`,
 * `holds:<owner>`) is checked like any other.
 */
export type ScopeHook = ((
  request: FastifyRequest,
  reply: FastifyReply,
  done: HookHandlerDoneFunction,
) => void) & {
  requiredScope: (params: RouteParams) => ApiScope;
};

function scopeCheck(request: FastifyRequest, reply: FastifyReply, scope: ApiScope): boolean {
  const principal = request.principal;
  if (principal === null || principal === undefined) {
    unauthorized(reply, 'This endpoint needs an API key: Authorization: Bearer <key>.', false);
    return false;
  }
  if (!hasScope(principal, scope)) {
    sendProblem(
      reply,
      httpProblem(403, `The API key "${principal.name}" lacks the scope ${scope}.`, problemTypes.forbidden),
    );
    return false;
  }
  return true;
}

/**
 * A route-level hook demanding a scope: 401 without a principal, 403 without the scope
 * (`admin` implies all). Use as `{ onRequest: requireScope('orders:write') }` so the check
 * runs before the body is read, or as a `preHandler`.
 */
export function requireScope(scope: ApiScope): ScopeHook {
  if (!(apiScopes as readonly string[]).includes(scope)) throw new TypeError(`Unknown API scope: ${scope}`);
  const hook = function requireScopeHook(
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ): void {
    if (scopeCheck(request, reply, scope)) done();
  };
  Object.defineProperty(hook, 'name', { value: `requireScope(${scope})` });
  return Object.assign(hook, { requiredScope: () => scope });
}

/**
 * A hook demanding a scope that depends on the route's parameters (e.g. `webhooks:<source>`).
 * `pick` must return a scope for any parameters, also nonsense ones (`admin` for a value that
 * names nothing, so only an administrator learns it is not there).
 */
export function requireScopeFor(label: string, pick: (params: RouteParams) => ApiScope): ScopeHook {
  const hook = function requireScopeForHook(
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ): void {
    if (scopeCheck(request, reply, pick(request.params as RouteParams))) done();
  };
  Object.defineProperty(hook, 'name', { value: `requireScope(${label})` });
  return Object.assign(hook, { requiredScope: pick });
}

/** Whether a hook is a scope hook (carries `requiredScope`). */
export function isScopeHook(hook: unknown): hook is ScopeHook {
  return typeof hook === 'function' && typeof (hook as Partial<ScopeHook>).requiredScope === 'function';
}

/** The request's principal, for handlers behind `requireScope` (throws if auth did not run). */
export function requirePrincipal(request: FastifyRequest): Principal {
  const principal = request.principal;
  if (principal === null || principal === undefined) {
    throw new Error('No principal on this request: is the route behind apiKeyAuth and requireScope?');
  }
  return principal;
}

/**
 * The customer a portal request answers for: the principal's bound customer. A key with
 * `portal:read` that is bound to no customer (a staff or `admin` key) gets a 403 problem, since a
 * portal answer is always one customer's.
 */
export function portalCustomer(request: FastifyRequest): string {
  const principal = requirePrincipal(request);
  if (principal.customerId) return principal.customerId;
  throw new ProblemError(
    httpProblem(
      403,
      `The API key "${principal.name}" is not bound to a customer; portal routes answer only for a ` +
        "customer's key (crossdock keys create --customer <id> --scopes portal:read).",
      problemTypes.forbidden,
    ),
  );
}
