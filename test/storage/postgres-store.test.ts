/**
 * The storage contract against a real PostgreSQL (127.0.0.1:5432, trust auth, database `test`).
 * Every store gets a fresh schema, dropped at the end; if PostgreSQL is unreachable this FAILS.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Store } from '../../src/ports/index.js';
import { event } from '../../src/storage/contract/fixtures.js';
import { storeContract } from '../../src/storage/contract/store-contract.js';
import { createStore, PostgresStore } from '../../src/storage/index.js';
import { postgresMigrations } from '../../src/storage/postgres/migrations/index.js';

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
    expect([...ra, ...rb].sort()).toEqual(postgresMigrations.map((m) => m.version));
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

test('Events of one subject commit in seq order even when the earlier transaction is held up', async () => {
  const schema = `cd_test_${runId}_order`;
  const store = await createStore({ url, schema, poolSize: 4 });
  const blocker = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await blocker.connect();
  try {
    await store.putSubscriptions([{ name: 'crm', types: [], ordering: 'strict', active: true }]);
    // An uncommitted row with the id A's exception will use: A gets its outbox seq, then waits.
    await blocker.query('BEGIN');
    await blocker.query(
      "INSERT INTO exceptions (id, kind, owner, source, status, attempts, first_error, last_error, created_at, updated_at) VALUES ('x-held', 'transient', 'integration', 'test', 'open', 0, '{}', '{}', 'now', 'now')",
    );
    const order: string[] = [];
    const a = store
      .commit({
        events: [event('order-1')],
        exceptions: [
          {
            id: 'x-held',
            kind: 'transient',
            owner: 'integration',
            source: 'test',
            subscription: null,
            deliveryId: null,
            eventId: null,
            orderId: 'order-1',
            error: {},
            attempts: 1,
          },
        ],
      })
      .then((r) => {
        order.push('a');
        return r;
      });
    await new Promise((r) => setTimeout(r, 200));
    const b = store.commit({ events: [event('order-1')] }).then((r) => {
      order.push('b');
      return r;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(order).toEqual([]);
    await blocker.query('ROLLBACK');
    const [ra, rb] = await Promise.all([a, b]);
    expect(order).toEqual(['a', 'b']);
    if (ra.status !== 'committed' || rb.status !== 'committed') throw new Error('expected both committed');
    expect(ra.eventSeqs[0]).toBeLessThan(rb.eventSeqs[0]!);
  } finally {
    await blocker.end();
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
