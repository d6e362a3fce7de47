import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { Store } from '../../ports/index.js';
import { createStore } from '../../storage/index.js';
import { problemContentType, problemErrorHandler, problemTypes } from '../problem.js';
import { apiKeyAuth, createApiKey } from './auth.js';
import { type RateLimitOptions, rateLimit } from './rate-limit.js';

let store: Store;
let app: FastifyInstance | undefined;
let clock = 0;

beforeEach(async () => {
  store = await createStore({ url: ':memory:' });
  clock = 1_000_000;
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  await store.close();
});

function build(options: Partial<RateLimitOptions> = {}) {
  const limiter = rateLimit({ defaultRate: 5, now: () => clock, ...options });
  const instance = Fastify();
  instance.decorateRequest('principal', null);
  instance.addHook('onRequest', apiKeyAuth({ store }));
  instance.addHook('onRequest', limiter);
  instance.setErrorHandler(problemErrorHandler());
  instance.get('/api/v1/ping', async () => ({ ok: true }));
  instance.get('/health/live', async () => ({ ok: true }));
  return { instance, limiter };
}

async function key(rateLimitPerSecond = 0, name = 'crm'): Promise<Record<string, string>> {
  const { record, secret } = createApiKey({ name, scopes: ['orders:read'], rateLimit: rateLimitPerSecond });
  await store.putApiKey(record);
  return { authorization: `Bearer ${secret}` };
}

async function burst(
  instance: FastifyInstance,
  headers: Record<string, string>,
  n: number,
): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++)
    statuses.push((await instance.inject({ method: 'GET', url: '/api/v1/ping', headers })).statusCode);
  return statuses;
}

describe('rateLimit', () => {
  test('After the burst a client gets a 429 problem with an integer Retry-After of at least 1.', async () => {
    const built = build();
    app = built.instance;
    const headers = await key();
    expect(await burst(app, headers, 5)).toEqual([200, 200, 200, 200, 200]);
    const res = await app.inject({ method: 'GET', url: '/api/v1/ping', headers });
    expect(res.statusCode).toBe(429);
    expect(res.headers['content-type']).toBe(problemContentType);
    expect(res.json().type).toBe(problemTypes.rateLimited);
    expect(res.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
    expect(res.headers['ratelimit-limit']).toBe('5');
    expect(res.headers['ratelimit-remaining']).toBe('0');
  });

  test('Successful responses carry RateLimit-Limit and a decreasing RateLimit-Remaining.', async () => {
    app = build().instance;
    const headers = await key();
    const first = await app.inject({ method: 'GET', url: '/api/v1/ping', headers });
    const second = await app.inject({ method: 'GET', url: '/api/v1/ping', headers });
    expect(first.headers['ratelimit-limit']).toBe('5');
    expect(first.headers['ratelimit-remaining']).toBe('4');
    expect(second.headers['ratelimit-remaining']).toBe('3');
  });

  test('Tokens refill at the client rate, so the client is served again after Retry-After.', async () => {
    app = build().instance;
    const headers = await key();
    await burst(app, headers, 5);
    const limited = await app.inject({ method: 'GET', url: '/api/v1/ping', headers });
    expect(limited.statusCode).toBe(429);
    clock += Number(limited.headers['retry-after']) * 1000;
    expect((await app.inject({ method: 'GET', url: '/api/v1/ping', headers })).statusCode).toBe(200);
  });

  test("A key's own rate limit overrides the default, and clients do not share buckets.", async () => {
    app = build().instance;
    const fast = await key(20, 'fast');
    const slow = await key(0, 'slow');
    expect((await burst(app, fast, 20)).every((s) => s === 200)).toBe(true);
    expect((await app.inject({ method: 'GET', url: '/api/v1/ping', headers: fast })).statusCode).toBe(429);
    expect((await burst(app, slow, 5)).every((s) => s === 200)).toBe(true);
  });

  test('A configured burst sets the bucket capacity.', async () => {
    app = build({ burst: 2 }).instance;
    const headers = await key();
    expect(await burst(app, headers, 3)).toEqual([200, 200, 429]);
  });

  test('Public routes without a principal are not limited by default.', async () => {
    app = build({ defaultRate: 1 }).instance;
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++)
      statuses.push((await app.inject({ method: 'GET', url: '/health/live' })).statusCode);
    expect(statuses.every((s) => s === 200)).toBe(true);
  });

  test('Buckets of idle clients are evicted once they have refilled.', async () => {
    const built = build({ sweepIntervalMs: 10_000 });
    app = built.instance;
    const a = await key(0, 'a');
    const b = await key(0, 'b');
    await burst(app, a, 2);
    await burst(app, b, 1);
    expect(built.limiter.state.size).toBe(2);
    clock += 10_000;
    await burst(app, b, 1);
    expect(built.limiter.state.size).toBe(1);
  });
});
