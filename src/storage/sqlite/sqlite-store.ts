/**
 * SQLite backend (better-sqlite3, WAL): the embedded default, zero set-up.
 *
 * Group commit: `commit()` does not write at once. Units arriving in the same event-loop turn are
 * queued and flushed by one `setImmediate` as ONE transaction, each unit inside its own SAVEPOINT
 * (a nested better-sqlite3 transaction), so a unit that conflicts rolls back alone while the
 * others share one WAL fsync. `setImmediate` rather than `queueMicrotask`: the check phase runs
 * after libuv has handed over every socket that was readable in this turn, so concurrent HTTP
 * requests land in the same group; a microtask would flush after each request.
 *
 * Measured with `npx tsx src/storage/bench/commit-bench.ts` on the 2-core dev box, file DB, WAL,
 * 256 commits in flight, each unit ~15 rows (order insert + 3 journal + 3 timeline + 1 event
 * fanned out to 2 subscriptions + 2 inventory reservations + idempotency record). Two runs: other
 * test suites were running in both (load average ~2.4, and ~5 in the slower figure):
 *   synchronous=FULL,   one transaction per commit:   2,800 commits/s  (1,100 loaded)
 *   synchronous=FULL,   group commit:                18,000 commits/s (10,600 loaded)
 *   synchronous=NORMAL, one transaction per commit:   5,500 commits/s  (2,400 loaded)
 *   synchronous=NORMAL, group commit:                20,400 commits/s (13,800 loaded)
 *   whole order (4 reads + 2 commits), FULL + group:  9,300 orders/s   (6,200 loaded)
 * So FULL (power-loss durable) is the default: with group commit it costs ~10% against NORMAL,
 * and both are 4–6× one-transaction-per-commit. In memory the SQL itself is ~60 µs per order
 * (outbox and order inserts ~5 µs each, every other row ~2 µs).
 */
import Database from 'better-sqlite3';
import type { ClaimOptions, CommitResult, CommitUnit, Delivery } from '../../ports/index.js';
import { type Clock, systemClock } from '../../ports/index.js';
import { type CommitContext, commitUnit } from '../core/commit.js';
import { claimDeliveries, completeDeliveries, releaseDeliveries } from '../core/deliveries.js';
import { mapSqliteError } from '../core/errors.js';
import type { Migration } from '../core/migration.js';
import { type Op, sqliteDialect, type Txn } from '../core/sql.js';
import { SqlStore } from '../core/sql-store.js';
import { sqliteMigrations } from './migrations/index.js';

/** How to open a SQLite store. */
export interface SqliteStoreOptions {
  /** A file path, or `:memory:`. */
  filename: string;
  /** `FULL` (default) survives power loss; `NORMAL` survives a killed process only. */
  synchronous?: 'FULL' | 'NORMAL';
  /** Group concurrent commits into one transaction (default true); off only for measurements. */
  groupCommit?: boolean;
  /** How long a writer waits for another connection's lock (default 5,000 ms). */
  busyTimeoutMs?: number;
  clock?: Clock;
}

/**
 * Most units per group transaction: bounds how long one flush blocks the event loop (~60 µs of
 * SQL per unit, so ~30 ms) while keeping the fsync amortised over hundreds of units.
 */
const maxGroupSize = 500;

interface Pending {
  unit: CommitUnit;
  resolve: (r: CommitResult) => void;
  reject: (e: unknown) => void;
}

type Outcome = { ok: true; value: CommitResult } | { ok: false; error: unknown };

