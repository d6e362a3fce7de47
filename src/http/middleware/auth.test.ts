import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { Store } from '../../ports/index.js';
import { createStore } from '../../storage/index.js';
import { problemContentType, problemErrorHandler, problemTypes } from '../problem.js';
import {
  type ApiKeyAuthOptions,
  apiKeyAuth,
  bearerToken,
  createApiKey,
  ensureBootstrapKey,
  hashSecret,
  requireScope,
} from './auth.js';
import { loggerOptions } from './logging.js';

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

function build(options: Partial<ApiKeyAuthOptions> = {}, logs?: Writable): FastifyInstance {
  const instance = Fastify(
    logs ? { loggerInstance: pino(loggerOptions({ level: 'info' }), logs) as FastifyBaseLogger } : {},
  );
  instance.decorateRequest('principal', null);
  instance.addHook('onRequest', apiKeyAuth({ store, ...options }));
  instance.setErrorHandler(problemErrorHandler());
  instance.get('/health/live', async (request) => ({ ok: true, principal: request.principal }));
  instance.get('/api/v1/orders/:id', { onRequest: requireScope('orders:read') }, async (request) => ({
    principal: request.principal,
  }));
  instance.post('/api/v1/orders', { onRequest: requireScope('orders:write') }, async (request) => {
    request.log.info(
      { headers: request.headers, secret: 'from-handler', nested: { password: 'pw' } },
      'handled',
    );
    return { by: request.principal?.name };
  });
  instance.get('/api/v1/exceptions', { onRequest: requireScope('ops:read') }, async () => ({ ok: true }));
  return instance;
}

async function addKey(scopes: Parameters<typeof createApiKey>[0]['scopes'], name = 'crm') {
  const { record, secret } = createApiKey({ name, scopes, rateLimit: 50 });
  await store.putApiKey(record);
  return { record, secret };
}

describe('createApiKey', () => {
  test('A new key has a recognisable secret and stores only its sha256.', () => {
    const { record, secret } = createApiKey({ name: 'portal', scopes: ['orders:read'] });
    expect(secret).toMatch(/^cdk_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}$/);
    expect(secret.split('_')[1]).toBe(record.id);
    expect(record.secretHash).toBe(hashSecret(secret));
    expect(JSON.stringify(record)).not.toContain(secret);
    expect(record.revokedAt).toBeNull();
  });

  test('Unknown scopes are refused when a key is created.', () => {
    expect(() => createApiKey({ name: 'x', scopes: ['root' as 'admin'] })).toThrow(/Unknown API scope/);
  });

  test('Only the Bearer scheme yields a token.', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer abc')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeNull();
    expect(bearerToken('Bearer ')).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});

describe('ensureBootstrapKey', () => {
  test('The first start creates an admin key from CROSSDOCK_BOOTSTRAP_KEY, and later starts do nothing.', async () => {
    const env = { CROSSDOCK_BOOTSTRAP_KEY: 'test-admin-secret-0123456789abcdef' };
    const first = await ensureBootstrapKey(store, env);
    expect(first).toMatchObject({ created: true, source: 'env', secret: null });
    const again = await ensureBootstrapKey(store, env);
    expect(again).toEqual({ created: false });
    const keys = await store.listApiKeys();
    expect(keys).toHaveLength(1);
    expect(keys[0]?.scopes).toEqual(['admin']);
    expect(keys[0]?.secretHash).toBe(hashSecret('test-admin-secret-0123456789abcdef'));

    app = build();
    const res = await app.inject({
      method: 'GET',
      url: '/api/v1/orders/o-1',
      headers: { authorization: 'Bearer test-admin-secret-0123456789abcdef' },
    });
    expect(res.statusCode).toBe(200);
  });

  test('A CROSSDOCK_BOOTSTRAP_KEY shorter than 32 characters is refused with a message naming it, and no key is created.', async () => {
    await expect(ensureBootstrapKey(store, { CROSSDOCK_BOOTSTRAP_KEY: 'sixteen-chars-ab' })).rejects.toThrow(
      /CROSSDOCK_BOOTSTRAP_KEY must be at least 32 characters \(it has 16\)/,
    );
    expect(await store.countApiKeys()).toBe(0);
    const ok = await ensureBootstrapKey(store, { CROSSDOCK_BOOTSTRAP_KEY: 'x'.repeat(32) });
    expect(ok.created).toBe(true);
  });

  test('Without the variable the first start generates a secret to print once; it is not stored.', async () => {
    const first = await ensureBootstrapKey(store, {});
    expect(first.created).toBe(true);
    if (!first.created) return;
    expect(first.source).toBe('generated');
    expect(first.secret).toMatch(/^cdk_bootstrap_[0-9A-Za-z]{43}$/);
    const keys = await store.listApiKeys();
    expect(JSON.stringify(keys)).not.toContain(String(first.secret));
    expect(await ensureBootstrapKey(store, { CROSSDOCK_BOOTSTRAP_KEY: 'late' })).toEqual({ created: false });
    expect(await store.countApiKeys()).toBe(1);
  });
});

