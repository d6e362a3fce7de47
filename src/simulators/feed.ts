/**
 * The change-feed page of a simulator's milestone log: the watermark is the sequence number of
 * the last entry read, so a consumer that lost its cursor re-reads from the start and the hub's
 * inbound dedupe keeps that harmless.
 *
 * The log keeps its last `simulators.maxRecords` entries: a consumer whose watermark fell
 * behind the oldest kept entry resumes there (as a Kafka consumer with `earliest` reset does),
 * and the watermark it gets back jumps over what was evicted, so it never reads one twice.
 */
import { CrossdockError } from '../domain/index.js';
import type { BoundedLog } from './bounded.js';

/** Entries after the watermark `since` (`null` or '' = from the start), up to `limit`. */
export function feedPage<T>(
  log: BoundedLog<T>,
  since: string | null,
  limit: number,
  system: string,
): { page: T[]; watermark: string } {
  const after = since === null || since === '' ? 0 : Number(since);
  if (!Number.isInteger(after) || after < 0) {
    throw CrossdockError.dataQuality(`Invalid milestone watermark ${JSON.stringify(since)}`, {
      details: { system, field: 'since' },
    });
  }
  const { entries, start } = log.after(after, Math.max(1, limit));
  // A watermark past the log's end (another process's log, or a reset simulator) stays as it is.
  return { page: entries, watermark: String(entries.length === 0 ? after : start + entries.length) };
}