/** The embedded `Store`: one connection, cached prepared statements, group commit. */
export class SqliteStore extends SqlStore {
  readonly backend = 'sqlite' as const;
  protected readonly dialect = sqliteDialect;
  /** The database file (or `:memory:`), so a second connection can open the same file. */
  readonly filename: string;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly groupCommit: boolean;
  private readonly full: boolean;
  private queue: Pending[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly unitTransaction: (unit: CommitUnit, now: Date, ctx: CommitContext) => CommitResult;

  constructor(options: SqliteStoreOptions) {
    super(options.clock ?? systemClock);
    this.groupCommit = options.groupCommit ?? true;
    this.filename = options.filename;
    this.full = options.synchronous !== 'NORMAL';
    try {
      this.db = new Database(options.filename);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
      this.db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
      // No foreign keys: every reference is written by the shared core in the same transaction,
      // and FK checks would cost on the hottest path (deliveries → outbox).
      this.db.pragma('foreign_keys = OFF');
      this.db.pragma('temp_store = MEMORY');
    } catch (err) {
      throw mapSqliteError(err);
    }
    this.unitTransaction = this.db.transaction((unit: CommitUnit, now: Date, ctx: CommitContext) =>
      this.drive(commitUnit(this.dialect, unit, now, ctx)),
    );
  }

  private statement(sql: string): Database.Statement {
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
  private drive<T>(gen: Txn<T>): T {
    let step = gen.next();
    while (!step.done) step = gen.next(this.exec(step.value));
    return step.value;
  }

  protected read<T>(txn: () => Txn<T>): Promise<T> {
    try {
      return Promise.resolve(this.drive(txn()));
    } catch (err) {
      return Promise.reject(mapSqliteError(err));
    }
  }

  protected write<T>(txn: () => Txn<T>): Promise<T> {
    try {
      return Promise.resolve(this.db.transaction(() => this.drive(txn())).immediate());
    } catch (err) {
      return Promise.reject(mapSqliteError(err));
    }
  }

  /**
   * Runs delivery bookkeeping (claim, complete, release) with `synchronous=NORMAL` even when the
   * store runs FULL. Why it is safe: delivery is at-least-once by design, so losing the last
   * leases or completions to a power cut only means a redelivery that idempotency at the
   * destination absorbs; WAL frames are ordered, so the next FULL commit still makes them
   * durable. Why it matters: a claim and a complete each paid an fsync; at batches of 1,000 the
   * drain went from ~60k to ~130–170k deliveries/s on a file database (see the bench).
   */
  private writeRelaxed<T>(txn: () => Txn<T>): Promise<T> {
    if (!this.full) return this.write(txn);
    this.statement('PRAGMA synchronous = NORMAL').run();
    try {
      return this.write(txn);
    } finally {
      this.statement('PRAGMA synchronous = FULL').run();
    }
  }

  override claimDeliveries(subscription: string, options: ClaimOptions): Promise<Delivery[]> {
    return this.writeRelaxed(() => claimDeliveries(this.dialect, subscription, options));
  }

  override completeDeliveries(ids: string[]): Promise<void> {
    return this.writeRelaxed(() => completeDeliveries(this.dialect, ids));
  }

  override releaseDeliveries(ids: string[]): Promise<void> {
    return this.writeRelaxed(() => releaseDeliveries(this.dialect, ids));
  }

  override commit(unit: CommitUnit): Promise<CommitResult> {
    if (this.closed) return Promise.reject(mapSqliteError(new Error('store is closed')));
    if (!this.groupCommit) {
      const now = this.clock.now();
      return this.write(() => commitUnit(this.dialect, unit, now, {}));
    }
    return new Promise<CommitResult>((resolve, reject) => {
      this.queue.push({ unit, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits every queued unit in one transaction, one savepoint each. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue.splice(0, maxGroupSize);
    if (this.queue.length > 0) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    if (batch.length === 0) return;
    const now = this.clock.now();
    const outcomes: Outcome[] = [];
    try {
      this.db
        .transaction(() => {
          const ctx: CommitContext = {};
          for (const p of batch) {
            try {
              outcomes.push({ ok: true, value: this.unitTransaction(p.unit, now, ctx) });
            } catch (error) {
              outcomes.push({ ok: false, error });
            }
          }
        })
        .immediate();
    } catch (err) {
      const mapped = mapSqliteError(err);
      for (const p of batch) p.reject(mapped);
      return;
    }
    batch.forEach((p, i) => {
      const o = outcomes[i]!;
      if (o.ok) p.resolve(o.value);
      else p.reject(mapSqliteError(o.error));
    });
  }

  async migrate(): Promise<number[]> {
    try {
      return applySqliteMigrations(this.db, sqliteMigrations);
    } catch (err) {
      throw mapSqliteError(err);
    }
  }

  async ready(): Promise<{ ok: boolean; schemaVersion: number; latestVersion: number }> {
    const latestVersion = latestOf(sqliteMigrations);
    try {
      const table = this.db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
        .get();
      const schemaVersion = table
        ? Number(
            (this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null })
              .v ?? 0,
          )
        : 0;
      return { ok: schemaVersion === latestVersion, schemaVersion, latestVersion };
    } catch {
      return { ok: false, schemaVersion: 0, latestVersion };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.queue.length > 0) this.flush();
    this.closed = true;
    this.db.close();
  }
}

function latestOf(migrations: readonly Migration[]): number {
  return migrations.reduce((max, m) => Math.max(max, m.version), 0);
}

/** Applies missing migrations, each in its own immediate transaction (safe against a second process). */
function applySqliteMigrations(db: Database.Database, migrations: readonly Migration[]): number[] {
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
