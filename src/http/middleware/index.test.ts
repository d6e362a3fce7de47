import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import type { Store } from '../../ports/index.js';
import { createStore } from '../../storage/index.js';
import {
  correlationLogController,
  createApiKey,
  createMetrics,
  type GovernanceOptions,
  governanceServerOptions,
  idempotencyRecord,
  loggerOptions,
  problemContentType,
  registerGovernance,
  requireScope,
  traceGenReqId,
} from './index.js';

const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';

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

function build(options: Partial<GovernanceOptions> = {}, logs?: Writable): FastifyInstance {
  const instance = logs
    ? Fastify({
        loggerInstance: pino(loggerOptions({ level: 'info' }), logs) as FastifyBaseLogger,
        genReqId: traceGenReqId(),
        logController: correlationLogController(),
        requestIdHeader: false,
      })
    : Fastify(governanceServerOptions({ logLevel: 'silent' }));
  const governance = registerGovernance(instance, {
    store,
    metrics: createMetrics({ defaultMetrics: false }),
    defaultRateLimit: 3,
    bodyLimit: 256 * 1024,
    ...options,
  });
  instance.get('/health/live', async () => ({ ok: true }));
  instance.post(
    '/api/v1/orders',
    { onRequest: requireScope('orders:write'), preHandler: governance.idempotency },
    async (request, reply) => {
      const input = z.object({ sku: z.string(), quantity: z.number().int().positive() }).parse(request.body);
      const body = { id: 'o-1', ...input, correlationId: request.id };
      const record = idempotencyRecord(request, 201, body);
      if (record) await store.commit({ idempotency: record });
      request.log.info({ headers: request.headers }, 'order accepted');
      return reply.code(201).send(body);
    },
  );
  return instance;
}

async function key(scopes: Parameters<typeof createApiKey>[0]['scopes'], rateLimit = 0): Promise<string> {
  const { record, secret } = createApiKey({ name: 'crm', scopes, rateLimit });
  await store.putApiKey(record);
  return secret;
}

