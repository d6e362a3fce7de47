/**
 * The change-feed page of a simulator's append-only milestone log: the watermark is the number
 * of entries read so far, so a consumer that lost its cursor re-reads from the start and the
 * hub's inbound dedupe keeps that harmless.
 */
import { CrossdockError } from '../domain/index.js';

/** Entries after the watermark `since` (`null` or '' = from the start), up to `limit`. */
export function feedPage<T>(
  log: readonly T[],
  since: string | null,
  limit: number,
  system: string,
): { page: T[]; watermark: string } {
  const start = since === null || since === '' ? 0 : Number(since);
  if (!Number.isInteger(start) || start < 0) {
    throw CrossdockError.dataQuality(`Invalid milestone watermark ${JSON.stringify(since)}`, {
      details: { system, field: 'since' },
    });
  }
  const page = log.slice(start, start + Math.max(1, limit));
  return { page, watermark: String(start + page.length) };
}
