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

export async function openTestHub(
  name: string,
  bootstrapKey: string,
): Promise<{ hub: Hub; dispose: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), `crossdock-${name}-`));
  try {
    const config = await loadConfig({
      env: {},
      overrides: { dataDir: dir, bootstrapKey, logLevel: 'silent' },
    });
    const hub = await createHub(config, { logger: pino({ level: 'silent' }) });
    return {
      hub,
      dispose: async () => {
        await hub.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
