/**
 * The group writer when SQLite rolls a group's transaction back by itself (it does on an I/O
 * error or a full disk): the units after that point must not be applied one by one, each in a
 * transaction of its own, while the group reports them failed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import type { ApiKeyRecord } from '../../ports/index.js';
import { run } from '../core/sql.js';
import { type WriteOpName, writeOps } from '../core/write-ops.js';
import { applySqliteMigrations, Connection, GroupWriter, type WriteRequest } from './group-writer.js';
import { sqliteMigrations } from './migrations/index.js';

const dirs: string[] = [];
const fakeOp = '__rollbackForTest' as WriteOpName;
afterEach(() => {
  delete (writeOps as Record<string, unknown>)[fakeOp];
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const key = (id: string): ApiKeyRecord => ({
  id,
  name: id,
  secretHash: `hash-${id}`,
  scopes: [],
  rateLimit: 0,
  createdAt: '2026-01-01T00:00:00.000Z',
  revokedAt: null,
});

test('When SQLite rolls the group back mid-way, no later unit is applied and every unit is reported failed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crossdock-group-'));
  dirs.push(dir);
  const conn = new Connection({ filename: join(dir, 'g.db'), synchronous: 'NORMAL', busyTimeoutMs: 100 });
  try {
    applySqliteMigrations(conn.db, sqliteMigrations);
    // Stands in for the automatic rollback SQLite performs on SQLITE_IOERR / SQLITE_FULL.
    (writeOps as Record<string, unknown>)[fakeOp] = function* () {
      yield* run('ROLLBACK');
    };
    const writer = new GroupWriter(conn, { full: false, maxGroup: 10 });
    const req = (id: number, op: WriteOpName, args: unknown[]): WriteRequest => ({
      id,
      op,
      args,
      now: Date.now(),
    });
    const { outcomes } = writer.runNext([
      req(1, 'putApiKey', [key('before')]),
      req(2, fakeOp, []),
      req(3, 'putApiKey', [key('after')]),
    ]);
    expect(outcomes.map((o) => o.ok)).toEqual([false, false, false]);
    expect(conn.db.prepare('SELECT id FROM api_keys').all()).toEqual([]);
  } finally {
    conn.close();
  }
});
