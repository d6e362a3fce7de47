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
    const env = { CROSSDOCK_BOOTSTRAP_KEY: 'test-admin-secret-0123456789' };
    const first = await ensureBootstrapKey(store, env);
    expect(first).toMatchObject({ created: true, source: 'env', secret: null });
    const again = await ensureBootstrapKey(store, env);
    expect(again).toEqual({ created: false });
    const keys = await store.listApiKeys();
    expect(keys).toHaveLength(1);
    expect(keys[0]?.scopes).toEqual(['admin']);
    expect(keys[0]?.secretHash).toBe(hashSecret('test-admin-secret-0123456789'));

    app = build();
    const res = await app.inject({
      method: 'GET',
      url: '/api/v1/orders/o-1',
      headers: { authorization: 'Bearer test-admin-secret-0123456789' },
    });
    expect(res.statusCode).toBe(200);
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
