import fc from 'fast-check';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { Store } from '../../ports/index.js';
import { createStore } from '../../storage/index.js';
import { problemErrorHandler, problemTypes } from '../problem.js';
import { apiKeyAuth, createApiKey } from './auth.js';
import {
  canonicalJson,
  idempotencyKey,
  idempotencyRecord,
  idempotencyRelease,
  idempotencyRequestHash,
  parseIdempotencyKey,
  saveIdempotentResponse,
} from './idempotency.js';

let store: Store;
let app: FastifyInstance | undefined;
let created = 0;
let gate: Promise<void> | null = null;

beforeEach(async () => {
  store = await createStore({ url: ':memory:' });
  created = 0;
  gate = null;
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  await store.close();
});

function build(): FastifyInstance {
  const instance = Fastify();
  instance.decorateRequest('principal', null);
  instance.decorateRequest('idempotency', null);
  instance.addHook('onRequest', apiKeyAuth({ store }));
  instance.addHook('onResponse', idempotencyRelease());
  instance.setErrorHandler(problemErrorHandler());
  const idempotency = idempotencyKey({ store });
  // A create route that writes its idempotency record inside its own commit unit.
  instance.post('/api/v1/things', { preHandler: idempotency }, async (request, reply) => {
    if (gate) await gate;
    created++;
    const body = { id: `thing-${created}`, received: request.body, sawKey: request.idempotency?.key ?? null };
    const record = idempotencyRecord(request, 201, body);
    if (record) await store.commit({ idempotency: record });
    return reply.code(201).send(body);
  });
  // A route without a commit unit of its own stores the response with the helper.
  instance.post('/api/v1/exceptions/:id/retry', { preHandler: idempotency }, async (request, reply) => {
    created++;
    const body = { retried: (request.params as { id: string }).id, n: created };
    await saveIdempotentResponse(store, request, 202, body);
    return reply.code(202).send(body);
  });
  return instance;
}

async function auth(name = 'crm'): Promise<string> {
  const { record, secret } = createApiKey({ name, scopes: ['orders:write'] });
  await store.putApiKey(record);
  return `Bearer ${secret}`;
}

describe('idempotency helpers', () => {
  test('Canonical JSON sorts object keys at every level, so equal bodies hash equally.', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}',
    );
    expect(idempotencyRequestHash('POST', '/x', { a: 1, b: 2 })).toBe(
      idempotencyRequestHash('POST', '/x', { b: 2, a: 1 }),
    );
    expect(idempotencyRequestHash('POST', '/x', { a: 1 })).not.toBe(
      idempotencyRequestHash('POST', '/y', { a: 1 }),
    );
  });

  test('Canonical JSON of a body nested 50,000 levels deep returns instead of overflowing the stack.', () => {
    const depth = 50_000;
    const deep = JSON.parse(`${'{"a":['.repeat(depth)}1${']}'.repeat(depth)}`) as unknown;
    const text = canonicalJson(deep);
    expect(text.length).toBe(depth * 8 + 1);
    expect(text.startsWith('{"a":[{"a":[')).toBe(true);
    expect(idempotencyRequestHash('POST', '/x', deep)).toMatch(/^[0-9a-f]{64}$/);
  });

  test('Canonical JSON is byte for byte what the recursive version gave, so stored request hashes stay valid.', () => {
    // The recursive implementation this one replaced, kept here as the reference.
    const recursive = (value: unknown): string => {
      if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
      if (Array.isArray(value)) return `[${value.map((v) => recursive(v ?? null)).join(',')}]`;
      const record = value as Record<string, unknown>;
      const parts: string[] = [];
      for (const k of Object.keys(record).sort()) {
        const v = record[k];
        if (v === undefined || typeof v === 'function') continue;
        parts.push(`${JSON.stringify(k)}:${recursive(v)}`);
      }
      return `{${parts.join(',')}}`;
    };
    fc.assert(
      fc.property(fc.jsonValue(), (v) => canonicalJson(v) === recursive(v)),
      { numRuns: 500 },
    );
    const odd = { b: undefined, a: [undefined, () => 1, null, { z: 1, y: [] }], c: () => 2, '': 'e' };
    expect(canonicalJson(odd)).toBe(recursive(odd));
    expect(canonicalJson(undefined)).toBe('null');
    const shared = { x: 1 };
    expect(canonicalJson([shared, shared])).toBe('[{"x":1},{"x":1}]');
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(TypeError);
  });

  test('Keys are 1 to 255 printable characters, bare or as a structured-field string.', () => {
    expect(parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"')).toEqual({
      key: '8e03978e-40d5-43e8-bc93-6894a57f9324',
    });
    expect(parseIdempotencyKey('abc')).toEqual({ key: 'abc' });
    expect('error' in parseIdempotencyKey('x'.repeat(256))).toBe(true);
    expect('error' in parseIdempotencyKey('""')).toBe(true);
    expect('error' in parseIdempotencyKey('caf\u00e9')).toBe(true);
  });
});

