/**
 * The retention run: policy in days and hours → cutoffs → `Store.prune`, with audit entries and
 * closed exceptions archived first as JSON lines under `<dataDir>/archive/`.
 *
 * Why here and not in the store: the archive is files, and the hub's retention job and
 * `crossdock prune` must archive the same way. Why hand-written and not a logging/rotation
 * library: what matters is the order "appended and fsynced, then deleted" and a torn last line
 * never gluing onto the next record; that is a dozen lines of `fs`, and a library's buffering
 * would hide exactly when a line is durable.
 *
 * Archive files: `<dataDir>/archive/<table>-<YYYY-MM>.jsonl`, one row per line as the store's
 * `listAudit` / `getException` return it, grouped by the month of the row's own time (an audit
 * entry's `at`, an exception's last change), folder 0700, files 0600. A crash between the append
 * and the delete appends the same rows again on the next run: an archive may hold a row twice
 * (same `id`), never lose one.
 */
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchivedTable, PruneCounts, RetentionTable, Store } from '../ports/index.js';

/** How long each kind of row is kept (the shape of the `retention` config block). */
export interface RetentionPolicy {
  idempotencyHours: number;
  inboundDays: number;
  deliveredEventsDays: number;
  closedExceptionsDays: number;
  auditDays: number;
  /** Archive audit entries and closed exceptions before pruning them. */
  archive: boolean;
}

export interface RetentionRunOptions {
  /** The data folder; archives go to its `archive/` folder. */
  dataDir: string;
  /** The instant the windows count back from. */
  now: Date;
  dryRun?: boolean;
  batchSize?: number;
  onProgress?: (table: RetentionTable, done: number) => void;
  signal?: AbortSignal;
}

export interface RetentionRunResult {
  /** Rows pruned (dry run: prunable) per table. */
  counts: PruneCounts;
  /** Rows appended to archive files, per archived table. */
  archived: Record<ArchivedTable, number>;
  /** Where the archive files are. */
  archiveDir: string;
  /** The cutoff of each table (rows older than it went). */
  before: Record<RetentionTable, string>;
  durationMs: number;
}

const hour = 3_600_000;
const day = 24 * hour;

/** The instant before which each table's rows go, under `policy`, at `now`. */
export function retentionCutoffs(policy: RetentionPolicy, now: Date): Record<RetentionTable, Date> {
  const at = (ms: number) => new Date(now.getTime() - ms);
  return {
    idempotency: at(policy.idempotencyHours * hour),
    inbound_messages: at(policy.inboundDays * day),
    outbox: at(policy.deliveredEventsDays * day),
    exceptions: at(policy.closedExceptionsDays * day),
    audit_log: at(policy.auditDays * day),
  };
}

/** Runs retention once: prunes (or counts, `dryRun`) every table, archiving first where set. */
export async function runRetention(
  store: Store,
  policy: RetentionPolicy,
  o: RetentionRunOptions,
): Promise<RetentionRunResult> {
  const started = Date.now();
  const before = retentionCutoffs(policy, o.now);
  const archiveDir = join(o.dataDir, 'archive');
  const archived: Record<ArchivedTable, number> = { exceptions: 0, audit_log: 0 };
  const counts = await store.prune({
    before,
    dryRun: o.dryRun ?? false,
    ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(policy.archive
      ? {
          archive: async (table: ArchivedTable, rows: readonly Record<string, unknown>[]) => {
            await appendArchive(archiveDir, table, rows);
            archived[table] += rows.length;
          },
        }
      : {}),
  });
  return {
    counts,
    archived,
    archiveDir,
    before: Object.fromEntries(Object.entries(before).map(([t, d]) => [t, d.toISOString()])) as Record<
      RetentionTable,
      string
    >,
    durationMs: Date.now() - started,
  };
}

/** The month (`YYYY-MM`) a row is archived under: its own time, else the current month. */
function monthOf(table: ArchivedTable, row: Record<string, unknown>): string {
  const at = table === 'audit_log' ? row.at : (row.updatedAt ?? row.createdAt);
  const text = typeof at === 'string' && /^\d{4}-\d{2}/.test(at) ? at : new Date().toISOString();
  return text.slice(0, 7);
}

/**
 * Appends `rows` as JSON lines to `<dir>/<table>-<YYYY-MM>.jsonl` (one file per month present),
 * each file fsynced before this resolves; the folder is created 0700 and fsynced when a file is
 * new, files are created 0600 and tightened to it if they exist looser.
 */
export async function appendArchive(
  dir: string,
  table: ArchivedTable,
  rows: readonly Record<string, unknown>[],
): Promise<void> {
  if (rows.length === 0) return;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const byMonth = new Map<string, string[]>();
  for (const r of rows) {
    const m = monthOf(table, r);
    const lines = byMonth.get(m);
    if (lines) lines.push(JSON.stringify(r));
    else byMonth.set(m, [JSON.stringify(r)]);
  }
  let created = false;
  for (const [month, lines] of byMonth) {
    const file = join(dir, `${table}-${month}.jsonl`);
    const fh = await open(file, 'a+', 0o600);
    try {
      const st = await fh.stat();
      if ((st.mode & 0o077) !== 0) await fh.chmod(0o600);
      if (st.size === 0) created = true;
      // A crash mid-append can leave a torn last line: end it, so the next record starts clean.
      let lead = '';
      if (st.size > 0) {
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, st.size - 1);
        if (last[0] !== 0x0a) lead = '\n';
      }
      await fh.appendFile(`${lead}${lines.join('\n')}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  if (created) await syncDir(dir);
}

/** Makes a folder's new entries durable (a new file's name survives a power cut). */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
