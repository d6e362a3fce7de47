import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, test } from 'vitest';
import { CrossdockError } from '../../domain/index.js';
import { event, order, product } from '../contract/fixtures.js';
import { storeContract } from '../contract/store-contract.js';
import { createStore } from '../index.js';
import { sqliteMigrations } from './migrations/index.js';
import { SqliteStore } from './sqlite-store.js';

storeContract('SQLite in memory (inline writer)', {
  open: () => createStore({ url: ':memory:' }),
  propertyRuns: Number(process.env['CROSSDOCK_PROPERTY_RUNS'] ?? 60),
});

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dataDir = mkdtempSync(join(tmpdir(), 'crossdock-sqlite-'));
  dirs.push(dataDir);
  return dataDir;
}

storeContract('SQLite file, inline writer (WAL, synchronous=NORMAL, two connections)', {
  open: () => createStore({ dataDir: tempDir(), synchronous: 'NORMAL', writer: 'inline' }),
  openPeer: async (store) => {
    const filename = (store as SqliteStore).filename;
    return new SqliteStore({ filename, synchronous: 'NORMAL', writer: 'inline' });
  },
  propertyRuns: 15,
});

storeContract('SQLite file, writer thread (WAL, synchronous=FULL, two connections)', {
  open: () => createStore({ dataDir: tempDir() }),
  openPeer: async (store) => new SqliteStore({ filename: (store as SqliteStore).filename }),
  propertyRuns: 15,
});

