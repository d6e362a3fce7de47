/**
 * `crossdock start` as a child process (the real CLI on a free port, a temporary data folder):
 * a generated admin secret goes to a 0600 file in the data folder and never to stdout or stderr,
 * on SQLite and on PostgreSQL alike.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, test } from 'vitest';
import { bootstrapKeyFileName, writeBootstrapSecret } from './start.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const pgBase = process.env['CROSSDOCK_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) await stop(child);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'crossdock-start-'));
  dirs.push(dir);
  return dir;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts `crossdock start --port 0 --data <dir>` and reads its output until the listening line
 * (and, when `expectKey`, the whole key notice) has come; returns the URL and all output so far.
 */
async function start(
  dataDir: string,
  env: Record<string, string> = {},
  expectKey = true,
): Promise<{ child: ChildProcess; url: string; stdout: () => string; stderr: () => string }> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('CROSSDOCK_') && v !== undefined) base[k] = v;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'src/app/cli.ts'), 'start', '--port', '0', '--data', dataDir],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...base, CROSSDOCK_LOG_LEVEL: 'info', ...env },
    },
  );
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const listening = /crossdock listening on (http:\/\/[^\s]+)/.exec(out);
    if (listening && (!expectKey || out.includes('then delete the file'))) {
      return { child, url: listening[1]!, stdout: () => out, stderr: () => err };
    }
    if (child.exitCode !== null)
      throw new Error(`crossdock start exited with ${child.exitCode}:\n${out}\n${err}`);
    if (Date.now() > deadline) throw new Error(`crossdock start did not get ready:\n${out}\n${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function checkFirstStart(dataDir: string, env: Record<string, string> = {}): Promise<void> {
  const hub = await start(dataDir, env);
  const path = join(dataDir, bootstrapKeyFileName);
  expect(statSync(path).mode & 0o777).toBe(0o600);
  const secret = readFileSync(path, 'utf8').trim();
  expect(secret).toMatch(/^cdk_bootstrap_[0-9A-Za-z]{43}$/);
  expect(hub.stdout()).toContain(`Its secret is in ${path} (mode 0600`);
  // The simulated estate moves orders on its own under `crossdock start` with the defaults.
  expect(hub.stdout()).toContain(
    'simulated estate: the WMS, carriers and ERP move orders on their own clock',
  );
  expect(hub.stdout()).toContain(`curl -H "Authorization: Bearer $(cat ${path})" ${hub.url}/api/v1/orders`);
  const res = await fetch(`${hub.url}/api/v1/orders`, { headers: { authorization: `Bearer ${secret}` } });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  await stop(hub.child);
  expect(hub.stdout()).not.toContain(secret);
  expect(hub.stderr()).not.toContain(secret);

  // A later start creates no key, prints no notice and leaves the file as it was.
  const again = await start(dataDir, env, false);
  await new Promise((r) => setTimeout(r, 300));
  await stop(again.child);
  expect(again.stdout()).not.toContain('An admin API key was created');
  expect(readdirSync(dataDir).filter((f) => f.startsWith(bootstrapKeyFileName))).toEqual([
    bootstrapKeyFileName,
  ]);
  expect(readFileSync(path, 'utf8').trim()).toBe(secret);
}

describe('crossdock start', () => {
  test('On SQLite the generated admin secret is written to a 0600 file in the data folder, only its path is printed, and the key works.', async () => {
    await checkFirstStart(tempDir());
  }, 120_000);

  test('On PostgreSQL the secret goes to the data folder just the same.', async () => {
    const database = `cd_start_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: pgBase });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${database}`);
      const url = new URL(pgBase);
      url.pathname = `/${database}`;
      await checkFirstStart(tempDir(), { CROSSDOCK_DATABASE_URL: url.toString() });
    } finally {
      for (const child of children.splice(0)) await stop(child);
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    }
  }, 120_000);
});

describe('writeBootstrapSecret', () => {
  test('It never writes through or over an existing file: a taken name gets a timestamped file beside it.', () => {
    const dir = tempDir();
    writeFileSync(join(dir, bootstrapKeyFileName), 'old\n', { mode: 0o644 });
    const path = writeBootstrapSecret(dir, 'cdk_new', new Date('2026-12-05T10:00:00.000Z'));
    expect(path).toBe(join(dir, `${bootstrapKeyFileName}.2026-12-05T10-00-00-000Z`));
    expect(readFileSync(path, 'utf8')).toBe('cdk_new\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, bootstrapKeyFileName), 'utf8')).toBe('old\n');
  });

  test('A data folder it has to create is made readable by this user only.', () => {
    const dir = join(tempDir(), 'new', 'data');
    const path = writeBootstrapSecret(dir, 'cdk_x');
    expect(existsSync(path)).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });
});
