/**
 * Once per `npm test`: make sure the real services the suites use are there, so a fresh
 * machine needs no manual step (CONTRACT.md: "started by the test set-up, not by hand").
 * - PostgreSQL on 127.0.0.1:5432: started with pg_ctlcluster when installed but down. When it
 *   is missing altogether the PostgreSQL suites fail loudly (`.ci/run` installs it).
 * - Tryton: installed from Debian's packages and its prepared database built once, before any
 *   test file's hooks start their timers (see test/tryton/global-setup.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { setup as prepareTryton } from './tryton/global-setup.js';

const run = promisify(execFile);

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

async function ensurePostgres(): Promise<void> {
  if (await answers(5432)) return;
  if (!existsSync('/etc/postgresql')) {
    process.stderr.write(
      'test setup: PostgreSQL is not installed; the PostgreSQL suites will fail (run .ci/run)\n',
    );
    return;
  }
  for (const version of readdirSync('/etc/postgresql')) {
    await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start']).catch(
      () => undefined,
    );
  }
  for (let i = 0; i < 30 && !(await answers(5432)); i++) await new Promise((r) => setTimeout(r, 500));
}

export async function setup(): Promise<void> {
  await ensurePostgres();
  await prepareTryton();
}
