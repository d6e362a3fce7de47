/**
 * The HTTP edge of a real hub (`createHub`, SQLite, real auth): a deep JSON body with an
 * Idempotency-Key, an oversized or overlong key, and the server's timeouts, as a client meets them.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Hub } from '../../src/app/hub.js';
import { problemContentType, problemTypes } from '../../src/http/problem.js';
import { openTestHub } from '../support/hub.js';

const bootstrap = 'edge-limits-bootstrap-secret-0123456789abcdef';
let hub: Hub;
let dispose: () => Promise<void>;
let port: number;

beforeAll(async () => {
  ({ hub, dispose } = await openTestHub('edge-limits', bootstrap));
  await hub.app.listen({ host: '127.0.0.1', port: 0 });
  const address = hub.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on TCP');
  port = address.port;
});
afterAll(async () => dispose());

const auth = { authorization: `Bearer ${bootstrap}` };

test('An order nested 20,000 levels deep with an Idempotency-Key is a 400 problem naming the depth limit (it was a 500), and the key stays free', async () => {
  const depth = 20_000;
  const res = await hub.app.inject({
    method: 'POST',
    url: '/api/v1/orders',
    headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': 'deep-order-1' },
    payload: `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
  });
  expect(res.statusCode).toBe(400);
  expect(res.headers['content-type']).toBe(problemContentType);
  expect(res.json()).toMatchObject({ type: problemTypes.jsonTooDeep, maxDepth: 64 });
  expect(await hub.store.getIdempotency('bootstrap', 'deep-order-1')).toBeNull();
});

test('An Idempotency-Key longer than 255 characters is a 400 problem naming the header', async () => {
  const res = await hub.app.inject({
    method: 'POST',
    url: '/api/v1/orders',
    headers: { ...auth, 'idempotency-key': 'k'.repeat(256) },
    payload: {},
  });
  expect(res.statusCode).toBe(400);
  expect(res.json()).toMatchObject({
    type: problemTypes.idempotencyKeyInvalid,
    errors: [{ field: 'Idempotency-Key', message: 'must be 1 to 255 characters long' }],
  });
});

test('A 64 KiB Idempotency-Key on the wire is a 431 problem+json (it was plain JSON)', async () => {
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = '';
    socket.on('data', (b) => {
      data += b.toString('latin1');
    });
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
    socket.write(
      `POST /api/v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${bootstrap}\r\n` +
        `Idempotency-Key: ${'k'.repeat(64 * 1024)}\r\nContent-Length: 2\r\n\r\n{}`,
    );
  });
  expect(raw.startsWith('HTTP/1.1 431 ')).toBe(true);
  expect(raw).toContain(`Content-Type: ${problemContentType}`);
  expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toMatchObject({
    type: problemTypes.headersTooLarge,
    status: 431,
  });
});

test("The hub's server has the configuration's timeouts (they were 0: a trickling client held its connection forever)", () => {
  const server = hub.app.server;
  expect(server.requestTimeout).toBe(30_000);
  expect(server.headersTimeout).toBe(10_000);
  expect(server.keepAliveTimeout).toBe(5_000);
  expect(server.timeout).toBe(60_000);
});
