/**
 * The SQLite write path shared by both writer modes: a connection with cached statements, and a
 * group writer that commits a run of queued write operations as ONE transaction, each operation
 * in its own SAVEPOINT (a nested better-sqlite3 transaction), so one that fails rolls back alone
 * while the others share one WAL fsync.
 *
 * The same `GroupWriter` runs on the main thread (`writer: 'inline'`, and always for `:memory:`)
 * and on the writer thread (`sqlite-writer.ts`); only who calls it differs.
 */
import Database from 'better-sqlite3';
import { CrossdockError } from '../../domain/index.js';
import type { CommitContext } from '../core/commit.js';
import { mapSqliteError } from '../core/errors.js';
import type { Migration } from '../core/migration.js';
import { type Op, sqliteDialect, type Txn } from '../core/sql.js';
import { relaxedWriteOps, type WriteArgs, type WriteOpName, writeTxn } from '../core/write-ops.js';
import { sqliteMigrations } from './migrations/index.js';

/** How a connection is opened; plain data, so it can be handed to the writer thread. */
export interface ConnectionOptions {
  filename: string;
  synchronous: 'FULL' | 'NORMAL';
  busyTimeoutMs: number;
  /** A connection that must never write (the main thread's reader beside a writer thread). */
  queryOnly?: boolean;
  /**
   * WAL pages before this connection checkpoints by itself (SQLite's default is 1,000). The
   * writer thread raises it when a checkpointer thread does the work (see `SqliteStore`).
   */
  walAutocheckpoint?: number;
}

/**
 * Most operations per group transaction: bounds how long one group holds the write lock (~60 µs
 * of SQL per commit unit, so ~30 ms) while keeping the fsync amortised over hundreds of units.
 */
export const maxGroupSize = 500;

/** One queued write: an operation of `write-ops.ts` (or `migrate`) with its arguments, as data. */
export interface WriteRequest {
  id: number;
  op: WriteOpName | 'migrate';
  args: unknown[];
  /**
   * A commit unit bound for the writer thread travels as JSON text instead of `args`: the
   * structured clone of a ~15-row unit cost the main thread ~50 µs in `postMessage`, JSON text
   * far less (see `SqliteStore`). Only for units: they are JSON data by design, no Dates.
   */
  json?: string;
  /** The caller's clock reading (epoch ms) when the call was made. */
  now: number;
}

/** What one write came to; `error` is already a typed `CrossdockError` (mapped here). */
export type WriteOutcome = { ok: true; value: unknown } | { ok: false; error: CrossdockError };

/** A better-sqlite3 connection with the pragmas we rely on and a prepared-statement cache. */
export class Connection {
  readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  /** Throws a `downstream_outage` when the file cannot be opened. */
  constructor(options: ConnectionOptions) {
    try {
      this.db = new Database(options.filename);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.synchronous}`);
      this.db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs))}`);
      // No foreign keys: every reference is written by the shared core in the same transaction,
      // and FK checks would cost on the hottest path (deliveries → outbox).
      this.db.pragma('foreign_keys = OFF');
      this.db.pragma('temp_store = MEMORY');
      if (options.walAutocheckpoint !== undefined)
        this.db.pragma(`wal_autocheckpoint = ${Math.trunc(options.walAutocheckpoint)}`);
      if (options.queryOnly) this.db.pragma('query_only = ON');
    } catch (err) {
      throw mapSqliteError(err);
    }
  }

  /** The cached prepared statement for `sql`. */
  statement(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  private exec(op: Op): unknown {
    const st = this.statement(op.sql);
    const params = op.params as unknown[];
    if (op.kind === 'all') return st.all(...params);
    if (op.kind === 'get') return st.get(...params);
    return st.run(...params).changes;
  }

  /** Runs a core generator to completion synchronously. */
  drive<T>(gen: Txn<T>): T {
    let step = gen.next();
    while (!step.done) step = gen.next(this.exec(step.value));
    return step.value;
  }

  close(): void {
    this.db.close();
  }
}

