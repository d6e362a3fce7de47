/**
 * Optional vitest globalSetup: installs Tryton and builds the prepared database once before any
 * test file starts, so the per-file `beforeAll` only copies a file and starts trytond (< 2 s)
 * and a cold machine's install never races a hook timeout. Fails the run loudly if it cannot.
 * Enable with `globalSetup: ['test/tryton/global-setup.ts']` in vitest.config.ts.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** Runs scripts/tryton/prepare-db.sh (idempotent; a no-op when the database is prepared). */
export async function setup(): Promise<void> {
  await promisify(execFile)('bash', ['scripts/tryton/prepare-db.sh'], { timeout: 15 * 60_000 });
}
