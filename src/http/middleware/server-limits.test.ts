/**
 * The server's limits against slow clients, on a real listening server with raw sockets (the
 * timeouts live in Node's HTTP server, which `inject()` never reaches).
 */
import { connect, type Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, expect, test } from 'vitest';
import type { Store } from '../../ports/index.js';
import { createStore } from '../../storage/index.js';
import { problemContentType, problemTypes } from '../problem.js';
import {
  createApiKey,
  createMetrics,
  governanceServerOptions,
  registerGovernance,
  requireScope,
  type ServerLimits,
  serverLimitOptions,
} from './index.js';

let store: Store;
let app: FastifyInstance | undefined;
const sockets: Socket[] = [];

beforeEach(async () => {
  store = await createStore({ url: ':memory:' });
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await app?.close();
  app = undefined;
  await store.close();
});

async function listen(server: Partial<ServerLimits>): Promise<{ port: number; secret: string }> {
  app = Fastify(governanceServerOptions({ logLevel: 'silent', server }));
  const governance = registerGovernance(app, {
    store,
    metrics: createMetrics({ defaultMetrics: false }),
    defaultRateLimit: 1000,
  });
  app.get('/health/slow', async () => {
    await new Promise((r) => setTimeout(r, 1500));
    return { ok: true };
  });
  app.post(
    '/api/v1/orders',
    { onRequest: requireScope('orders:write'), preHandler: governance.idempotency },
    async (request) => ({
      received: request.body,
    }),
  );
  const { record, secret } = createApiKey({ name: 'crm', scopes: ['orders:write'] });
  await store.putApiKey(record);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on TCP');
  return { port: address.port, secret };
}

/** A raw connection collecting everything the server sends until it closes. */
function open(port: number): Promise<{ socket: Socket; closed: Promise<{ data: string; afterMs: number }> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    sockets.push(socket);
    let data = '';
    const started = Date.now();
    const closed = new Promise<{ data: string; afterMs: number }>((done) => {
      socket.on('data', (chunk) => {
        data += chunk.toString('latin1');
      });
      socket.on('close', () => done({ data, afterMs: Date.now() - started }));
    });
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

/** Splits a raw HTTP/1.1 response into status, headers and body. */
function parseResponse(raw: string): { status: number; headers: Record<string, string>; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine?.split(' ')[1]), headers, body: raw.slice(end + 4) };
}

test('A client trickling its body one byte every 100 ms gets a 408 problem and its connection closed once the request timeout (1 s) is up.', async () => {
  const { port, secret } = await listen({ requestTimeoutMs: 1000, headersTimeoutMs: 1000 });
  const { socket, closed } = await open(port);
  socket.write(
    `POST /api/v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
  );
  const timer = setInterval(() => {
    if (!socket.destroyed) socket.write(' ');
  }, 100);
  try {
    const { data, afterMs } = await closed;
    expect(afterMs).toBeGreaterThanOrEqual(900);
    expect(afterMs).toBeLessThan(2500);
    const response = parseResponse(data);
    expect(response.status).toBe(408);
    expect(response.headers['content-type']).toBe(problemContentType);
    expect(JSON.parse(response.body)).toMatchObject({ type: problemTypes.requestTimeout, status: 408 });
  } finally {
    clearInterval(timer);
  }
});

test('The request timeout covers receiving the request, not the handler: a 1.5 s handler answers 200 under a 1 s limit.', async () => {
  const { port } = await listen({ requestTimeoutMs: 1000, headersTimeoutMs: 1000 });
  const res = await fetch(`http://127.0.0.1:${port}/health/slow`);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ ok: true });
});

test('A client trickling its headers gets a 408 problem once the headers timeout (500 ms) is up.', async () => {
  const { port } = await listen({ requestTimeoutMs: 5000, headersTimeoutMs: 500 });
  const { socket, closed } = await open(port);
  socket.write('POST /api/v1/orders HTTP/1.1\r\nHost: x\r\n');
  const timer = setInterval(() => {
    if (!socket.destroyed) socket.write('X-Slow: 1\r\n');
  }, 100);
  try {
    const { data, afterMs } = await closed;
    expect(afterMs).toBeLessThan(2000);
    expect(parseResponse(data).status).toBe(408);
  } finally {
    clearInterval(timer);
  }
});

test('An idle keep-alive connection is closed after the keep-alive timeout, and a silent connection after the connection timeout.', async () => {
  const { port } = await listen({ keepAliveTimeoutMs: 300, connectionTimeoutMs: 800 });
  const kept = await open(port);
  kept.socket.write('GET /health/missing HTTP/1.1\r\nHost: x\r\n\r\n');
  const silent = await open(port);
  const [a, b] = await Promise.all([kept.closed, silent.closed]);
  expect(parseResponse(a.data).status).toBe(404);
  expect(a.afterMs).toBeLessThan(1500);
  expect(b.data).toBe('');
  expect(b.afterMs).toBeGreaterThanOrEqual(700);
  expect(b.afterMs).toBeLessThan(3000);
});

test('Headers past the server limit (a 64 KiB Idempotency-Key) get a 431 problem+json, not plain JSON.', async () => {
  const { port, secret } = await listen({});
  const { socket, closed } = await open(port);
  socket.write(
    `POST /api/v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\r\n` +
      `Idempotency-Key: ${'k'.repeat(64 * 1024)}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
  );
  const response = parseResponse((await closed).data);
  expect(response.status).toBe(431);
  expect(response.headers['content-type']).toBe(problemContentType);
  const problem = JSON.parse(response.body);
  expect(problem).toMatchObject({ type: problemTypes.headersTooLarge, status: 431 });
  expect(problem.detail).toContain('Idempotency-Key');
});

test('Bytes that are not HTTP get a 400 problem+json.', async () => {
  const { port } = await listen({});
  const { socket, closed } = await open(port);
  socket.write('HELLO\r\n\r\n');
  const response = parseResponse((await closed).data);
  expect(response.status).toBe(400);
  expect(response.headers['content-type']).toBe(problemContentType);
  expect(JSON.parse(response.body).type).toBe(problemTypes.malformedRequest);
});

test('A URL the router cannot decode gets a 400 problem+json, not plain JSON.', async () => {
  const { port, secret } = await listen({});
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/orders/%E0%A4%A`, {
    headers: { authorization: `Bearer ${secret}` },
  });
  expect(res.status).toBe(400);
  expect(res.headers.get('content-type')).toBe(problemContentType);
});

test('The defaults are the configuration defaults, and the headers timeout never exceeds the request timeout.', () => {
  const options = serverLimitOptions();
  expect(options).toMatchObject({
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    keepAliveTimeout: 5_000,
    http: { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1000 },
  });
  expect(serverLimitOptions({ requestTimeoutMs: 2000, headersTimeoutMs: 9000 }).http.headersTimeout).toBe(
    2000,
  );
  expect(() => serverLimitOptions({ requestTimeoutMs: 0 })).toThrow(/requestTimeoutMs/);
});
