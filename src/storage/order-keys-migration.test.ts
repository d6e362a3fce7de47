/**
 * Migration 6 (`order-keys`) on a database that already holds orders, SQLite and PostgreSQL:
 * the quote key and PO number are filled in from the documents, duplicates made before the fix
 * leave the oldest live order holding the quote (so the unique index can be built), and from then
 * on a second order of a quote is refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';
import type { SalesOrder } from '../domain/index.js';
import type { Store } from '../ports/index.js';
import { order } from './contract/fixtures.js';
import type { OrderKeyLookups } from './contract/store-contract.js';
import { createStore } from './index.js';
import { postgresMigrations } from './postgres/migrations/index.js';
import { sqliteMigrations } from './sqlite/migrations/index.js';

const pgUrl = process.env['CROSSDOCK_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const quote = { system: 'crm' as const, ref: 'Q-OLD' };

/** Orders as a version-5 hub stored them: two live orders of one quote (the bug), one rejected. */
const legacy: SalesOrder[] = [
  order('dup-b', { source: quote, createdAt: '2025-01-15T10:00:02.000Z', poNumber: 'PO-1' }),
  order('dup-a', { source: quote, createdAt: '2025-01-15T10:00:01.000Z', state: 'accepted' }),
  order('dup-r', { source: quote, createdAt: '2025-01-15T10:00:00.000Z', state: 'rejected' }),
  order('plain', { source: { system: 'crm', ref: 'plain' } }),
];

const row = (o: SalesOrder) => [
  o.id,
  o.version,
  o.state,
  o.customerId,
  null,
  o.createdAt,
  o.updatedAt,
  JSON.stringify(o),
];
const insertV5 =
  'INSERT INTO orders (id, version, state, customer_id, hold_reason, created_at, updated_at, doc) VALUES ';

async function expectUpgraded(store: Store): Promise<void> {
  const lookups = store as Store & OrderKeyLookups;
  expect((await lookups.findOrderBySource('crm', 'Q-OLD'))?.id).toBe('dup-a');
  expect((await lookups.findOrdersByPo('c1', 'PO-1')).map((o) => o.id)).toEqual(['dup-b']);
  await expect(
    store.commit({ order: { next: order('dup-new', { source: quote }), expectedVersion: null } }),
  ).rejects.toMatchObject({ kind: 'conflict', details: { existingOrderId: 'dup-a' } });
  // The legacy duplicate is still there, untouched otherwise.
  expect((await store.getOrder('dup-b'))?.state).toBe('received');
}

describe('migration 6 over orders stored before it', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('SQLite: keys filled from the documents, the oldest live duplicate keeps the quote, later ones are refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crossdock-mig6-'));
    dirs.push(dir);
    const db = new Database(join(dir, 'crossdock.db'));
    db.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    for (const m of sqliteMigrations.filter((m) => m.version <= 5)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2025-01-01');
    }
    for (const o of legacy) db.prepare(`${insertV5}(?, ?, ?, ?, ?, ?, ?, ?)`).run(...row(o));
    db.close();
    const store = await createStore({ dataDir: dir, synchronous: 'NORMAL', writer: 'inline' });
    try {
      expect((await store.ready()).schemaVersion).toBe(sqliteMigrations.at(-1)!.version);
      await expectUpgraded(store);
    } finally {
      await store.close();
    }
  });

  test('PostgreSQL: the same upgrade', async () => {
    const schema = `cd_mig6_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA ${schema}`);
      await admin.query(`SET search_path = ${schema}`);
      await admin.query(
        'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
      );
      for (const m of postgresMigrations.filter((m) => m.version <= 5)) {
        await admin.query(m.sql);
        await admin.query('INSERT INTO schema_migrations VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          '2025-01-01',
        ]);
      }
      for (const o of legacy) await admin.query(`${insertV5}($1, $2, $3, $4, $5, $6, $7, $8)`, row(o));
      const store = await createStore({ url: pgUrl, schema });
      try {
        expect((await store.ready()).schemaVersion).toBe(postgresMigrations.at(-1)!.version);
        await expectUpgraded(store);
      } finally {
        await store.close();
      }
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    }
  });
});
