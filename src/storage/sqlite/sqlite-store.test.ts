import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { CrossdockError } from '../../domain/index.js';
import { order } from '../contract/fixtures.js';
import { storeContract } from '../contract/store-contract.js';
import { createStore } from '../index.js';
import { SqliteStore } from './sqlite-store.js';

storeContract('SQLite in memory', {
  open: () => createStore({ url: ':memory:' }),
  propertyRuns: Number(process.env['CROSSDOCK_PROPERTY_RUNS'] ?? 60),
});

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

storeContract('SQLite file (WAL, synchronous=NORMAL, two connections)', {
  open: () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'crossdock-sqlite-'));
    dirs.push(dataDir);
    return createStore({ dataDir, synchronous: 'NORMAL' });
  },
  openPeer: async (store) => {
    const filename = (store as SqliteStore).filename;
    return new SqliteStore({ filename, synchronous: 'NORMAL' });
  },
  propertyRuns: 25,
});

describe('SQLite store specifics', () => {
  test('A store opened without migrating reports not ready until migrate() applies every version', async () => {
    const store = await createStore({ url: ':memory:', migrate: false });
    try {
      expect(await store.ready()).toEqual({ ok: false, schemaVersion: 0, latestVersion: 2 });
      expect(await store.migrate()).toEqual([1, 2]);
      expect(await store.ready()).toEqual({ ok: true, schemaVersion: 2, latestVersion: 2 });
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
});
