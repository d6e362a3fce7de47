/**
 * `crossdock prune [--dry-run] [--json]`: retention by hand, with the policy of the configuration
 * (the `retention` block), beside a running hub or without one.
 *
 * It runs the same `runRetention` as the hub's retention job, so audit entries and closed
 * exceptions are archived under `<dataDir>/archive/` before they are deleted, in the same files.
 * A dry run counts per table what would go and changes nothing. A real run prints the totals;
 * on a terminal it first counts, then shows a bar per table on stderr (stdout stays the result,
 * `--json` one object).
 */
import type { Command } from 'commander';
import { type EventsCliDeps, io, withContext } from '../events/cli.js';
import { ProgressBar } from '../events/progress-bar.js';
import type { PruneCounts, RetentionTable } from '../ports/index.js';
import { type RetentionPolicy, type RetentionRunResult, runRetention } from '../storage/index.js';

/** The prune command takes the store as the other commands do, plus the policy and data folder. */
export interface PruneCliDeps extends EventsCliDeps {
  /** The `retention` block and data folder of the configuration in use. */
  settings: () => Promise<{ retention: RetentionPolicy; dataDir: string }>;
}

const tables: readonly RetentionTable[] = [
  'idempotency',
  'inbound_messages',
  'outbox',
  'exceptions',
  'audit_log',
];

/** What each table's rows are, for the text output. */
const what: Record<RetentionTable, string> = {
  idempotency: 'idempotency keys',
  inbound_messages: 'inbound dedupe records',
  outbox: 'delivered events',
  exceptions: 'closed exceptions',
  audit_log: 'audit entries',
};

function total(counts: PruneCounts): number {
  return tables.reduce((n, t) => n + counts[t], 0);
}

/** Registers `prune` on `program`. */
export function registerPruneCommand(program: Command, deps: PruneCliDeps): Command {
  const x = io(deps);
  return program
    .command('prune')
    .description(
      'delete what retention no longer needs (expired idempotency keys, old dedupe records, delivered events, closed exceptions, audit entries; the last two archived first)',
    )
    .option('--dry-run', 'count per table what would go; change nothing')
    .option('--json', 'print one JSON object')
    .option('--batch-size <n>', 'rows per transaction', '1000')
    .action(async (o: { dryRun?: boolean; json?: boolean; batchSize: string }) => {
      const batchSize = Number(o.batchSize);
      if (!Number.isInteger(batchSize) || batchSize < 1) {
        x.err.write('crossdock prune: --batch-size must be a whole number >= 1\n');
        return x.fail(2);
      }
      const { retention, dataDir } = await deps.settings();
      const dryRun = o.dryRun ?? false;
      await withContext(deps, async (ctx) => {
        const now = ctx.clock?.now() ?? new Date();
        const run = (extra: { dryRun: boolean; onProgress?: (t: RetentionTable, n: number) => void }) =>
          runRetention(ctx.store, retention, { dataDir, now, batchSize, ...extra });
        let result: RetentionRunResult;
        if (!dryRun && x.err.isTTY) {
          // On a terminal: count first, so each table's bar knows its total.
          const planned = (await run({ dryRun: true })).counts;
          const bars = new Map<RetentionTable, ProgressBar>();
          let current: RetentionTable | null = null;
          result = await run({
            dryRun: false,
            onProgress: (table, n) => {
              if (current !== table) {
                if (current) bars.get(current)?.done();
                current = table;
                bars.set(table, new ProgressBar(x.err, table));
              }
              bars.get(table)?.update(n, Math.max(planned[table], n));
            },
          });
          if (current) bars.get(current)?.done();
        } else {
          result = await run({ dryRun });
        }
        if (o.json) {
          x.out(
            JSON.stringify({
              dryRun,
              counts: result.counts,
              total: total(result.counts),
              archived: result.archived,
              archiveDir: result.archiveDir,
              before: result.before,
              durationMs: result.durationMs,
            }),
          );
          return;
        }
        for (const t of tables) {
          x.out(`${t}\t${result.counts[t]}\t${what[t]} older than ${result.before[t]}`);
        }
        const archived = result.archived.exceptions + result.archived.audit_log;
        x.out(
          `${dryRun ? 'dry run: would prune' : 'pruned'} ${total(result.counts)} rows${
            archived > 0 ? `; archived ${archived} to ${result.archiveDir}` : ''
          } (${result.durationMs} ms)`,
        );
      });
    });
}