describe('registerGovernance', () => {
  test('A valid, authorised request passes trace, auth, rate limit and idempotency and reaches the route.', async () => {
    app = build();
    const secret = await key(['orders:write']);
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/orders',
      headers: { authorization: `Bearer ${secret}`, traceparent: incoming, 'idempotency-key': 'a-1' },
      payload: { sku: 'A', quantity: 1 },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json().correlationId).toBe(traceId);
    expect(String(res.headers.traceparent).slice(3, 35)).toBe(traceId);
    expect(res.headers['ratelimit-limit']).toBe('3');
  });

  test('401, 403, 404, 422 and 429 answers are all problem+json and all carry a traceparent.', async () => {
    app = build();
    const writer = await key(['orders:write']);
    const reader = await key(['orders:read']);
    const answers = [
      await app.inject({ method: 'POST', url: '/api/v1/orders', payload: {} }),
      await app.inject({
        method: 'POST',
        url: '/api/v1/orders',
        headers: { authorization: `Bearer ${reader}` },
        payload: {},
      }),
      await app.inject({
        method: 'GET',
        url: '/api/v1/nothing',
        headers: { authorization: `Bearer ${writer}` },
      }),
      await app.inject({
        method: 'POST',
        url: '/api/v1/orders',
        headers: { authorization: `Bearer ${writer}` },
        payload: { sku: 'A', quantity: 0 },
      }),
    ];
    for (let i = 0; i < 3; i++) {
      answers.push(
        await app.inject({
          method: 'GET',
          url: '/api/v1/nothing',
          headers: { authorization: `Bearer ${writer}` },
        }),
      );
    }
    expect(answers.map((a) => a.statusCode)).toEqual([401, 403, 404, 422, 404, 429, 429]);
    for (const answer of answers) {
      expect(answer.headers['content-type']).toBe(problemContentType);
      expect(String(answer.headers.traceparent)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(answer.json().traceId).toBe(String(answer.headers.traceparent).slice(3, 35));
    }
    expect(answers[3]?.json().errors[0].field).toBe('quantity');
  });

  test('Unauthenticated requests do not spend a client bucket, and health stays public and unlimited.', async () => {
    app = build();
    for (let i = 0; i < 10; i++) {
      expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/api/v1/nothing' })).statusCode).toBe(401);
    }
  });

  test('The body limit applies to JSON bodies: 1 MB against 256 KB is a 413 problem.', async () => {
    app = build();
    const secret = await key(['orders:write']);
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/orders',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ sku: 'x'.repeat(1024 * 1024), quantity: 1 }),
    });
    expect(res.statusCode).toBe(413);
    expect(res.headers['content-type']).toBe(problemContentType);
  });

  test('A JSON body nested 20,000 levels deep with an Idempotency-Key is a 400 problem naming the depth limit, never a 500, and nothing is logged at error level.', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    app = build({}, stream);
    const secret = await key(['orders:write']);
    const depth = 20_000;
    for (const headers of [{ 'idempotency-key': 'deep-1' }, {}]) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/orders',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...headers },
        payload: `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
      });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toBe(problemContentType);
      const problem = res.json();
      expect(problem.type).toBe('https://crossdock.dev/problems/json-too-deep');
      expect(problem.maxDepth).toBe(64);
      expect(problem.detail).toContain('64 levels');
      expect(problem.errors).toEqual([
        { field: '(root)', message: 'nested deeper than 64 levels (at character 320)' },
      ]);
    }
    expect(lines.map((l) => JSON.parse(l).level as number).filter((level) => level >= 50)).toEqual([]);
    // The key was never taken: the same key with a valid body runs.
    const ok = await app.inject({
      method: 'POST',
      url: '/api/v1/orders',
      headers: { authorization: `Bearer ${secret}`, 'idempotency-key': 'deep-1' },
      payload: { sku: 'A', quantity: 1 },
    });
    expect(ok.statusCode).toBe(201);
  });

  test('Nesting up to the limit passes to the route, brackets inside strings do not count, and the limit is configurable.', async () => {
    app = build({ maxJsonDepth: 3 });
    const secret = await key(['orders:write']);
    const post = (payload: string) =>
      app!.inject({
        method: 'POST',
        url: '/api/v1/orders',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        payload,
      });
    expect((await post('{"sku":"[[[[{{{{","quantity":1,"meta":{"a":[1]}}')).statusCode).toBe(201);
    expect((await post('{"sku":"\\"[[[[","quantity":1}')).statusCode).toBe(201);
    const deep = await post('{"sku":"A","quantity":1,"meta":{"a":[[1]]}}');
    expect(deep.statusCode).toBe(400);
    expect(deep.json().maxDepth).toBe(3);
  });

  test('Prototype poisoning in JSON is refused as malformed.', async () => {
    app = build();
    const secret = await key(['orders:write']);
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/orders',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      payload: '{"sku":"A","quantity":1,"__proto__":{"admin":true}}',
    });
    expect(res.statusCode).toBe(400);
  });

  test('GET /metrics needs ops:read and reports requests by route pattern.', async () => {
    app = build({ defaultRateLimit: 100 });
    const writer = await key(['orders:write']);
    const ops = await key(['ops:read']);
    await app.inject({
      method: 'POST',
      url: '/api/v1/orders',
      headers: { authorization: `Bearer ${writer}` },
      payload: { sku: 'A', quantity: 1 },
    });
    expect(
      (await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${writer}` } }))
        .statusCode,
    ).toBe(403);
    const res = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${ops}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain(
      'crossdock_http_requests_total{method="POST",route="/api/v1/orders",status="201"} 1',
    );
  });

  test('Log lines carry the trace id as correlationId and never the API key.', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    app = build({}, stream);
    const secret = await key(['orders:write']);
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/orders',
      headers: { authorization: `Bearer ${secret}`, traceparent: incoming },
      payload: { sku: 'A', quantity: 1 },
    });
    expect(res.statusCode).toBe(201);
    const parsed = lines.map((l) => JSON.parse(l));
    const accepted = parsed.find((l) => l.msg === 'order accepted');
    expect(accepted?.correlationId).toBe(traceId);
    expect(accepted?.headers.authorization).toBe('[redacted]');
    for (const line of parsed.filter((l) => l.req !== undefined)) expect(line.correlationId).toBe(traceId);
    expect(lines.join('')).not.toContain(secret);
  });
});
