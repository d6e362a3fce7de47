import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { CrossdockError } from '../domain/index.js';
import { traceContext } from './middleware/trace.js';
import {
  formatFieldPath,
  httpProblem,
  ProblemError,
  problemContentType,
  problemErrorHandler,
  problemFromZod,
  problemNotFoundHandler,
  problemTypes,
} from './problem.js';

const OrderInput = z
  .object({
    customerId: z.string().min(1),
    lines: z.array(z.object({ sku: z.string(), quantity: z.number().positive() }).strict()).min(1),
  })
  .strict();

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function captureLogs(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, stream };
}

function build(options: { bodyLimit?: number; logs?: Writable } = {}): FastifyInstance {
  const instance = Fastify({
    bodyLimit: options.bodyLimit ?? 256 * 1024,
    ...(options.logs ? { loggerInstance: pino({ level: 'info' }, options.logs) as FastifyBaseLogger } : {}),
  });
  instance.addHook('onRequest', traceContext());
  instance.setErrorHandler(problemErrorHandler());
  instance.setNotFoundHandler(problemNotFoundHandler());
  instance.post('/orders', async (request) => {
    const input = OrderInput.parse(request.body);
    return { ok: true, lines: input.lines.length };
  });
  instance.post(
    '/schema',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name'],
          properties: {
            name: { type: 'string' },
            lines: { type: 'array', items: { type: 'object', properties: { qty: { type: 'integer' } } } },
          },
        },
      },
    },
    async () => ({ ok: true }),
  );
  instance.get('/boom', async () => {
    throw new Error('connect ECONNREFUSED 10.0.0.5:5432 password=hunter2');
  });
  instance.get('/kind/:kind', async (request) => {
    const { kind } = request.params as { kind: string };
    if (kind === 'data_quality')
      throw CrossdockError.dataQuality('Unknown unit of measure', { details: { field: 'lines[0].uom' } });
    if (kind === 'policy_violation')
      throw CrossdockError.policyViolation('Replay would repeat customer notifications');
    if (kind === 'conflict') throw CrossdockError.conflict('Order changed concurrently');
    if (kind === 'transient')
      throw CrossdockError.transient('SQLITE_BUSY: database is locked', { retryAfterMs: 2500 });
    throw CrossdockError.downstreamOutage('ERP https://erp.internal:8000 refused', {
      details: { system: 'erp' },
    });
  });
  instance.get('/missing', async () => {
    throw new ProblemError(httpProblem(404, 'Order o-1 does not exist.', problemTypes.notFound));
  });
  return instance;
}

describe('problemFromZod', () => {
  test('Field paths use dot and bracket notation the way a client writes them.', () => {
    expect(formatFieldPath(['lines', 0, 'quantity'])).toBe('lines[0].quantity');
    expect(formatFieldPath(['meta', 'odd key'])).toBe('meta["odd key"]');
    expect(formatFieldPath([])).toBe('(root)');
  });

  test('Unrecognized keys of a strict object are reported one field each.', () => {
    const result = OrderInput.safeParse({
      customerId: 'c',
      lines: [{ sku: 'A', quantity: 1, colour: 'red' }],
    });
    expect(result.success).toBe(false);
    if (result.success) return;
    const problem = problemFromZod(result.error);
    expect(problem.status).toBe(422);
    expect(problem.errors).toEqual([{ field: 'lines[0].colour', message: 'Unrecognized key' }]);
  });
});