/** Commits queued writes in groups: one transaction per group, one savepoint per write. */
export class GroupWriter {
  private readonly savepoint: (r: WriteRequest, ctx: CommitContext) => unknown;

  constructor(
    readonly conn: Connection,
    private readonly options: { full: boolean; maxGroup: number },
  ) {
    this.savepoint = conn.db.transaction((r: WriteRequest, ctx: CommitContext) =>
      conn.drive(
        writeTxn(
          sqliteDialect,
          r.op as WriteOpName,
          (r.json === undefined ? r.args : [JSON.parse(r.json)]) as WriteArgs<WriteOpName>,
          new Date(r.now),
          ctx,
        ),
      ),
    );
  }

  /**
   * Takes the next group off the front of `queue` (a `migrate` alone, else up to `maxGroup` other
   * writes), runs it, and returns the requests taken with their outcomes, in order.
   */
  runNext(queue: WriteRequest[]): { requests: WriteRequest[]; outcomes: WriteOutcome[] } {
    if (queue[0]?.op === 'migrate') {
      const requests = queue.splice(0, 1);
      try {
        return {
          requests,
          outcomes: [{ ok: true, value: applySqliteMigrations(this.conn.db, sqliteMigrations) }],
        };
      } catch (err) {
        return { requests, outcomes: [{ ok: false, error: mapSqliteError(err) }] };
      }
    }
    let n = 0;
    while (n < queue.length && n < this.options.maxGroup && queue[n]?.op !== 'migrate') n++;
    const requests = queue.splice(0, n);
    return { requests, outcomes: this.runGroup(requests) };
  }

  private runGroup(requests: WriteRequest[]): WriteOutcome[] {
    const db = this.conn.db;
    // A group of delivery bookkeeping only may skip the fsync (see `relaxedWriteOps`); any other
    // write in the group makes it FULL, and the WAL's ordering makes the earlier frames durable too.
    const relaxed = this.options.full && requests.every((r) => relaxedWriteOps.has(r.op as WriteOpName));
    if (relaxed) this.conn.statement('PRAGMA synchronous = NORMAL').run();
    const outcomes: WriteOutcome[] = [];
    try {
      db.transaction(() => {
        const ctx: CommitContext = {};
        for (const r of requests) {
          // SQLite rolls the whole transaction back by itself on some errors (I/O error, disk
          // full). A savepoint run after that would start and commit a transaction of its own,
          // which the group then reports as failed: a unit applied but answered as not applied.
          // So the rest of the group is not run; every unit of it fails, none is applied.
          if (!db.inTransaction) {
            outcomes.push({ ok: false, error: groupRolledBack() });
            continue;
          }
          try {
            outcomes.push({ ok: true, value: this.savepoint(r, ctx) });
          } catch (error) {
            outcomes.push({ ok: false, error: mapSqliteError(error) });
          }
        }
      }).immediate();
    } catch (err) {
      const error = mapSqliteError(err);
      return requests.map(() => ({ ok: false, error }));
    } finally {
      if (relaxed) this.conn.statement('PRAGMA synchronous = FULL').run();
    }
    return outcomes;
  }
}

/** A unit not run because SQLite had rolled its group back: retryable, nothing applied. */
function groupRolledBack(): CrossdockError {
  return CrossdockError.transient(
    'store: the group transaction was rolled back by SQLite; nothing of it was applied',
    {
      details: { backend: 'sqlite' },
    },
  );
}

/** The highest version among `migrations`. */
export function latestOf(migrations: readonly Migration[]): number {
  return migrations.reduce((max, m) => Math.max(max, m.version), 0);
}

/** Applies missing migrations, each in its own immediate transaction (safe against a second process). */
export function applySqliteMigrations(db: Database.Database, migrations: readonly Migration[]): number[] {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
  );
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    db.transaction(() => {
      const done = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version);
      if (done) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        new Date().toISOString(),
      );
      applied.push(m.version);
    }).immediate();
  }
  return applied;
}