describe('apiKeyAuth', () => {
  test('A request without a key gets a 401 problem with WWW-Authenticate: Bearer.', async () => {
    app = build();
    const res = await app.inject({ method: 'GET', url: '/api/v1/orders/o-1' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(res.headers['content-type']).toBe(problemContentType);
    expect(res.json().type).toBe(problemTypes.unauthorized);
  });

  test('A request with an unknown key or another scheme gets a 401 problem.', async () => {
    await addKey(['orders:read']);
    app = build();
    const bad = await app.inject({
      method: 'GET',
      url: '/api/v1/orders/o-1',
      headers: { authorization: 'Bearer cdk_nope_nope' },
    });
    expect(bad.statusCode).toBe(401);
    expect(bad.headers['www-authenticate']).toContain('error="invalid_token"');
    const basic = await app.inject({
      method: 'GET',
      url: '/api/v1/orders/o-1',
      headers: { authorization: 'Basic eDp5' },
    });
    expect(basic.statusCode).toBe(401);
  });

  test('A valid key sets the principal with its id, name, scopes and rate limit.', async () => {
    const { record, secret } = await addKey(['orders:read']);
    app = build();
    const res = await app.inject({
      method: 'GET',
      url: '/api/v1/orders/o-1',
      headers: { authorization: `Bearer ${secret}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().principal).toEqual({
      keyId: record.id,
      name: 'crm',
      scopes: ['orders:read'],
      rateLimit: 50,
    });
  });

  test('A key without the route scope gets a 403 problem.', async () => {
    const { secret } = await addKey(['orders:read']);
    app = build();
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/orders',
      headers: { authorization: `Bearer ${secret}` },
      payload: {},
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ type: problemTypes.forbidden, status: 403 });
    expect(res.json().detail).toContain('orders:write');
  });

  test('The admin scope implies every other scope.', async () => {
    const { secret } = await addKey(['admin'], 'ops-admin');
    app = build();
    const headers = { authorization: `Bearer ${secret}` };
    expect((await app.inject({ method: 'GET', url: '/api/v1/orders/o-1', headers })).statusCode).toBe(200);
    expect(
      (await app.inject({ method: 'POST', url: '/api/v1/orders', headers, payload: {} })).statusCode,
    ).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/api/v1/exceptions', headers })).statusCode).toBe(200);
  });

  test('Public prefixes are served without a key and without a principal.', async () => {
    app = build();
    const res = await app.inject({ method: 'GET', url: '/health/live' });
    expect(res.statusCode).toBe(200);
    expect(res.json().principal).toBeNull();
  });

  test('Key lookups are cached: repeated requests query the store once per TTL.', async () => {
    const { secret } = await addKey(['orders:read']);
    let lookups = 0;
    const counting = {
      findApiKeyByHash: (hash: string) => {
        lookups++;
        return store.findApiKeyByHash(hash);
      },
    };
    app = build({ store: counting });
    const headers = { authorization: `Bearer ${secret}` };
    await Promise.all(
      Array.from({ length: 20 }, () => app!.inject({ method: 'GET', url: '/api/v1/orders/o-1', headers })),
    );
    for (let i = 0; i < 20; i++) await app.inject({ method: 'GET', url: '/api/v1/orders/o-1', headers });
    expect(lookups).toBe(1);
  });

  test('A revoked key stops working once its cache entry expires.', async () => {
    const { record, secret } = await addKey(['orders:read']);
    let clock = 1_000_000;
    app = build({ cacheTtlMs: 5_000, now: () => clock });
    const headers = { authorization: `Bearer ${secret}` };
    expect((await app.inject({ method: 'GET', url: '/api/v1/orders/o-1', headers })).statusCode).toBe(200);
    await store.putApiKey({ ...record, revokedAt: new Date().toISOString() });
    clock += 4_000;
    expect((await app.inject({ method: 'GET', url: '/api/v1/orders/o-1', headers })).statusCode).toBe(200);
    clock += 2_000;
    expect((await app.inject({ method: 'GET', url: '/api/v1/orders/o-1', headers })).statusCode).toBe(401);
  });

  test('A flood of random tokens does not evict valid keys from the cache: they are never looked up again within the TTL.', async () => {
    const { secret, record } = await addKey(['orders:read']);
    const lookups = new Map<string, number>();
    const counting = {
      findApiKeyByHash: (hash: string) => {
        lookups.set(hash, (lookups.get(hash) ?? 0) + 1);
        return store.findApiKeyByHash(hash);
      },
    };
    app = build({ store: counting, maxCacheEntries: 10, maxNegativeEntries: 10, unauthenticatedRate: 1e6 });
    const headers = { authorization: `Bearer ${secret}` };
    expect((await app.inject({ method: 'GET', url: '/api/v1/orders/o-1', headers })).statusCode).toBe(200);
    for (let i = 0; i < 200; i++) {
      const res = await app.inject({
        method: 'GET',
        url: '/api/v1/orders/o-1',
        headers: { authorization: `Bearer cdk_flood_${i}` },
      });
      expect(res.statusCode).toBe(401);
    }
    expect((await app.inject({ method: 'GET', url: '/api/v1/orders/o-1', headers })).statusCode).toBe(200);
    expect(lookups.get(record.secretHash)).toBe(1);
  });

  test('The key cache drops the least recently used valid key when full, not all of them.', async () => {
    const a = await addKey(['orders:read'], 'a');
    const b = await addKey(['orders:read'], 'b');
    const c = await addKey(['orders:read'], 'c');
    const lookups: string[] = [];
    const counting = {
      findApiKeyByHash: (hash: string) => {
        lookups.push(hash);
        return store.findApiKeyByHash(hash);
      },
    };
    app = build({ store: counting, maxCacheEntries: 2 });
    const get = (secret: string) =>
      app!.inject({
        method: 'GET',
        url: '/api/v1/orders/o-1',
        headers: { authorization: `Bearer ${secret}` },
      });
    await get(a.secret);
    await get(b.secret);
    await get(a.secret); // a is now the most recently used
    await get(c.secret); // evicts b
    await get(a.secret);
    await get(c.secret);
    await get(b.secret);
    const name = new Map([a, b, c].map((k) => [k.record.secretHash, k.record.name]));
    expect(lookups.map((h) => name.get(h))).toEqual(['a', 'b', 'c', 'b']);
  });

  test('Past 20 requests/s without a valid key from one address the answer is a 429 with Retry-After and the store is not asked; valid keys still pass.', async () => {
    const { secret } = await addKey(['orders:read']);
    let lookups = 0;
    const counting = {
      findApiKeyByHash: (hash: string) => {
        lookups++;
        return store.findApiKeyByHash(hash);
      },
    };
    let clock = 1_000_000;
    app = build({ store: counting, now: () => clock });
    const get = (authorization?: string) =>
      app!.inject({
        method: 'GET',
        url: '/api/v1/orders/o-1',
        headers: authorization === undefined ? {} : { authorization },
      });
    // The valid key's first lookup spends the first token of the 20.
    expect((await get(`Bearer ${secret}`)).statusCode).toBe(200);
    lookups = 0;
    for (let i = 0; i < 14; i++) expect((await get(`Bearer cdk_bad_${i}`)).statusCode).toBe(401);
    for (let i = 0; i < 4; i++) expect((await get()).statusCode).toBe(401);
    expect((await get('Bearer cdk_bad_0')).statusCode).toBe(401); // the negative cache, still counted
    const limited = await get('Bearer cdk_bad_new');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['content-type']).toBe(problemContentType);
    expect(limited.headers['retry-after']).toBe('1');
    expect(limited.json()).toMatchObject({ type: problemTypes.rateLimited, status: 429 });
    expect(limited.json().detail).toContain('20 requests/s without a valid API key');
    expect((await get()).statusCode).toBe(429);
    expect(lookups).toBe(14);
    expect((await get(`Bearer ${secret}`)).statusCode).toBe(200);
    clock += 1_000;
    expect((await get('Bearer cdk_bad_later')).statusCode).toBe(401);
  });

  test('A known key whose cache entry expired is looked up again without a token, so it keeps working while its address floods; an infinite rate turns the limit off.', async () => {
    const { secret } = await addKey(['orders:read']);
    let clock = 1_000_000;
    app = build({ now: () => clock, cacheTtlMs: 5_000 });
    const get = (authorization: string) =>
      app!.inject({ method: 'GET', url: '/api/v1/orders/o-1', headers: { authorization } });
    expect((await get(`Bearer ${secret}`)).statusCode).toBe(200);
    for (let i = 0; i < 19; i++) expect((await get(`Bearer cdk_flood_${i}`)).statusCode).toBe(401);
    expect((await get('Bearer cdk_flood_x')).statusCode).toBe(429);
    clock += 6_000; // the key's entry has expired; the flood goes on
    for (let i = 0; i < 20; i++) await get(`Bearer cdk_flood_again_${i}`);
    expect((await get('Bearer cdk_flood_y')).statusCode).toBe(429);
    expect((await get(`Bearer ${secret}`)).statusCode).toBe(200);

    await app.close();
    app = build({ unauthenticatedRate: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 100; i++) expect((await get(`Bearer cdk_any_${i}`)).statusCode).toBe(401);
  });

  test('Concurrent first requests with one valid key share one lookup and spend one token, so a cold cache does not throttle a busy client.', async () => {
    const { secret } = await addKey(['orders:read']);
    app = build({ unauthenticatedRate: 1 });
    const headers = { authorization: `Bearer ${secret}` };
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => app!.inject({ method: 'GET', url: '/api/v1/orders/o-1', headers })),
    );
    expect(answers.map((r) => r.statusCode)).toEqual(Array.from({ length: 50 }, () => 200));
  });

  test('When the key store is unreachable the request gets a 503 problem with Retry-After, not a 500.', async () => {
    const failing = { findApiKeyByHash: () => Promise.reject(new Error('SQLITE_BUSY: database is locked')) };
    app = build({ store: failing });
    const res = await app.inject({
      method: 'GET',
      url: '/api/v1/orders/o-1',
      headers: { authorization: 'Bearer cdk_a_b' },
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body).not.toContain('SQLITE_BUSY');
  });

  test('The secret never appears in a log line, even when a handler logs all headers.', async () => {
    const { secret } = await addKey(['orders:write']);
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    app = build({}, stream);
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/orders',
      headers: { authorization: `Bearer ${secret}`, cookie: 'session=abc123' },
      payload: {},
    });
    expect(res.statusCode).toBe(200);
    const output = lines.join('');
    expect(output).toContain('handled');
    expect(output).not.toContain(secret);
    expect(output).not.toContain('abc123');
    expect(output).not.toContain('from-handler');
    expect(output).not.toContain('"pw"');
    expect(output).toContain('[redacted]');
  });
});
