/**
 * Driver errors → `CrossdockError`.
 *
 * Why: callers decide retries, holds and HTTP status on the error *kind*; a raw SQLite or
 * PostgreSQL error must never leak past the store. Unique violations mean "someone else already
 * wrote this" (conflict); a database that cannot be reached is a downstream outage.
 */
import { CrossdockError, type ErrorKind, type Owner } from '../../domain/index.js';

const pgConnectionCodes = new Set(['57P01', '57P02', '57P03', '53300', '53400']);
const nodeConnectionCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EPIPE',
  'EAI_AGAIN',
]);

function codeOf(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return '';
}

/** Maps a better-sqlite3 error (codes like `SQLITE_CONSTRAINT_UNIQUE`) to a typed error. */
export function mapSqliteError(err: unknown): CrossdockError {
  if (err instanceof CrossdockError) return err;
  const code = codeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  const details = { backend: 'sqlite', code };
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return CrossdockError.conflict(`store: ${message}`, { details, cause: err });
  }
  if (code.startsWith('SQLITE_CONSTRAINT')) {
    return CrossdockError.dataQuality(`store: ${message}`, { details, cause: err });
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return CrossdockError.transient(`store busy: ${message}`, { details, cause: err });
  }
  if (
    code.startsWith('SQLITE_CANTOPEN') ||
    /Cannot open database|database connection is not open/i.test(message) ||
    code.startsWith('SQLITE_IOERR') ||
    code === 'SQLITE_FULL' ||
    code.startsWith('SQLITE_READONLY') ||
    code === 'SQLITE_CORRUPT'
  ) {
    return CrossdockError.downstreamOutage(`store unavailable: ${message}`, { details, cause: err });
  }
  return CrossdockError.transient(`store: ${message}`, { details, retryable: false, cause: err });
}

/** Maps a `pg` error (SQLSTATE codes, Node socket errors) to a typed error. */
export function mapPgError(err: unknown): CrossdockError {
  if (err instanceof CrossdockError) return err;
  const code = codeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  const details = { backend: 'postgres', code };
  if (code === '23505') return CrossdockError.conflict(`store: ${message}`, { details, cause: err });
  if (code.startsWith('23')) return CrossdockError.dataQuality(`store: ${message}`, { details, cause: err });
  if (code === '40001' || code === '40P01' || code === '55P03') {
    return CrossdockError.transient(`store contention: ${message}`, { details, cause: err });
  }
  if (
    code.startsWith('08') ||
    pgConnectionCodes.has(code) ||
    nodeConnectionCodes.has(code) ||
    /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect/i.test(message)
  ) {
    return CrossdockError.downstreamOutage(`store unavailable: ${message}`, { details, cause: err });
  }
  return CrossdockError.transient(`store: ${message}`, { details, retryable: false, cause: err });
}

/** A `CrossdockError` as plain data, so it can cross a thread (`postMessage`) intact. */
export interface SerializedError {
  kind: ErrorKind;
  message: string;
  retryable: boolean;
  owner: Owner;
  details: Record<string, unknown>;
  retryAfterMs: number | undefined;
}

/** Flattens a typed error for `postMessage` (class, prototype and cause do not survive a clone). */
export function serializeError(err: CrossdockError): SerializedError {
  return {
    kind: err.kind,
    message: err.message,
    retryable: err.retryable,
    owner: err.owner,
    details: err.details,
    retryAfterMs: err.retryAfterMs,
  };
}

/** Rebuilds the typed error on the receiving thread: same kind, retryable, owner and details. */
export function deserializeError(e: SerializedError): CrossdockError {
  return new CrossdockError(e.kind, e.message, {
    retryable: e.retryable,
    owner: e.owner,
    details: e.details,
    ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
  });
}