describe('SQLite store specifics', () => {
  test('A store opened without migrating reports not ready until migrate() applies every version', async () => {
    const store = await createStore({ url: ':memory:', migrate: false });
    try {
      const latest = sqliteMigrations.at(-1)!.version;
      expect(latest).toBeGreaterThanOrEqual(7);
      expect(await store.ready()).toEqual({ ok: false, schemaVersion: 0, latestVersion: latest });
      expect(await store.migrate()).toEqual(sqliteMigrations.map((m) => m.version));
      expect(await store.ready()).toEqual({ ok: true, schemaVersion: latest, latestVersion: latest });
    } finally {
      await store.close();
    }
  });

  test('createStore puts crossdock.db in the data dir, and the data survives reopening', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'crossdock-sqlite-'));
    dirs.push(dataDir);
    const first = await createStore({ dataDir: join(dataDir, 'nested') });
    await first.commit({ order: { next: order('o1'), expectedVersion: null } });
    await first.close();
    expect(existsSync(join(dataDir, 'nested', 'crossdock.db'))).toBe(true);
    const second = await createStore({ dataDir: join(dataDir, 'nested') });
    try {
      expect(second.backend).toBe('sqlite');
      expect((await second.getOrder('o1'))?.id).toBe('o1');
    } finally {
      await second.close();
    }
  });

  test('Commits queued in one event-loop turn share one transaction yet fail one by one', async () => {
    const store = new SqliteStore({ filename: ':memory:' });
    await store.migrate();
    try {
      const results = await Promise.allSettled([
        store.commit({ order: { next: order('a'), expectedVersion: null } }),
        store.commit({ order: { next: order('a'), expectedVersion: null } }),
        store.commit({ order: { next: order('b'), expectedVersion: null } }),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((await store.listOrders({})).map((o) => o.id)).toEqual(['a', 'b']);
    } finally {
      await store.close();
    }
  });

  test('More commits in one turn than fit one group are split over several transactions, all committed', async () => {
    const store = new SqliteStore({ filename: ':memory:' });
    await store.migrate();
    try {
      const results = await Promise.all(
        Array.from({ length: 1_200 }, (_, i) =>
          store.commit({ order: { next: order(`o${i}`), expectedVersion: null } }),
        ),
      );
      expect(results.every((r) => r.status === 'committed')).toBe(true);
      expect(await store.countOrders()).toEqual([{ state: 'received', holdReason: null, count: 1_200 }]);
    } finally {
      await store.close();
    }
  });

  test('Closing the store flushes commits still waiting for their group', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'crossdock-sqlite-'));
    dirs.push(dataDir);
    const store = await createStore({ dataDir });
    const pending = store.commit({ order: { next: order('late'), expectedVersion: null } });
    await store.close();
    expect((await pending).status).toBe('committed');
    const again = await createStore({ dataDir });
    expect(await again.getOrder('late')).not.toBeNull();
    await again.close();
  });

  test('A database file that cannot be opened is reported as a downstream outage', () => {
    let caught: unknown;
    try {
      new SqliteStore({ filename: join(tmpdir(), 'no-such-dir-crossdock', 'x.db') });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CrossdockError);
    expect((caught as CrossdockError).kind).toBe('downstream_outage');
  });

  test('Writes queued in one turn reach the writer thread in order, also across the sends made every 16 queued writes', async () => {
    const store = await createStore({ dataDir: tempDir() });
    try {
      // 50 inserts, each followed in the same turn by an update that needs it: pairs straddle
      // the points where the queue is sent early, so any reordering shows as a conflict.
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 50; i++) {
        const o = order(`eager${i}`);
        writes.push(store.commit({ order: { next: o, expectedVersion: null } }));
        writes.push(
          store.commit({ order: { next: { ...o, version: 2, state: 'accepted' }, expectedVersion: 1 } }),
        );
      }
      const results = await Promise.allSettled(writes);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      const orders = await store.listOrders({ limit: 500 });
      expect(orders.filter((o) => o.id.startsWith('eager')).map((o) => [o.version, o.state])).toEqual(
        Array.from({ length: 50 }, () => [2, 'accepted']),
      );
    } finally {
      await store.close();
    }
  });

  test('File stores write on a writer thread by default, while :memory: stores write inline', async () => {
    const file = await createStore({ dataDir: tempDir() });
    const memory = await createStore({ url: ':memory:' });
    try {
      expect((file as SqliteStore).writerMode).toBe('worker');
      expect((memory as SqliteStore).writerMode).toBe('inline');
    } finally {
      await file.close();
      await memory.close();
    }
  });

  test('A read on the main connection sees every write whose promise has resolved on the writer thread', async () => {
    const store = await createStore({ dataDir: tempDir() });
    try {
      for (let i = 0; i < 100; i++) {
        await store.commit({ order: { next: order(`ryw${i}`), expectedVersion: null } });
        expect((await store.getOrder(`ryw${i}`))?.id).toBe(`ryw${i}`);
        await store.upsertProducts([product(`SKU-${i}`)]);
        expect((await store.getProducts([`SKU-${i}`])).has(`SKU-${i}`)).toBe(true);
      }
      const ids = Array.from({ length: 300 }, (_, i) => `burst${i}`);
      await Promise.all(ids.map((id) => store.commit({ order: { next: order(id), expectedVersion: null } })));
      for (const id of ids) expect(await store.getOrder(id)).not.toBeNull();
    } finally {
      await store.close();
    }
  });

  test('Errors from the writer thread arrive as CrossdockError with the same kind and details', async () => {
    const store = await createStore({ dataDir: tempDir() });
    try {
      await store.commit({ order: { next: order('dup'), expectedVersion: null } });
      const conflict = await store
        .commit({ order: { next: order('dup'), expectedVersion: null } })
        .catch((e: unknown) => e);
      expect(conflict).toBeInstanceOf(CrossdockError);
      expect((conflict as CrossdockError).kind).toBe('conflict');
      expect((conflict as CrossdockError).details).toEqual({ orderId: 'dup' });
      const missing = await store
        .actOnException('nope', 'retry', { actor: 'a', action: 'retry', target: 'nope', detail: {}, at: 'x' })
        .catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(CrossdockError);
      expect((missing as CrossdockError).kind).toBe('data_quality');
      expect((missing as CrossdockError).details).toEqual({ id: 'nope', notFound: true });
    } finally {
      await store.close();
    }
  });

  test('A crashed writer thread fails pending and later writes with downstream_outage instead of hanging', async () => {
    const store = await createStore({ dataDir: tempDir() });
    const worker = (store as unknown as { worker: { terminate(): Promise<number> } }).worker;
    const pending = store.commit({ order: { next: order('lost'), expectedVersion: null } });
    await worker.terminate();
    const first = await pending.catch((e: unknown) => e);
    expect(first).toBeInstanceOf(CrossdockError);
    expect((first as CrossdockError).kind).toBe('downstream_outage');
    const later = await store.upsertProducts([product('SKU-X')]).catch((e: unknown) => e);
    expect((later as CrossdockError).kind).toBe('downstream_outage');
    expect((await store.ready()).ok).toBe(false);
    await store.close();
  });

  test('Closing a store commits every write still in flight on the writer thread', async () => {
    const dataDir = tempDir();
    const store = await createStore({ dataDir });
    const writes = Array.from({ length: 700 }, (_, i) =>
      store.commit({ order: { next: order(`c${i}`), expectedVersion: null } }),
    );
    await store.close();
    expect((await Promise.all(writes)).every((r) => r.status === 'committed')).toBe(true);
    const again = await createStore({ dataDir, writer: 'inline' });
    try {
      expect(await again.countOrders()).toEqual([{ state: 'received', holdReason: null, count: 700 }]);
    } finally {
      await again.close();
    }
  });

  describe('cursor fan-out', () => {
    /** A file store plus a second, read-only connection to count what it wrote. */
    async function openWithPeek(): Promise<{
      store: SqliteStore;
      rows: (sql: string) => number;
      close: () => Promise<void>;
    }> {
      const store = (await createStore({ dataDir: tempDir() })) as SqliteStore;
      const peek = new Database(store.filename, { readonly: true });
      return {
        store,
        rows: (sql) => (peek.prepare(sql).get() as { n: number }).n,
        close: async () => {
          peek.close();
          await store.close();
        },
      };
    }
    const subs = [
      { name: 'a', types: [], ordering: 'strict' as const, active: true },
      { name: 'b', types: ['order.'], ordering: 'skip_parked' as const, active: true },
    ];
    const lease = (owner: string, now = new Date()) => ({ limit: 100, leaseMs: 30_000, now, owner });

    test('Events are handed out from the outbox: a commit writes no delivery rows, a claim one block, completion nothing', async () => {
      const { store, rows, close } = await openWithPeek();
      try {
        await store.putSubscriptions(subs);
        await store.commit({
          events: [event('k1', 'order.accepted.v1'), event('k1', 'shipment.milestone.v1'), event('k2')],
        });
        expect(rows('SELECT COUNT(*) AS n FROM deliveries')).toBe(0);
        expect((await store.subscriptionStats()).map((s) => [s.name, s.pending])).toEqual([
          ['a', 3],
          ['b', 2],
        ]);
        const a = await store.claimDeliveries('a', lease('w1'));
        expect(a.map((d) => d.key)).toEqual(['k1', 'k1', 'k2']);
        expect(rows("SELECT COUNT(*) AS n FROM delivery_blocks WHERE subscription = 'a'")).toBe(1);
        await store.completeDeliveries(a.map((d) => d.id));
        const b = await store.claimDeliveries('b', lease('w1'));
        expect(b.map((d) => d.event.type)).toEqual(['order.accepted.v1', 'order.status_changed.v1']);
        await store.completeDeliveries(b.map((d) => d.id));
        expect(rows('SELECT COUNT(*) AS n FROM deliveries')).toBe(0);
        expect(rows('SELECT COUNT(*) AS n FROM delivery_blocks')).toBe(0);
        expect(
          (await store.subscriptionStats()).map((s) => [s.name, s.pending, s.leased, s.delivered]),
        ).toEqual([
          ['a', 0, 0, 3],
          ['b', 0, 0, 2],
        ]);
      } finally {
        await close();
      }
    });

    test('A failure becomes a row that keeps later events of its key behind it; other keys stay on the cursor', async () => {
      const { store, rows, close } = await openWithPeek();
      try {
        await store.putSubscriptions([subs[0]!]);
        await store.commit({ events: [event('k1'), event('k2')] });
        const [k1, k2] = await store.claimDeliveries('a', lease('w1'));
        const retryAt = new Date(Date.now() + 60_000);
        await store.failDeliveries([{ id: k1!.id, error: { message: 'down' }, nextAttemptAt: retryAt }]);
        await store.completeDeliveries([k2!.id]);
        await store.commit({ events: [event('k1'), event('k2')] });
        const next = await store.claimDeliveries('a', lease('w1'));
        // k1's new event waits behind its retry (now a row); k2's goes out from the cursor.
        expect(next.map((d) => d.key)).toEqual(['k2']);
        expect(rows("SELECT COUNT(*) AS n FROM deliveries WHERE key = 'k1'")).toBe(2);
        await store.completeDeliveries(next.map((d) => d.id));
        const due = await store.claimDeliveries('a', lease('w1', new Date(retryAt.getTime() + 1)));
        expect(due.map((d) => [d.key, d.attempts])).toEqual([
          ['k1', 1],
          ['k1', 0],
        ]);
        expect(due[0]).toMatchObject({ eventSeq: k1!.eventSeq, firstError: { message: 'down' } });
      } finally {
        await close();
      }
    });

    test('Claimed events equal what was committed, whether the claimer committed them (kept in memory) or not (read from the outbox)', async () => {
      const { store, close } = await openWithPeek();
      const peer = new SqliteStore({ filename: store.filename });
      try {
        await store.putSubscriptions(subs);
        const events = [event('k1', 'order.accepted.v1'), event('k2', 'order.held.v1')];
        await store.commit({ events });
        const own = await store.claimDeliveries('a', lease('w1'));
        const other = await peer.claimDeliveries('b', lease('w2'));
        expect(own.map((d) => d.event)).toEqual(events);
        expect(other.map((d) => d.event)).toEqual(events);
      } finally {
        await peer.close();
        await close();
      }
    });

    test('A late completion by a claimer whose lease ran out never touches a later row: row ids are not reused', async () => {
      const { store, close } = await openWithPeek();
      try {
        await store.putSubscriptions([subs[0]!]);
        await store.commit({ events: [event('k1')] });
        const [b] = await store.claimDeliveries('a', lease('w1'));
        await store.releaseDeliveries([b!.id]); // now a row
        const [mine] = await store.claimDeliveries('a', lease('w1'));
        const [theirs] = await store.claimDeliveries('a', lease('w2', new Date(Date.now() + 60_000)));
        expect(theirs!.id).toBe(mine!.id);
        await store.completeDeliveries([theirs!.id]); // the table is empty again
        await store.commit({ events: [event('k2')] });
        const [k2] = await store.claimDeliveries('a', lease('w2', new Date(Date.now() + 60_000)));
        const retryAt = new Date(Date.now() + 120_000);
        await store.failDeliveries([{ id: k2!.id, error: { message: 'down' }, nextAttemptAt: retryAt }]);
        await store.completeDeliveries([mine!.id]); // w1, late
        const again = await store.claimDeliveries('a', lease('w2', new Date(retryAt.getTime() + 1)));
        expect(again.map((d) => [d.key, d.attempts])).toEqual([['k2', 1]]);
        expect(again[0]!.id).not.toBe(mine!.id);
      } finally {
        await close();
      }
    });

    test('Changing the types of an active subscription keeps what it had under the old types and applies the new ones to later events only', async () => {
      const { store, close } = await openWithPeek();
      try {
        await store.putSubscriptions([subs[1]!]); // b: order.*
        await store.commit({
          events: [event('k1', 'order.accepted.v1'), event('k1', 'shipment.milestone.v1')],
        });
        await store.putSubscriptions([{ ...subs[1]!, types: ['shipment.'] }]);
        await store.commit({
          events: [event('k2', 'order.accepted.v1'), event('k2', 'shipment.milestone.v1')],
        });
        const claimed = await store.claimDeliveries('b', lease('w1'));
        expect(claimed.map((d) => [d.key, d.event.type])).toEqual([
          ['k1', 'order.accepted.v1'],
          ['k2', 'shipment.milestone.v1'],
        ]);
      } finally {
        await close();
      }
    });

    test("A delivery's age counts from when it was first handed out, not from the producer's event time", async () => {
      const { store, close } = await openWithPeek();
      try {
        await store.putSubscriptions([subs[0]!]);
        await store.commit({ events: [event('k1', 'order.accepted.v1', '2001-01-01T00:00:00.000Z')] });
        const now = new Date();
        const [d] = await store.claimDeliveries('a', lease('w1', now));
        expect(d!.createdAt).toBe(now.toISOString());
        await store.failDeliveries([{ id: d!.id, error: { message: 'down' }, nextAttemptAt: new Date(0) }]);
        const [again] = await store.claimDeliveries('a', lease('w1', new Date(now.getTime() + 1)));
        expect(again).toMatchObject({ attempts: 1, createdAt: now.toISOString() });
      } finally {
        await close();
      }
    });

    test('An inactive subscription is handed nothing from the cursor, and a replay to it waits for its re-activation', async () => {
      const { store, close } = await openWithPeek();
      try {
        await store.putSubscriptions([{ ...subs[0]!, active: false }]);
        const r = await store.commit({ events: [event('k1')] });
        expect(await store.claimDeliveries('a', lease('w1'))).toEqual([]);
        const seqs = r.status === 'committed' ? r.eventSeqs : [];
        expect(await store.enqueueDeliveries('a', seqs)).toBe(1);
        await store.putSubscriptions([subs[0]!]);
        expect((await store.claimDeliveries('a', lease('w1'))).map((d) => d.eventSeq)).toEqual(seqs);
      } finally {
        await close();
      }
    });

    test('A subscription created or re-activated later starts at the end of the outbox', async () => {
      const { store, close } = await openWithPeek();
      try {
        await store.commit({ events: [event('k0')] });
        await store.putSubscriptions([subs[0]!]);
        await store.commit({ events: [event('k1')] });
        await store.putSubscriptions([{ ...subs[0]!, active: false }]);
        await store.commit({ events: [event('k2')] });
        await store.putSubscriptions([subs[0]!]);
        await store.commit({ events: [event('k3')] });
        expect((await store.claimDeliveries('a', lease('w1'))).map((d) => d.key)).toEqual(['k1', 'k3']);
      } finally {
        await close();
      }
    });
  });
});