describe('idempotencyKey', () => {
  test('Repeating a create with the same key replays the first result without running it again.', async () => {
    app = build();
    const authorization = await auth();
    const first = await app.inject({
      method: 'POST',
      url: '/api/v1/things',
      headers: { authorization, 'idempotency-key': 'k-1' },
      payload: { sku: 'A', qty: 2 },
    });
    expect(first.statusCode).toBe(201);
    expect(first.json().sawKey).toBe('k-1');
    const again = await app.inject({
      method: 'POST',
      url: '/api/v1/things',
      headers: { authorization, 'idempotency-key': 'k-1' },
      payload: { qty: 2, sku: 'A' },
    });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotency-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    expect(created).toBe(1);
  });

  test('Reusing a key with a different body is refused with a 422 problem naming the header.', async () => {
    app = build();
    const authorization = await auth();
    await app.inject({
      method: 'POST',
      url: '/api/v1/things',
      headers: { authorization, 'idempotency-key': 'k-2' },
      payload: { sku: 'A', qty: 2 },
    });
    const other = await app.inject({
      method: 'POST',
      url: '/api/v1/things',
      headers: { authorization, 'idempotency-key': 'k-2' },
      payload: { sku: 'A', qty: 3 },
    });
    expect(other.statusCode).toBe(422);
    expect(other.json().type).toBe(problemTypes.idempotencyKeyReused);
    expect(other.json().errors[0].field).toBe('Idempotency-Key');
    expect(created).toBe(1);
  });

  test('A second request with a key still in flight gets a 409 problem, and the key is free once the first completes.', async () => {
    app = build();
    const authorization = await auth();
    let open!: () => void;
    gate = new Promise((resolve) => {
      open = resolve;
    });
    const request = {
      method: 'POST' as const,
      url: '/api/v1/things',
      headers: { authorization, 'idempotency-key': 'k-3' },
      payload: { sku: 'A' },
    };
    const first = app.inject(request);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await app.inject(request);
    expect(second.statusCode).toBe(409);
    expect(second.json().type).toBe(problemTypes.idempotencyInFlight);
    open();
    expect((await first).statusCode).toBe(201);
    const third = await app.inject(request);
    expect(third.statusCode).toBe(201);
    expect(third.headers['idempotency-replayed']).toBe('true');
    expect(created).toBe(1);
  });

  test('A malformed key is refused with a 400 problem naming the header.', async () => {
    app = build();
    const authorization = await auth();
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/things',
      headers: { authorization, 'idempotency-key': 'k'.repeat(300) },
      payload: {},
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      type: problemTypes.idempotencyKeyInvalid,
      errors: [{ field: 'Idempotency-Key' }],
    });
    expect(created).toBe(0);
  });

  test('Without the header the request runs normally and carries no idempotency context.', async () => {
    app = build();
    const authorization = await auth();
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/things',
      headers: { authorization },
      payload: {},
    });
    expect(res.statusCode).toBe(201);
    expect(res.json().sawKey).toBeNull();
  });

  test('Keys are scoped per client: another client may use the same key.', async () => {
    app = build();
    const a = await auth('a');
    const b = await auth('b');
    for (const authorization of [a, b]) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/things',
        headers: { authorization, 'idempotency-key': 'shared' },
        payload: { sku: 'A' },
      });
      expect(res.headers['idempotency-replayed']).toBeUndefined();
    }
    expect(created).toBe(2);
  });

  test('Routes without a commit unit replay through saveIdempotentResponse, per concrete URL.', async () => {
    app = build();
    const authorization = await auth();
    const headers = { authorization, 'idempotency-key': 'retry-1' };
    const first = await app.inject({
      method: 'POST',
      url: '/api/v1/exceptions/x-1/retry',
      headers,
      payload: {},
    });
    const again = await app.inject({
      method: 'POST',
      url: '/api/v1/exceptions/x-1/retry',
      headers,
      payload: {},
    });
    expect(again.statusCode).toBe(202);
    expect(again.headers['idempotency-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    const otherId = await app.inject({
      method: 'POST',
      url: '/api/v1/exceptions/x-2/retry',
      headers,
      payload: {},
    });
    expect(otherId.statusCode).toBe(422);
  });
});
