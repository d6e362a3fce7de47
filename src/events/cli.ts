/**
 * CLI commands of the event backbone: `crossdock dlq list|retry|resolve|discard` and
 * `crossdock replay`.
 *
 * Why registration functions taking a lazy context: the composition root owns the program,
 * config and store construction; these commands only describe their options and call the same
 * operator functions the HTTP API uses, so the CLI and the console cannot drift apart.
 */
import type { Command } from 'commander';
import type { ErrorKind } from '../domain/index.js';
import type { Clock, ExceptionFilter, ExceptionRecord, Store } from '../ports/index.js';
import {
  type ActionOutcome,
  discardDeadLetter,
  listDeadLetters,
  resolveDeadLetter,
  retryDeadLetters,
  retryMatchingDeadLetters,
} from './dead-letters.js';
import type { Dispatcher } from './dispatcher.js';
import { ProgressBar, type ProgressStream } from './progress-bar.js';
import { replaySubscription } from './replay.js';

/** What a command runs against, opened only when a command runs. */
export interface EventsCliContext {
  store: Store;
  clock?: Clock;
  /** An in-process dispatcher: `replay --wait` drives it and forced replays get fresh keys. */
  dispatcher?: Dispatcher;
  close?: () => Promise<void>;
}

/** Dependencies of the CLI registration functions. */
export interface EventsCliDeps {
  open: () => Promise<EventsCliContext>;
  /** Standard output (results); default `process.stdout`. */
  out?: (line: string) => void;
  /** Progress and messages; default `process.stderr`. */
  err?: ProgressStream;
  /** Who is acting when `--actor` is not given; default `$USER` or `cli`. */
  defaultActor?: string;
  /** Sets the exit code on failure; default `process.exitCode = code`. */
  setExitCode?: (code: number) => void;
}

/** What a command writes to and how it fails (shared by the CLI's command groups). */
export interface Io {
  out: (line: string) => void;
  err: ProgressStream;
  actor: (given?: string) => string;
  fail: (code: number) => void;
}

export function io(deps: EventsCliDeps): Io {
  return {
    out: deps.out ?? ((line) => void process.stdout.write(`${line}\n`)),
    err: deps.err ?? process.stderr,
    actor: (given) => given ?? deps.defaultActor ?? process.env.USER ?? 'cli',
    fail:
      deps.setExitCode ??
      ((code) => {
        process.exitCode = code;
      }),
  };
}

/** Opens the context, runs `fn`, closes it. */
export async function withContext<T>(
  deps: EventsCliDeps,
  fn: (ctx: EventsCliContext) => Promise<T>,
): Promise<T> {
  const ctx = await deps.open();
  try {
    return await fn(ctx);
  } finally {
    await ctx.close?.();
  }
}

function describe(e: ExceptionRecord): string {
  const message = typeof e.lastError.message === 'string' ? e.lastError.message : JSON.stringify(e.lastError);
  return [
    e.id,
    e.status,
    e.kind,
    e.owner,
    e.subscription ?? e.source,
    e.orderId ?? '-',
    `attempts=${e.attempts}`,
    message,
  ].join('\t');
}

function report(x: Io, outcomes: ActionOutcome[], json: boolean): void {
  if (json)
    x.out(JSON.stringify(outcomes.map((o) => (o.ok ? { id: o.id, ok: true, status: o.record.status } : o))));
  else for (const o of outcomes) x.out(o.ok ? `${o.id}\t${o.record.status}` : `${o.id}\tfailed: ${o.error}`);
  if (outcomes.some((o) => !o.ok)) x.fail(1);
}

interface FilterOpts {
  status?: string;
  kind?: string;
  owner?: string;
  subscription?: string;
  limit?: string;
}

function filterOf(o: FilterOpts): ExceptionFilter {
  const f: ExceptionFilter = {};
  if (o.status) f.status = o.status as ExceptionRecord['status'];
  if (o.kind) f.kind = o.kind as ErrorKind;
  if (o.owner) f.owner = o.owner;
  if (o.subscription) f.subscription = o.subscription;
  if (o.limit) f.limit = Number(o.limit);
  return f;
}

