/**
 * A whole hub (`createHub`: HTTP API, workflows, simulators, SQLite on its writer thread) in a
 * temporary data directory, for end-to-end suites; `dispose` closes it and removes the directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/app/config.js';
import { createHub, type Hub } from '../../src/app/hub.js';
import type { Clock } from '../../src/ports/index.js';

/** Options of {@link openTestHub}. */
export interface TestHubOptions {
  /** Config fields over the defaults (the data folder, key and log level are set here). */
  overrides?: Record<string, unknown>;
  /** The hub's clock (a manual clock for time-dependent suites). */
  clock?: Clock;
  /** Use this data folder instead of a new temporary one (it is not removed on dispose). */
  dataDir?: string;
}

export async function openTestHub(
  name: string,
  bootstrapKey: string,
  options: TestHubOptions = {},
): Promise<{ hub: Hub; dir: string; dispose: () => Promise<void> }> {
  const owned = options.dataDir === undefined;
  const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), `crossdock-${name}-`));
  const cleanup = () => {
    if (owned) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const config = await loadConfig({
      env: {},
      overrides: {
        ...options.overrides,
        // Suites send many requests without a key from one address (route matrices): no limit on
        // those unless the suite sets its own.
        server: {
          unauthenticatedRateLimit: 1_000_000,
          ...(options.overrides?.['server'] as object | undefined),
        },
        dataDir: dir,
        bootstrapKey,
        logLevel: 'silent',
      },
    });
    const hub = await createHub(config, {
      logger: pino({ level: 'silent' }),
      ...(options.clock ? { clock: options.clock } : {}),
    });
    return {
      hub,
      dir,
      dispose: async () => {
        await hub.close();
        cleanup();
      },
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}
