import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { CrossdockError } from '../../domain/index.js';
import { order, product } from '../contract/fixtures.js';
import { storeContract } from '../contract/store-contract.js';
import { createStore } from '../index.js';
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
      expect(await store.ready()).toEqual({ ok: false, schemaVersion: 0, latestVersion: 3 });
      expect(await store.migrate()).toEqual([1, 2, 3]);
      expect(await store.ready()).toEqual({ ok: true, schemaVersion: 3, latestVersion: 3 });
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
});