/** Registers `dlq list|retry|resolve|discard` on the program. */
export function registerDlqCommands(program: Command, deps: EventsCliDeps): Command {
  const x = io(deps);
  const dlq = program
    .command('dlq')
    .description('dead letters: parked deliveries and refused inbound messages');
  dlq
    .command('list')
    .description('list exceptions (open by default)')
    .option('--status <status>', 'open | retried | resolved | discarded', 'open')
    .option('--kind <kind>', 'transient | data_quality | policy_violation | downstream_outage | conflict')
    .option('--owner <team>', 'owning team')
    .option('--subscription <name>', 'subscription name')
    .option('--limit <n>', 'at most n rows', '100')
    .option('--json', 'print JSON')
    .action(async (opts: FilterOpts & { json?: boolean }) => {
      await withContext(deps, async (ctx) => {
        const rows = await listDeadLetters(ctx, filterOf(opts));
        if (opts.json) x.out(JSON.stringify(rows));
        else {
          x.out(['id', 'status', 'kind', 'owner', 'source', 'order', 'attempts', 'error'].join('\t'));
          for (const r of rows) x.out(describe(r));
        }
      });
    });
  dlq
    .command('retry')
    .description('make parked deliveries pending again: by id, or every open one matching the filters')
    .argument('[ids...]', 'exception ids')
    .option('--all', 'retry every open exception matching the filters')
    .option('--kind <kind>', 'filter for --all')
    .option('--owner <team>', 'filter for --all')
    .option('--subscription <name>', 'filter for --all')
    .option('--note <text>', 'why')
    .option('--actor <who>', 'who is acting (audit log)')
    .option('--json', 'print JSON')
    .action(
      async (
        ids: string[],
        opts: FilterOpts & { all?: boolean; note?: string; actor?: string; json?: boolean },
      ) => {
        await withContext(deps, async (ctx) => {
          if (ids.length === 0 && !opts.all) {
            x.err.write('dlq retry: give exception ids or --all\n');
            x.fail(2);
            return;
          }
          const outcomes = opts.all
            ? await retryMatchingDeadLetters(ctx, filterOf(opts), x.actor(opts.actor), opts.note)
            : await retryDeadLetters(ctx, ids, x.actor(opts.actor), opts.note);
          report(x, outcomes, opts.json ?? false);
        });
      },
    );
  dlq
    .command('resolve')
    .description('close an exception as fixed by other means')
    .argument('<id>', 'exception id')
    .requiredOption('--note <text>', 'how it was resolved')
    .option('--actor <who>', 'who is acting (audit log)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { note: string; actor?: string; json?: boolean }) => {
      await withContext(deps, async (ctx) => {
        report(x, [await resolveDeadLetter(ctx, id, x.actor(opts.actor), opts.note)], opts.json ?? false);
      });
    });
  dlq
    .command('discard')
    .description('close an exception without delivering')
    .argument('<id>', 'exception id')
    .option('--note <text>', 'why')
    .option('--actor <who>', 'who is acting (audit log)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { note?: string; actor?: string; json?: boolean }) => {
      await withContext(deps, async (ctx) => {
        report(x, [await discardDeadLetter(ctx, id, x.actor(opts.actor), opts.note)], opts.json ?? false);
      });
    });
  return dlq;
}

/** Registers `replay <subscription> --from … [--to …] [--dry-run] [--force] [--wait]`. */
export function registerReplayCommand(program: Command, deps: EventsCliDeps): Command {
  const x = io(deps);
  return program
    .command('replay')
    .description(
      'replay a subscription from a time or an event id (never repeats a customer notification unless --force)',
    )
    .argument('<subscription>', 'subscription name')
    .requiredOption('--from <timeOrEventId>', 'ISO time or event id to start from (inclusive)')
    .option('--to <time>', 'ISO time to stop at (inclusive)')
    .option('--dry-run', 'count what would be sent; change nothing')
    .option('--force', 'also resend customer notifications already delivered')
    .option('--wait', 'deliver in this process and show delivery progress')
    .option('--actor <who>', 'who is acting (audit log)')
    .option('--json', 'print the result as JSON')
    .action(
      async (
        subscription: string,
        opts: {
          from: string;
          to?: string;
          dryRun?: boolean;
          force?: boolean;
          wait?: boolean;
          actor?: string;
          json?: boolean;
        },
      ) => {
        await withContext(deps, async (ctx) => {
          const scan = new ProgressBar(x.err, 'scan');
          const enqueue = new ProgressBar(x.err, 'enqueue');
          let phase: 'scan' | 'enqueue' = 'scan';
          const result = await replaySubscription(ctx, {
            subscription,
            from: opts.from,
            ...(opts.to !== undefined ? { to: opts.to } : {}),
            dryRun: opts.dryRun ?? false,
            force: opts.force ?? false,
            actor: x.actor(opts.actor),
            onProgress: (p) => {
              if (p.phase !== phase) {
                scan.done();
                phase = p.phase;
              }
              (p.phase === 'scan' ? scan : enqueue).update(p.done, p.total);
            },
          });
          (phase === 'scan' ? scan : enqueue).done();
          if (opts.wait && !result.dryRun && ctx.dispatcher && result.enqueued > 0) {
            const bar = new ProgressBar(x.err, 'deliver');
            let delivered = 0;
            for (;;) {
              const r = await ctx.dispatcher.drainOnce(subscription);
              delivered += r.delivered + r.parked;
              bar.update(Math.min(delivered, result.enqueued), result.enqueued);
              if (r.claimed === 0) break;
            }
            bar.done();
          }
          if (opts.json) x.out(JSON.stringify(result));
          else
            x.out(
              `${result.dryRun ? 'dry run: ' : ''}${subscription}: ${result.matched} matched, ${result.skippedAlreadyDelivered} already delivered (skipped), ${result.toSend} to send, ${result.enqueued} enqueued`,
            );
        });
      },
    );
}
