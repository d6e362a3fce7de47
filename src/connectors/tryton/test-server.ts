/**
 * A real trytond for tests, demos and the end-to-end run: installs Tryton from Debian's
 * packages if missing, builds the prepared database once (scripts/tryton/prepare-db.sh), and
 * starts trytond on a free 127.0.0.1 port from a copy of it.
 *
 * Why a copy per server: the prepared SQLite file takes about 15 s to build and 6 ms to copy,
 * so every suite (and `reset()` between suites) starts from the same known state. Why it lives
 * in src/: the composition root can start a local Tryton for `crossdock start` demos too.
 * Failure is loud: if Tryton cannot be installed or started, this throws; it never skips.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TrytonRpcClient } from './rpc-client.js';
import type { TrytonErpConfig } from './tryton-erp.js';

const execFileAsync = promisify(execFile);

/** What the seeding script wrote about the prepared database (ids, codes, names). */
export interface TrytonManifest {
  database: string;
  company: { id: number; name: string; currency: string };
  warehouse: { id: number; code: string; storageId: number };
  integrationUser: { login: string; id: number };
  customers: {
    inCredit: { id: number; code: string; name: string; creditLimit: string };
    overLimit: { id: number; code: string; name: string; creditLimit: string };
  };
  products: { sku: string; id: number; name: string; listPrice: string; onHand: number }[];
  priceList: { id: number; name: string };
  paymentTerm: { id: number; name: string };
}

/** A running trytond and everything a test or the lead's wiring needs to talk to it. */
export interface TrytonServerHandle {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  database: string;
  username: string;
  password: string;
  manifest: TrytonManifest;
  /** Seconds the prepared database took to build (0 when it was already there). */
  prepareSeconds: number;
  /** A connector config pointing at this server (overrides merged in). */
  erpConfig(overrides?: Partial<TrytonErpConfig>): TrytonErpConfig;
  /** Stops trytond, restores the prepared database, starts again on the same port. */
  reset(): Promise<void>;
  /** Stops trytond and removes its working directory. */
  stop(): Promise<void>;
}

/** Options for {@link startTrytonServer}. */
export interface StartTrytonServerOptions {
  /** Fixed port; default a free one. */
  port?: number;
  /** Where prepared and per-run files go; default `$CROSSDOCK_TRYTON_HOME` or `<tmp>/crossdock-tryton`. */
  stateDir?: string;
  /** Max wait for trytond to answer. Default 30 s. */
  startTimeoutMs?: number;
}

/** Default integration password, set by scripts/tryton/prepare-db.sh (test databases only). */
export const defaultTrytonTestPassword = 'Xd-int3gr8-Tryton!';

function repoScriptsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i += 1) {
    const candidate = join(dir, 'scripts', 'tryton', 'prepare-db.sh');
    if (existsSync(candidate)) return join(dir, 'scripts', 'tryton');
    dir = resolve(dir, '..');
  }
  throw new Error('scripts/tryton/prepare-db.sh not found above src/connectors/tryton');
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Installs if needed, prepares the database once, starts trytond; throws loudly on failure. */
export async function startTrytonServer(options: StartTrytonServerOptions = {}): Promise<TrytonServerHandle> {
  const stateDir =
    options.stateDir ?? process.env['CROSSDOCK_TRYTON_HOME'] ?? join(tmpdir(), 'crossdock-tryton');
  const scripts = repoScriptsDir();
  const started = Date.now();
  let prepared: string;
  try {
    const { stdout } = await execFileAsync('bash', [join(scripts, 'prepare-db.sh')], {
      env: { ...process.env, CROSSDOCK_TRYTON_HOME: stateDir },
      maxBuffer: 16 * 1024 * 1024,
      timeout: 15 * 60_000,
    });
    prepared = stdout.trim().split('\n').pop() ?? '';
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`Tryton could not be installed or prepared: ${e.message}\n${e.stderr ?? ''}`);
  }
  const prepareSeconds = Number(
    (await readFile(join(prepared, 'build-seconds'), 'utf8').catch(() => '0')).trim(),
  );
  const builtNow = Date.now() - started > 5_000;
  const manifest = JSON.parse(await readFile(join(prepared, 'manifest.json'), 'utf8')) as TrytonManifest;
  const port = options.port ?? (await freePort());
  const runDir = join(stateDir, `run-${process.pid}-${port}`);
  const database = manifest.database;
  const url = `http://127.0.0.1:${port}`;
  const password = process.env['CROSSDOCK_TRYTON_PASSWORD'] ?? defaultTrytonTestPassword;
  const confPath = join(runDir, 'trytond.conf');
  let child: ChildProcess | null = null;
  let log = '';

  const boot = async (): Promise<void> => {
    await mkdir(runDir, { recursive: true });
    await copyFile(join(prepared, `${database}.sqlite`), join(runDir, `${database}.sqlite`));
    await writeFile(
      confPath,
      `[database]\nuri = sqlite://\npath = ${runDir}\n[web]\nlisten = 127.0.0.1:${port}\n[session]\ntimeout = 3600\n`,
    );
    log = '';
    const proc = spawn('trytond', ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout?.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
    });
    proc.stderr?.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
    });
    const probe = new TrytonRpcClient({ url, database, username: 'x', password: 'x', timeoutMs: 1000 });
    const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
    try {
      for (;;) {
        if (proc.exitCode !== null) throw new Error(`trytond exited with ${proc.exitCode}: ${log}`);
        try {
          await probe.version();
          return;
        } catch {
          if (Date.now() > deadline) throw new Error(`trytond did not answer on ${url}: ${log}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      await probe.close();
    }
  };

  const halt = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((done) => {
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      proc.once('exit', () => {
        clearTimeout(timer);
        done();
      });
      proc.kill('SIGTERM');
    });
  };

  try {
    await boot();
  } catch (err) {
    // Never leave a half-started trytond behind when the harness fails.
    await halt();
    throw err;
  }
  return {
    url,
    port,
    database,
    username: manifest.integrationUser.login,
    password,
    manifest,
    prepareSeconds: builtNow ? prepareSeconds : 0,
    erpConfig: (overrides = {}) => ({
      url,
      database,
      username: manifest.integrationUser.login,
      password,
      defaultWarehouse: manifest.warehouse.code,
      ...overrides,
    }),
    reset: async () => {
      await halt();
      await boot();
    },
    stop: async () => {
      await halt();
      await rm(runDir, { recursive: true, force: true });
    },
  };
}
