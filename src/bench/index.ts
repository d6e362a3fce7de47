/** `crossdock bench <scenario>`: dispatch to the scenario; `--json` prints one JSON line last. */
export interface BenchOptions {
  json?: boolean;
  backend: string;
  duration?: number;
  connections?: number;
  count?: number;
}

export async function runBench(scenario: string, opts: BenchOptions): Promise<void> {
  if (opts.backend !== 'sqlite' && opts.backend !== 'postgres')
    throw new Error(`unknown backend ${opts.backend}`);
  switch (scenario) {
    case 'orders': {
      const { runOrdersBench } = await import('./orders.js');
      const result = await runOrdersBench(opts);
      if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    case 'baseline': {
      const { runBaselineBench } = await import('./baseline.js');
      const result = await runBaselineBench(opts);
      if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    case 'events': {
      const { runEventsBench } = await import('./events.js');
      const backend = opts.backend as 'sqlite' | 'postgres';
      const runs = [
        { label: 'in-process subscriber', o: { backend, count: opts.count ?? 100_000 } },
        {
          label: 'HTTP webhook sink on 127.0.0.1',
          o: { backend, count: Math.min(opts.count ?? 30_000, 30_000), mode: 'webhook' as const },
        },
        {
          label: 'end-to-end lag at 5,000 events/s',
          o: { backend, count: 25_000, ratePerSecond: 5_000, eventsPerCommit: 10 },
        },
      ];
      const results = [];
      for (const run of runs) {
        process.stderr.write(`events: ${run.label}…\n`);
        const r = await runEventsBench(run.o);
        process.stderr.write(
          `  ${r.perSecond.toLocaleString('en-US')} events/s, p99 ${r.p99Ms} ms, lost ${r.lost}, duplicates ${r.duplicates}\n`,
        );
        results.push({ ...r, label: run.label });
      }
      const [main, ...rest] = results;
      if (opts.json)
        process.stdout.write(`${JSON.stringify({ ...main, scenario: 'events', variants: rest })}\n`);
      return;
    }
    case 'replay': {
      const { runReplayBench } = await import('./replay.js');
      const r = await runReplayBench({
        backend: opts.backend as 'sqlite' | 'postgres',
        count: opts.count ?? 100_000,
      });
      process.stderr.write(
        `replay: drained ${r.count.toLocaleString('en-US')} at ${r.perSecond.toLocaleString('en-US')}/s, lost ${r.lost}, duplicates ${r.duplicates}\n`,
      );
      if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      return;
    }
    case 'lifecycle': {
      const { runLifecycleBench } = await import('./lifecycle.js');
      // --count: released orders whose milestones are applied (a); --duration: seconds of 1,000
      // shipped reports/s offered for the WMS → CRM latency (b).
      const r = await runLifecycleBench({
        backend: opts.backend as 'sqlite' | 'postgres',
        ...(opts.count !== undefined ? { count: opts.count } : {}),
        ...(opts.duration !== undefined ? { duration: opts.duration } : {}),
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      return;
    }
    default:
      throw new Error(`unknown scenario ${scenario} (orders, baseline, events, replay, lifecycle)`);
  }
}
