/**
 * Retention on PostgreSQL, where several processes share the store: a replay and a prune of the
 * same events must not both win (a delivery row for a deleted event would sit pending forever).
 * The prune's transaction is held open here by driving the core's own batch on a raw client, so
 * the replay is made to run exactly inside it. Real PostgreSQL (127.0.0.1:5432, database `test`).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, expect, test } from 'vitest';
import { event } from '../../src/storage/contract/fixtures.js';
import { pruneOutboxBatch } from '../../src/storage/core/retention.js';
import { postgresDialect, type Txn, toDollarParams } from '../../src/storage/core/sql.js';
import { createStore } from '../../src/storage/index.js';

const url = process.env['CROSSDOCK_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `cd_test_${randomBytes(4).toString('hex')}_retention`;

afterAll(async () => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
});

/** Runs a core generator on one client (inside whatever transaction the client has open). */
async function drive<T>(client: pg.Client, gen: Txn<T>): Promise<T> {
  let step = gen.next();
  while (!step.done) {
    const op = step.value;
    const res = await client.query(toDollarParams(op.sql), op.params as unknown[]);
    step = gen.next(op.kind === 'all' ? res.rows : op.kind === 'get' ? res.rows[0] : (res.rowCount ?? 0));
  }
  return step.value;
}

test('A replay of events a prune is deleting waits for it and makes no row for a deleted event', async () => {
  const store = await createStore({ url, schema, poolSize: 4 });
  const pruner = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await pruner.connect();
  try {
    await store.putSubscriptions([{ name: 'crm', types: [], ordering: 'strict', active: true }]);
    const committed = await store.commit({ events: [event('k1'), event('k2'), event('k3')] });
    if (committed.status !== 'committed') throw new Error('expected committed');
    const seqs = committed.eventSeqs;
    const now = new Date(Date.now() + 5);
    const batch = await store.claimDeliveries('crm', { limit: 10, leaseMs: 30_000, now, owner: 'w1' });
    await store.completeDeliveries(batch.map((d) => d.id));

    // The prune's batch, its transaction left open: the events are deleted but not yet committed.
    await pruner.query('BEGIN');
    const cutoff = Date.now() + 60_000;
    const pruned = await drive(pruner, pruneOutboxBatch(postgresDialect, cutoff, 0, seqs[2]!, 100, false));
    expect(pruned.pruned).toBe(3);

    let replayed: number | null = null;
    const replay = store.enqueueDeliveries('crm', seqs).then((n) => {
      replayed = n;
      return n;
    });
    await new Promise((r) => setTimeout(r, 300));
    // Without the replay's lock on the events it reads, it would have made its rows by now, from
    // the snapshot that still shows them.
    expect(replayed).toBeNull();
    await pruner.query('COMMIT');
    expect(await replay).toBe(0);

    const stats = await store.subscriptionStats();
    expect(stats[0]).toMatchObject({ name: 'crm', pending: 0, leased: 0, parked: 0 });
    expect(await store.readEvents({ limit: 10 })).toEqual([]);
  } finally {
    await pruner.end();
    await store.close();
  }
});
