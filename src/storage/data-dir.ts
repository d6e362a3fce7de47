/**
 * The embedded data folder: private file modes, and the lock that lets one hub at a time use it.
 *
 * Modes: the folder is 0700 and the files the hub makes in it 0600 (the SQLite database holds
 * orders, customers and API-key hashes). The database file is created 0600 *before* SQLite opens
 * it, because SQLite creates its `-wal` and `-shm` files with the main file's mode. A folder or
 * file found looser at start (made by an older version, or by hand) is tightened.
 *
 * The lock: two hubs on one SQLite folder would both run the dispatcher, and the second one's
 * start frees the first one's leases (`Store.releaseForeignLeases`): events delivered twice at
 * once. `lockDataDir` holds an exclusive SQLite lock on `<dir>/hub.lock` for the hub's life. Why
 * that and not a PID file: it is an OS lock (POSIX `fcntl`), so the kernel drops it when the
 * process dies however it dies (a SIGKILLed hub's folder can be reopened at once, with no stale-
 * lock guessing), and SQLite makes it conflict between two connections of one process too. Why not
 * in the store: `crossdock keys`, `dlq`, `replay` and `prune` open the same store while a hub runs,
 * which SQLite's own locking already makes safe; only a second *hub* must be refused.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CrossdockError } from '../domain/index.js';

/** The files the hub keeps directly in its data folder (database, its WAL and index, the lock). */
const privateFiles = ['crossdock.db', 'crossdock.db-wal', 'crossdock.db-shm', 'hub.lock'];

/** Removes group and other permission bits from `path` if it has any; true when it changed. */
function tighten(path: string, mode: number): boolean {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    return false;
  }
  if ((st.mode & 0o077) === 0) return false;
  chmodSync(path, mode);
  return true;
}

/**
 * Creates the data folder 0700 (with any missing parents) or tightens an existing one, and
 * tightens the hub's files in it (and its `archive/` folder) to 0600. Returns the paths it had to
 * tighten, for the start-up log.
 */
export function prepareDataDir(dir: string): string[] {
  const tightened: string[] = [];
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (tighten(dir, 0o700)) tightened.push(dir);
    for (const name of privateFiles) {
      const file = join(dir, name);
      if (tighten(file, 0o600)) tightened.push(file);
    }
    const archive = join(dir, 'archive');
    if (existsSync(archive)) {
      if (tighten(archive, 0o700)) tightened.push(archive);
      for (const name of readdirSync(archive)) {
        const file = join(archive, name);
        if (statSync(file).isFile() && tighten(file, 0o600)) tightened.push(file);
      }
    }
  } catch (err) {
    throw CrossdockError.downstreamOutage(`cannot prepare the data folder ${dir}: ${String(err)}`, {
      details: { dataDir: dir },
      cause: err,
    });
  }
  return tightened;
}

/** Creates `file` empty with mode 0600 if it does not exist (an existing file is left as it is). */
export function createPrivateFile(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
}

/** A held data-folder lock. Keep a reference for as long as it must hold (see `lockDataDir`). */
export interface DataDirLock {
  readonly file: string;
  /** Releases the lock (idempotent). */
  release(): void;
}

/**
 * Takes the exclusive lock on `dir` (creating the folder 0700 and `hub.lock` 0600 if needed), or
 * throws a `conflict` naming the folder when another hub, in this process or another, holds it.
 *
 * The lock is a never-committed exclusive transaction on `hub.lock` (`locking_mode=EXCLUSIVE`,
 * `busy_timeout=0`, so a second taker fails at once instead of waiting). It holds while the
 * returned object is reachable: a connection that is garbage-collected is closed, and its lock
 * goes with it, so the caller must keep the object until it releases it.
 */
export function lockDataDir(dir: string): DataDirLock {
  prepareDataDir(dir);
  const file = join(dir, 'hub.lock');
  let db: Database.Database;
  try {
    createPrivateFile(file);
    db = new Database(file, { timeout: 0 });
  } catch (err) {
    throw CrossdockError.downstreamOutage(`cannot open the data-folder lock ${file}: ${String(err)}`, {
      details: { dataDir: dir, lockFile: file },
      cause: err,
    });
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    const busy = (err as { code?: string }).code?.startsWith('SQLITE_BUSY') === true;
    if (busy) {
      throw CrossdockError.conflict(
        `another hub is running on the data folder ${dir} (it holds ${file}); stop it, or give this hub its own data folder (--data)`,
        { details: { dataDir: dir, lockFile: file } },
      );
    }
    throw CrossdockError.downstreamOutage(`cannot lock the data folder ${dir}: ${String(err)}`, {
      details: { dataDir: dir, lockFile: file },
      cause: err,
    });
  }
  let held = true;
  return {
    file,
    release() {
      if (!held) return;
      held = false;
      try {
        db.exec('ROLLBACK');
      } finally {
        db.close();
      }
    },
  };
}
