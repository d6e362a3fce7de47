/**
 * PostgreSQL backend (`pg` Pool): for several hub processes sharing one database.
 *
 * Each write is one transaction on one pooled client; statements are named prepared statements
 * (parsed once per connection). Claims lock rows `FOR UPDATE SKIP LOCKED` (see the core's
 * `claimDeliveries` for how per-key order survives concurrent claimers). No group commit here:
 * concurrent commits already run on separate connections and PostgreSQL batches their WAL
 * flushes itself.
 */
import pg from 'pg';
import { type Clock, systemClock } from '../../ports/index.js';
import { mapPgError } from '../core/errors.js';
import type { Migration } from '../core/migration.js';
import { type Op, postgresDialect, type Txn, toDollarParams } from '../core/sql.js';
import { SqlStore } from '../core/sql-store.js';
import { postgresMigrations } from './migrations/index.js';

/** How to open a PostgreSQL store. */
export interface PostgresStoreOptions {
  /** `postgres://user@host:port/db`. */
  url: string;
  /** Schema to use (created if missing); default: the server's search_path (`public`). */
  schema?: string;
  /** Pool size (default 10). */
  max?: number;
  clock?: Clock;
}

/** Advisory lock id taken around migrations so two processes can start at once. */
const migrationLockId = 0x63726f73; // "cros"

interface Queryable {
  query(config: pg.QueryConfig): Promise<pg.QueryResult>;
}

/** The shared `Store` over a `pg` Pool. */
export class PostgresStore extends SqlStore {
  readonly backend = 'postgres' as const;
  protected readonly dialect = postgresDialect;
  private readonly pool: pg.Pool;
  private readonly schema: string | undefined;
  private readonly texts = new Map<string, { name: string; text: string }>();

  constructor(options: PostgresStoreOptions) {
    super(options.clock ?? systemClock);
    if (options.schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(options.schema)) {
      throw mapPgError(new Error(`invalid schema name ${options.schema}`));
    }
    this.schema = options.schema;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.max ?? 10,
      connectionTimeoutMillis: 5_000,
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    });
    // An idle client losing its connection must not crash the process; the next query reports it.
    this.pool.on('error', () => {});
  }

  private prepared(sql: string): { name: string; text: string } {
    let p = this.texts.get(sql);
    if (!p) {
      p = { name: `cd${this.texts.size}`, text: toDollarParams(sql) };
      this.texts.set(sql, p);
    }
    return p;
  }

  private async exec(q: Queryable, op: Op): Promise<unknown> {
    const p = this.prepared(op.sql);
    const res = await q.query({ name: p.name, text: p.text, values: op.params as unknown[] });
    if (op.kind === 'all') return res.rows;
    if (op.kind === 'get') return res.rows[0];
    return res.rowCount ?? 0;
  }

  private async drive<T>(q: Queryable, gen: Txn<T>): Promise<T> {
    let step = gen.next();
    while (!step.done) step = gen.next(await this.exec(q, step.value));
    return step.value;
  }

  protected async read<T>(txn: () => Txn<T>): Promise<T> {
    const client = await this.connect();
    try {
      return await this.drive(client, txn());
    } catch (err) {
      throw mapPgError(err);
    } finally {
      client.release();
    }
  }

  protected async write<T>(txn: () => Txn<T>): Promise<T> {
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await this.drive(client, txn());
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      }
      throw mapPgError(err);
    } finally {
      client.release(broken);
    }
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw mapPgError(err);
    }
  }

  async migrate(): Promise<number[]> {
    const client = await this.connect();
    try {
      // The lock comes first: even CREATE SCHEMA IF NOT EXISTS races on the catalog's unique index.
      await client.query('SELECT pg_advisory_lock($1)', [migrationLockId]);
      try {
        if (this.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
        return await applyPostgresMigrations(client, postgresMigrations);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [migrationLockId]);
      }
    } catch (err) {
      throw mapPgError(err);
    } finally {
      client.release();
    }
  }

  async ready(): Promise<{ ok: boolean; schemaVersion: number; latestVersion: number }> {
    const latestVersion = postgresMigrations.reduce((max, m) => Math.max(max, m.version), 0);
    try {
      const t = await this.pool.query("SELECT to_regclass('schema_migrations') AS t");
      if (!t.rows[0]?.t) return { ok: false, schemaVersion: 0, latestVersion };
      const v = await this.pool.query('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations');
      const schemaVersion = Number(v.rows[0]?.v ?? 0);
      return { ok: schemaVersion === latestVersion, schemaVersion, latestVersion };
    } catch {
      return { ok: false, schemaVersion: 0, latestVersion };
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Applies missing migrations, each in its own transaction; the caller holds the advisory lock. */
async function applyPostgresMigrations(
  client: pg.PoolClient,
  migrations: readonly Migration[],
): Promise<number[]> {
  await client.query(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
  );
  const done = await client.query('SELECT version FROM schema_migrations');
  const have = new Set(done.rows.map((r: { version: number }) => Number(r.version)));
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (have.has(m.version)) continue;
    await client.query('BEGIN');
    try {
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        new Date().toISOString(),
      ]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    }
    applied.push(m.version);
  }
  return applied;
}
