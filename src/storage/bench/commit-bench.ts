/**
 * Micro-benchmark of the SQLite store: commits/s with and without group commit under FULL and
 * NORMAL, with writes inline or on the writer thread, a whole order's storage work (4 reads +
 * 2 commits, with the event-loop time it costs), and how fast a batched claim-and-complete drains
 * deliveries. Not part of the test suite.
 *
 *   npx tsx src/storage/bench/commit-bench.ts [--units 20000] [--inflight 256] [--deliveries 100000]
 *     [--pg postgres://postgres@127.0.0.1:5432/test]   (also measures PostgreSQL in a throw-away schema)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { CommitUnit, Store } from '../../ports/index.js';
import { customer, event, order, position, product, timeline } from '../contract/fixtures.js';
import { PostgresStore } from '../postgres/postgres-store.js';
import { SqliteStore } from '../sqlite/sqlite-store.js';

const { values } = parseArgs({
  options: {
    units: { type: 'string', default: '20000' },
    inflight: { type: 'string', default: '256' },
    deliveries: { type: 'string', default: '100000' },
    pg: { type: 'string' },
  },
});
const units = Number(values.units);
const inflight = Number(values.inflight);
const deliveryCount = Number(values.deliveries);

async function seed(store: Store): Promise<void> {
  await store.migrate();
  await store.putSubscriptions([
    { name: 'crm', types: ['order.'], ordering: 'strict', active: true },
    { name: 'portal', types: [], ordering: 'skip_parked', active: true },
  ]);
  await store.upsertCustomers([customer('c1')]);
  await store.upsertProducts([product('SKU-1'), product('SKU-2')]);
  await store.upsertInventoryPositions([position('SKU-1', 'W1', 1e12), position('SKU-2', 'W1', 1e12)]);
}

type Target =
  | { backend: 'sqlite'; synchronous: 'FULL' | 'NORMAL'; groupCommit: boolean; writer: 'worker' | 'inline' }
  | { backend: 'postgres'; url: string };

async function open(target: Target): Promise<{ store: Store; done: () => Promise<void> }> {
  if (target.backend === 'postgres') {
    const schema = `cd_bench_${process.pid}_${Date.now()}`;
    const store = new PostgresStore({ url: target.url, schema, max: 16 });
    await seed(store);
    return {
      store,
      done: async () => {
        await store.close();
        const client = new pg.Client({ connectionString: target.url });
        await client.connect();
        await client.query(`DROP SCHEMA ${schema} CASCADE`);
        await client.end();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'crossdock-bench-'));
  const store = new SqliteStore({
    filename: join(dir, 'crossdock.db'),
    synchronous: target.synchronous,
    groupCommit: target.groupCommit,
    writer: target.writer,
  });
  await seed(store);
  return {
    store,
    done: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The first commit of an order: ~15 rows (order, 3 journal, 3 timeline, 1 event × 2 subs, 2 reservations, idempotency). */
function acceptUnit(id: string): CommitUnit {
  const o = order(id);
  return {
    order: { next: o, expectedVersion: null },
    journal: ['validate-customer', 'confirm-pricing', 'check-availability'].map((step) => ({
      orderId: id,
      step,
      status: 'completed' as const,
      attempt: 1,
      output: { ok: true },
      error: null,
      at: o.createdAt,
      durationMs: 1,
    })),
    timeline: [timeline(id, 'received'), timeline(id, 'validated'), timeline(id, 'accepted')],
    events: [event(id, 'order.accepted.v1')],
    inventory: [
      { sku: 'SKU-1', warehouseId: 'W1', reservedDelta: 1 },
      { sku: 'SKU-2', warehouseId: 'W1', reservedDelta: 1 },
    ],
    idempotency: {
      scope: 'bench',
      key: id,
      requestHash: 'h',
      responseStatus: 201,
      responseBody: { id },
      createdAt: o.createdAt,
    },
  };
}

async function runConcurrently(n: number, work: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(inflight, n) }, async () => {
      while (next < n) await work(next++);
    }),
  );
  return (performance.now() - start) / 1000;
}

async function commitsPerSecond(target: Target, n: number): Promise<number> {
  const { store, done } = await open(target);
  const secs = await runConcurrently(n, (i) => store.commit(acceptUnit(`o-${i}`)));
  await done();
  return Math.round(n / secs);
}

