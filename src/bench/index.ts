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
    default:
      throw new Error(`unknown scenario ${scenario} (orders, events, replay)`);
  }
}
