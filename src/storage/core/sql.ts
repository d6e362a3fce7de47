/**
 * The tiny driver abstraction under the shared SQL core.
 *
 * Why generators: better-sqlite3 is synchronous and `pg` is not. Every store operation is written
 * once as a generator that *yields* SQL operations and receives their results; the SQLite store
 * drives it synchronously (so it can run inside a savepoint of a group commit), the PostgreSQL
 * store drives it with `await`. One body of SQL logic, two drivers, no copy-pasted stores.
 */
import type { Backend } from '../../ports/index.js';

/** A bound parameter: drivers receive only these (no booleans, no undefined). */
export type Param = string | number | null | readonly (string | number)[];

/** A row as drivers return it; mappers narrow it. */
export type Row = Record<string, unknown>;

/** One SQL operation yielded by the core: `all` rows, the first row (`get`), or `run` (changed rows). */
export interface Op {
  kind: 'all' | 'get' | 'run';
  sql: string;
  params: readonly Param[];
}

/** A store operation: a generator of SQL operations returning `T`. */
export type Txn<T> = Generator<Op, T, unknown>;

/** Yields a query and returns all its rows. */
export function* all(sql: string, params: readonly Param[] = []): Txn<Row[]> {
  return (yield { kind: 'all', sql, params }) as Row[];
}

/** Yields a query and returns its first row, if any. */
export function* get(sql: string, params: readonly Param[] = []): Txn<Row | undefined> {
  return (yield { kind: 'get', sql, params }) as Row | undefined;
}

/** Yields a statement and returns how many rows it changed. */
export function* run(sql: string, params: readonly Param[] = []): Txn<number> {
  return (yield { kind: 'run', sql, params }) as number;
}

/** What differs between the two SQL dialects as far as the shared core is concerned. */
export interface Dialect {
  readonly name: Backend;
  /** `col IN (<list>)` taking ONE parameter, so the statement text (and its cache slot) is fixed. */
  inList(column: string): string;
  /** Encodes a list for `inList`. */
  list(values: readonly (string | number)[]): Param;
  /** Appended to claim scans: row locks that other claimers skip (PostgreSQL only). */
  readonly skipLocked: string;
  /** Appended to read-then-write selects inside a transaction (PostgreSQL only). */
  readonly forUpdate: string;
  /**
   * Appended to the outbox read of an insert of delivery rows (replay): the events it reads stay
   * until it commits, and an event a prune locked first is skipped once the prune deleted it
   * (PostgreSQL only; SQLite's one writer serialises the two anyway). See `retention.ts`.
   */
  readonly keyShare: string;
  /**
   * A statement taking a transaction-scoped lock on one event subject, or null when the database
   * has a single writer anyway. See `commitUnit` for why.
   */
  readonly subjectLock: string | null;
  /**
   * Order counts by state and hold reason (`state`, `hold_reason` with NULL for none, `n`).
   * SQLite keeps them in a trigger-maintained table: its reads run on the event loop, and a scan
   * of every order would stall it longer as the table grows. PostgreSQL reads off the event loop
   * and a counter row would serialise every commit that changes a state, so it scans an index.
   */
  readonly orderCountsSql: string;
  /**
   * Fan-out by cursor (subscriptions read the outbox past `cursor_seq`; see
   * `storage/core/deliveries.ts`) rather than a delivery row per subscription written at commit.
   * Only where outbox seqs become visible in seq order: one writer (SQLite).
   */
  readonly cursorFanout: boolean;
}

/** SQLite: lists travel as one JSON text expanded by `json_each`; one writer, so no row locks. */
export const sqliteDialect: Dialect = {
  name: 'sqlite',
  inList: (column) => `${column} IN (SELECT value FROM json_each(?))`,
  list: (values) => JSON.stringify(values),
  skipLocked: '',
  forUpdate: '',
  keyShare: '',
  subjectLock: null,
  orderCountsSql:
    "SELECT state, NULLIF(hold_reason, '') AS hold_reason, n FROM order_counts WHERE n > 0 ORDER BY state, hold_reason",
  cursorFanout: true,
};

/** PostgreSQL: lists travel as arrays (`= ANY($n)`); claims lock rows and skip locked ones. */
export const postgresDialect: Dialect = {
  name: 'postgres',
  inList: (column) => `${column} = ANY(?)`,
  list: (values) => values,
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  forUpdate: ' FOR UPDATE',
  keyShare: ' FOR KEY SHARE',
  // Two-int4 form, in its own lock space; 1668440435 = 'cros'. Hash collisions only serialize.
  subjectLock: 'SELECT pg_advisory_xact_lock(1668440435, hashtext(?)) AS locked',
  orderCountsSql:
    'SELECT state, hold_reason, COUNT(*) AS n FROM orders GROUP BY state, hold_reason ORDER BY state, hold_reason',
  cursorFanout: false,
};

/** Converts `?` placeholders to PostgreSQL's `$1…$n` (our SQL never has `?` inside literals). */
export function toDollarParams(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** Reads a JSON text column (tolerates drivers that already parsed it). */
export function parseJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** Reads a nullable JSON text column. */
export function parseJsonOrNull<T>(value: unknown): T | null {
  return value === null || value === undefined ? null : parseJson<T>(value);
}

/** Reads a nullable text column. */
export function textOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** Reads a numeric column (`pg` returns bigint and numeric as strings). */
export function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

/**
 * `next_attempt_at` of a delivery that is due at once (new, replayed, retried by an operator).
 * Why 0 and not "now": claims compare against the caller's `now` (the dispatcher's Clock), which
 * need not be the store's clock; a fresh delivery must be claimable whatever either clock says.
 */
export const dueImmediately = 0;
