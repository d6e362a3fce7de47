/**
 * The storage contract against a real PostgreSQL (127.0.0.1:5432, trust auth, database `test`).
 * Every store gets a fresh schema, dropped at the end; if PostgreSQL is unreachable this FAILS.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Store } from '../../src/ports/index.js';
import { storeContract } from '../../src/storage/contract/store-contract.js';
import { createStore, PostgresStore } from '../../src/storage/index.js';

const url = process.env['CROSSDOCK_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const runId = randomBytes(4).toString('hex');
const schemas = new Map<Store, string>();
let counter = 0;

async function dropSchemas(): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const rows = await client.query(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'cd_test_' || $1 || '_%'",
      [runId],
    );
    for (const r of rows.rows as { nspname: string }[])
      await client.query(`DROP SCHEMA ${r.nspname} CASCADE`);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  await client.end();
});

afterAll(dropSchemas);

test('PostgreSQL is reachable for the contract suite', async () => {
  const store = await createStore({ url, schema: `cd_test_${runId}_probe` });
  try {
    expect((await store.ready()).ok).toBe(true);
  } finally {
    await store.close();
  }
});

test('Two processes migrating the same schema at once apply each migration exactly once', async () => {
  const schema = `cd_test_${runId}_race`;
  const a = new PostgresStore({ url, schema });
  const b = new PostgresStore({ url, schema });
  try {
    const [ra, rb] = await Promise.all([a.migrate(), b.migrate()]);
    expect([...ra, ...rb].sort()).toEqual([1, 2]);
    expect((await b.ready()).ok).toBe(true);
  } finally {
    await a.close();
    await b.close();
  }
});

test('An unreachable PostgreSQL is reported as a downstream outage, and ready() says not ok', async () => {
  const store = new PostgresStore({ url: 'postgres://postgres@127.0.0.1:1/test' });
  try {
    await expect(store.getOrder('x')).rejects.toMatchObject({ kind: 'downstream_outage' });
    expect((await store.ready()).ok).toBe(false);
  } finally {
    await store.close();
  }
});

storeContract('PostgreSQL', {
  open: async () => {
    counter += 1;
    const schema = `cd_test_${runId}_${counter}`;
    const store = await createStore({ url, schema, poolSize: 4 });
    schemas.set(store, schema);
    return store;
  },
  openPeer: async (store) => {
    const schema = schemas.get(store);
    if (!schema) throw new Error('unknown store');
    return new PostgresStore({ url, schema, max: 4 });
  },
  propertyRuns: Number(process.env['CROSSDOCK_PROPERTY_RUNS'] ?? 12),
});
