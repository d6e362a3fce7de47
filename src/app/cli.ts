/**
 * `crossdock` — the command line: start the hub, migrate, benchmark, trace an order, operate
 * the dead-letter queue and replays, manage API keys, prune by the retention policy. See
 * CONTRACT.md for the public surface.
 */
import { Command, InvalidArgumentError } from 'commander';
import { registerDlqCommands, registerReplayCommand } from '../events/cli.js';
import { loadConfig, storeOptions } from './config.js';
import { registerKeyCommands } from './keys-cli.js';
import { registerPruneCommand } from './prune-cli.js';
import { version } from './version.js';

const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative number`);
  return n;
};

/** `--config FILE` and `--data DIR`, as every command that only opens the store takes them. */
function configFrom(opts: { config?: string; data?: string }) {
  return loadConfig({
    ...(opts.config ? { file: opts.config } : {}),
    overrides: opts.data ? { dataDir: opts.data } : {},
  });
}

export function buildCli(): Command {
  // Positional options: `crossdock --data X dlq list` and `crossdock start --data X` each mean
  // their own `--data`, instead of the program swallowing the subcommand's flag.
  const program = new Command('crossdock')
    .description('Integration backbone for product distributors')
    .version(version)
    .enablePositionalOptions();

  program
    .command('start')
    .description('run API, workers, simulators and console')
    .option('--port <port>', 'HTTP port', int('port'))
    .option('--host <host>', 'address to listen on')
    .option('--data <dir>', 'data directory for the embedded SQLite store')
    .option('--config <file>', 'configuration file (.ts, .js, .json, .yaml)')
    .option('--demo-traffic <n>', 'feed N orders/s through the simulated CRM', int('demo-traffic'))
    .action(
      async (opts: {
        port?: number;
        host?: string;
        data?: string;
        config?: string;
        demoTraffic?: number;
      }) => {
        const { runStart } = await import('./start.js');
        const overrides: Record<string, unknown> = {};
        if (opts.port !== undefined) overrides.port = opts.port;
        if (opts.host !== undefined) overrides.host = opts.host;
        if (opts.data !== undefined) overrides.dataDir = opts.data;
        if (opts.demoTraffic !== undefined) overrides.demoTraffic = opts.demoTraffic;
        const config = await loadConfig({ ...(opts.config ? { file: opts.config } : {}), overrides });
        await runStart(config);
      },
    );

  program
    .command('migrate')
    .description('apply storage migrations')
    .option('--config <file>', 'configuration file')
    .option('--data <dir>', 'data directory for the embedded SQLite store')
    .action(async (opts: { config?: string; data?: string }) => {
      const { createStore } = await import('../storage/index.js');
      const config = await configFrom(opts);
      const store = await createStore({ ...storeOptions(config), migrate: false });
      try {
        const applied = await store.migrate();
        const r = await store.ready();
        console.log(
          `${store.backend}: applied ${applied.length ? applied.join(', ') : 'nothing'}; schema version ${r.schemaVersion}/${r.latestVersion}`,
        );
      } finally {
        await store.close();
      }
    });

  program
    .command('bench')
    .description('run a benchmark scenario (orders, baseline, events, replay, lifecycle)')
    .argument('<scenario>', 'orders | baseline | events | replay | lifecycle')
    .option('--json', 'print one JSON object last')
    .option('--backend <backend>', 'sqlite | postgres', 'sqlite')
    .option('--duration <seconds>', 'seconds of load (orders, lifecycle)', int('duration'))
    .option('--connections <n>', 'concurrent HTTP connections (orders)', int('connections'))
    .option('--count <n>', 'events (events, replay); released orders (lifecycle)', int('count'))
    .action(
      async (
        scenario: string,
        opts: { json?: boolean; backend: string; duration?: number; connections?: number; count?: number },
      ) => {
        const { runBench } = await import('../bench/index.js');
        await runBench(scenario, opts);
      },
    );

  program
    .command('trace')
    .description("print an order's cross-system timeline")
    .argument('<orderId>')
    .option('--config <file>', 'configuration file')
    .option('--data <dir>', 'data directory')
    .action(async (orderId: string, opts: { config?: string; data?: string }) => {
      const { runTrace } = await import('./trace.js');
      const config = await configFrom(opts);
      process.exitCode = await runTrace(config, orderId, process.stdout);
    });

  // Dead letters, replay, keys and prune work on the store directly; a running hub's dispatcher
  // delivers what they re-enqueue. `--config`/`--data` before the subcommand pick the store.
  program
    .option('--config <file>', 'configuration file (for dlq, replay, keys and prune)')
    .option('--data <dir>', 'data directory (for dlq, replay, keys and prune)');
  let loaded: ReturnType<typeof configFrom> | undefined;
  const globalConfig = () => {
    loaded ??= configFrom(program.opts<{ config?: string; data?: string }>());
    return loaded;
  };
  const open = async () => {
    const { createStore } = await import('../storage/index.js');
    const store = await createStore(storeOptions(await globalConfig()));
    return { store, close: () => store.close() };
  };
  registerDlqCommands(program, { open });
  registerReplayCommand(program, { open });
  registerKeyCommands(program, { open });
  registerPruneCommand(program, {
    open,
    settings: async () => {
      const config = await globalConfig();
      return { retention: config.retention, dataDir: config.dataDir };
    },
  });

  return program;
}

await buildCli()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    console.error(`crossdock: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