/** Orders/s, and how many µs per order the event loop was busy (ELU active time): what HTTP loses. */
async function ordersPerSecond(target: Target): Promise<string> {
  const { store, done } = await open(target);
  const elu0 = performance.eventLoopUtilization();
  const secs = await runConcurrently(units, async (i) => {
    const id = `o-${i}`;
    await store.getCustomer('c1');
    await store.getProducts(['SKU-1', 'SKU-2']);
    await store.getPriceAgreements('c1', ['SKU-1', 'SKU-2'], '2025-06-01');
    await store.getInventory(['SKU-1', 'SKU-2']);
    await store.commit(acceptUnit(id));
    await store.commit({
      order: { next: { ...order(id), version: 2, state: 'accepted' }, expectedVersion: 1 },
      timeline: [timeline(id, 'erp-created')],
      events: [event(id, 'order.status_changed.v1')],
    });
  });
  const busy = performance.eventLoopUtilization(elu0).active;
  await done();
  return `${Math.round(units / secs)}/s, event loop busy ${Math.round((busy * 1000) / units)} µs/order`;
}

async function deliveriesPerSecond(target: Target): Promise<number> {
  const { store, done } = await open(target);
  await store.putSubscriptions([
    { name: 'crm', types: [], ordering: 'strict', active: true },
    { name: 'portal', types: [], ordering: 'skip_parked', active: false },
  ]);
  for (let i = 0; i < deliveryCount; i += 500) {
    await store.commit({ events: Array.from({ length: 500 }, (_, j) => event(`k${(i + j) % 1000}`)) });
  }
  const start = performance.now();
  let drained = 0;
  for (;;) {
    const batch = await store.claimDeliveries('crm', {
      limit: 1000,
      leaseMs: 30_000,
      now: new Date(Date.now() + 1000),
      owner: 'bench',
    });
    if (batch.length === 0) break;
    await store.completeDeliveries(batch.map((d) => d.id));
    drained += batch.length;
  }
  const secs = (performance.now() - start) / 1000;
  await done();
  if (drained !== deliveryCount) throw new Error(`drained ${drained} of ${deliveryCount}`);
  return Math.round(drained / secs);
}

const sqlite = (
  synchronous: 'FULL' | 'NORMAL',
  groupCommit: boolean,
  writer: 'worker' | 'inline' = 'worker',
): Target => ({ backend: 'sqlite', synchronous, groupCommit, writer });
const single = Math.min(units, 5000);
const results: Record<string, number | string> = {
  sqlite_commits_per_s_FULL_single_inline: await commitsPerSecond(sqlite('FULL', false, 'inline'), single),
  sqlite_commits_per_s_FULL_group_inline: await commitsPerSecond(sqlite('FULL', true, 'inline'), units),
  sqlite_commits_per_s_FULL_group_worker: await commitsPerSecond(sqlite('FULL', true), units),
  sqlite_commits_per_s_NORMAL_single_inline: await commitsPerSecond(
    sqlite('NORMAL', false, 'inline'),
    single,
  ),
  sqlite_commits_per_s_NORMAL_group_inline: await commitsPerSecond(sqlite('NORMAL', true, 'inline'), units),
  sqlite_commits_per_s_NORMAL_group_worker: await commitsPerSecond(sqlite('NORMAL', true), units),
  sqlite_orders_FULL_4_reads_2_commits_inline: await ordersPerSecond(sqlite('FULL', true, 'inline')),
  sqlite_orders_FULL_4_reads_2_commits_worker: await ordersPerSecond(sqlite('FULL', true)),
  sqlite_deliveries_per_s_FULL_batch_1000_inline: await deliveriesPerSecond(sqlite('FULL', true, 'inline')),
  sqlite_deliveries_per_s_FULL_batch_1000_worker: await deliveriesPerSecond(sqlite('FULL', true)),
};
if (values.pg) {
  const target: Target = { backend: 'postgres', url: values.pg };
  results['postgres_commits_per_s_pool_16'] = await commitsPerSecond(target, single);
  results['postgres_deliveries_per_s_batch_1000'] = await deliveriesPerSecond(target);
}
console.log(JSON.stringify({ units, inflight, deliveries: deliveryCount, ...results }, null, 2));
