/**
 * Test support for the event backbone: a manual clock and real stores (SQLite in memory, a
 * SQLite file, PostgreSQL on 127.0.0.1 in a fresh schema per store) — never mocks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Clock, Store } from '../../src/ports/index.js';
import { createStore } from '../../src/storage/index.js';

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  private ms: number;
  constructor(start = '2025-03-03T09:00:00.000Z') {
    this.ms = Date.parse(start);
  }
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** Backends the integration suites run against. */
export type TestBackend = 'sqlite-memory' | 'sqlite-file' | 'postgres';

/** PostgreSQL of the test machine (trust auth). */
export const pgUrl = process.env.CROSSDOCK_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** An opened store and how to dispose of it. */
export interface TestStore {
  store: Store;
  dispose: () => Promise<void>;
}

/** Opens a migrated store of that backend, isolated from every other test. */
export async function openTestStore(backend: TestBackend, clock?: Clock): Promise<TestStore> {
  if (backend === 'sqlite-memory') {
    const store = await createStore({ url: ':memory:', ...(clock ? { clock } : {}) });
    return { store, dispose: () => store.close() };
  }
  if (backend === 'sqlite-file') {
    const dir = mkdtempSync(join(tmpdir(), 'crossdock-events-'));
    const store = await createStore({ dataDir: dir, synchronous: 'NORMAL', ...(clock ? { clock } : {}) });
    return {
      store,
      dispose: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `events_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const store = await createStore({ url: pgUrl, schema, poolSize: 4, ...(clock ? { clock } : {}) });
  return {
    store,
    dispose: async () => {
      await store.close();
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/** All backends, for `describe.each`. */
export const backends: TestBackend[] = ['sqlite-memory', 'sqlite-file', 'postgres'];