describe('problemErrorHandler', () => {
  test('A zod validation error becomes a 422 problem naming each offending field.', async () => {
    app = build();
    const res = await app.inject({
      method: 'POST',
      url: '/orders',
      payload: { customerId: '', lines: [{ sku: 'A', quantity: -1 }] },
    });
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toBe(problemContentType);
    const body = res.json();
    expect(body.type).toBe(problemTypes.validation);
    expect(body.title).toBe('Validation failed');
    expect(body.instance).toBe('/orders');
    expect(body.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'customerId',
      'lines[0].quantity',
    ]);
  });

  test('A JSON schema validation error also becomes a 422 problem naming the fields.', async () => {
    app = build();
    const res = await app.inject({ method: 'POST', url: '/schema', payload: { lines: [{ qty: 'x' }] } });
    expect(res.statusCode).toBe(422);
    expect(res.json().errors.map((e: { field: string }) => e.field)).toContain('name');
  });

  test('Malformed JSON is answered with a 400 problem.', async () => {
    app = build();
    const res = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: { 'content-type': 'application/json' },
      payload: '{"customerId": ',
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toBe(problemContentType);
    expect(res.json().type).toBe(problemTypes.malformedRequest);
  });

  test('A 1 MB body against a 256 KB limit is answered with a 413 problem.', async () => {
    app = build({ bodyLimit: 256 * 1024 });
    const res = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ customerId: 'c', pad: 'x'.repeat(1024 * 1024) }),
    });
    expect(res.statusCode).toBe(413);
    expect(res.headers['content-type']).toBe(problemContentType);
    expect(res.json().type).toBe(problemTypes.payloadTooLarge);
  });

  test('An unsupported media type is answered with a 415 problem.', async () => {
    app = build();
    const res = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: { 'content-type': 'application/xml' },
      payload: '<order/>',
    });
    expect(res.statusCode).toBe(415);
    expect(res.json().type).toBe(problemTypes.unsupportedMediaType);
    expect(res.json().detail).toContain('application/xml');
  });

  test('An unknown route is answered with a 404 problem.', async () => {
    app = build();
    const res = await app.inject({ method: 'GET', url: '/nowhere?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toBe(problemContentType);
    expect(res.json()).toMatchObject({ type: problemTypes.notFound, status: 404, instance: '/nowhere' });
  });

  test('An unexpected error is a 500 problem without stack or internal message, logged with the correlation id.', async () => {
    const logs = captureLogs();
    app = build({ logs: logs.stream });
    const res = await app.inject({ method: 'GET', url: '/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.headers['content-type']).toBe(problemContentType);
    expect(res.body).not.toContain('hunter2');
    expect(res.body).not.toContain('ECONNREFUSED');
    expect(res.body).not.toMatch(/at .*\.ts:\d+/);
    expect(res.body).not.toContain('stack');
    const body = res.json();
    expect(body).toMatchObject({ type: problemTypes.internal, status: 500, title: 'Internal Server Error' });
    const logged = logs.lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'unhandled error');
    expect(logged?.correlationId).toBeDefined();
    expect(logged?.err?.stack).toContain('ECONNREFUSED');
  });

  test('A ProblemError is sent as its own problem.', async () => {
    app = build();
    const res = await app.inject({ method: 'GET', url: '/missing' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ detail: 'Order o-1 does not exist.', type: problemTypes.notFound });
  });

  test('CrossdockError kinds map to 422, 409, 409, 503 and 503 with Retry-After.', async () => {
    app = build();
    const dq = await app.inject({ method: 'GET', url: '/kind/data_quality' });
    expect(dq.statusCode).toBe(422);
    expect(dq.json()).toMatchObject({
      kind: 'data_quality',
      detail: 'Unknown unit of measure',
      errors: [{ field: 'lines[0].uom' }],
    });
    expect((await app.inject({ method: 'GET', url: '/kind/policy_violation' })).statusCode).toBe(409);
    expect((await app.inject({ method: 'GET', url: '/kind/conflict' })).statusCode).toBe(409);

    const transient = await app.inject({ method: 'GET', url: '/kind/transient' });
    expect(transient.statusCode).toBe(503);
    expect(transient.headers['retry-after']).toBe('3');
    expect(transient.body).not.toContain('SQLITE_BUSY');

    const outage = await app.inject({ method: 'GET', url: '/kind/downstream_outage' });
    expect(outage.statusCode).toBe(503);
    expect(outage.headers['retry-after']).toBe('5');
    expect(outage.json()).toMatchObject({ kind: 'downstream_outage', system: 'erp', retryable: true });
    expect(outage.body).not.toContain('erp.internal');
  });
});
