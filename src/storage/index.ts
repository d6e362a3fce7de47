/**
 * Storage: the two `Store` backends and the factory the composition root uses.
 *
 * Why a factory: configuration names a database by URL; `postgres://` selects PostgreSQL for
 * several processes, anything else is the embedded SQLite file under the data dir.
 */
import { join } from 'node:path';
import type { Clock, Store } from '../ports/index.js';
import { mapSqliteError } from './core/errors.js';
import { createPrivateFile, prepareDataDir } from './data-dir.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export { mapPgError, mapSqliteError } from './core/errors.js';
export type { Migration } from './core/migration.js';
export { createPrivateFile, type DataDirLock, lockDataDir, prepareDataDir } from './data-dir.js';
export { postgresMigrations } from './postgres/migrations/index.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.js';
export {
  appendArchive,
  type RetentionPolicy,
  type RetentionRunOptions,
  type RetentionRunResult,
  retentionCutoffs,
  runRetention,
} from './retention.js';
export { sqliteMigrations } from './sqlite/migrations/index.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';

/** Options of `createStore`. */
export interface CreateStoreOptions {
  /** `postgres://…` / `postgresql://…` → PostgreSQL; `:memory:` → in-memory SQLite; else ignored. */
  url?: string;
  /** Directory of the SQLite file `crossdock.db` (default `./.crossdock`). */
  dataDir?: string;
  /** SQLite durability (default `FULL`). */
  synchronous?: 'FULL' | 'NORMAL';
  /**
   * SQLite: where writes run, `worker` (default for files: COMMIT and its fsync leave the event
   * loop) or `inline`. `:memory:` is always inline.
   */
  writer?: 'worker' | 'inline';
  /** PostgreSQL schema (created if missing). */
  schema?: string;
  /** PostgreSQL pool size. */
  poolSize?: number;
  /** Apply pending migrations before returning (default true; idempotent). */
  migrate?: boolean;
  clock?: Clock;
}

/** Whether a URL names a PostgreSQL database. */
export function isPostgresUrl(url: string | undefined): url is string {
  return url !== undefined && /^postgres(ql)?:\/\//.test(url);
}

/** Opens (and by default migrates) the store named by the options. */
export async function createStore(options: CreateStoreOptions = {}): Promise<Store> {
  let store: Store;
  if (isPostgresUrl(options.url)) {
    store = new PostgresStore({
      url: options.url,
      ...(options.schema !== undefined ? { schema: options.schema } : {}),
      ...(options.poolSize !== undefined ? { max: options.poolSize } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
  } else {
    let filename = ':memory:';
    if (options.url !== ':memory:' && options.dataDir !== ':memory:') {
      // The folder 0700, the database 0600 before SQLite opens it (its -wal and -shm take the
      // main file's mode); looser ones found here are tightened (see `data-dir.ts`).
      const dir = options.dataDir ?? './.crossdock';
      prepareDataDir(dir);
      filename = join(dir, 'crossdock.db');
      try {
        createPrivateFile(filename);
      } catch (err) {
        throw mapSqliteError(err);
      }
    }
    store = new SqliteStore({
      filename,
      synchronous: options.synchronous ?? 'FULL',
      ...(options.writer ? { writer: options.writer } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }
  if (options.migrate ?? true) {
    try {
      await store.migrate();
    } catch (err) {
      await store.close().catch(() => {});
      throw err;
    }
  }
  return store;
}
export { type MasterDataCacheOptions, withMasterDataCache } from './master-data-cache.js';
