/**
 * The embedded data folder: private modes (folder 0700, database and its WAL/SHM 0600, looser ones
 * tightened at start) and the one-hub-per-folder lock, in-process and across real processes,
 * including a SIGKILLed hub whose folder must reopen at once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { lockDataDir } from '../../src/storage/index.js';
import { openTestHub } from '../support/hub.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const bootstrap = 'data-dir-test-bootstrap-secret-0123456789';
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'crossdock-datadir-'));
  dirs.push(d);
  return d;
}

const mode = (path: string) => statSync(path).mode & 0o777;

/** `crossdock start` as a child process on `dataDir`; resolves once it listens, or with its exit. */
function startHubProcess(
  dataDir: string,
): Promise<{ child: ChildProcess; exit: number | null; output: string }> {
  const configFile = join(dataDir, '..', `hub-${children.length}.json`);
  writeFileSync(
    configFile,
    JSON.stringify({ host: '127.0.0.1', port: 0, dataDir, bootstrapKey: bootstrap, logLevel: 'error' }),
  );
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'src/app/cli.ts'), 'start', '--config', configFile],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let output = '';
  return new Promise((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`hub neither listened nor exited in 60 s:\n${output}`)),
      60_000,
    );
    const keep = (b: Buffer) => {
      output += b.toString();
      if (output.includes('crossdock listening on')) {
        clearTimeout(timer);
        done({ child, exit: null, output });
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ child, exit: code, output });
    });
  });
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    child.once('exit', () => r());
    child.kill('SIGKILL');
  });
}

describe('data folder permissions', () => {
  test('A hub creates its data folder 0700 and its database, WAL and SHM files 0600', async () => {
    const dir = join(tempDir(), 'data');
    const { hub, dispose } = await openTestHub('modes', bootstrap, { dataDir: dir });
    try {
      await hub.store.commit({
        audit: [{ actor: 'a', action: 'x', target: 't', detail: {}, at: new Date().toISOString() }],
      });
      expect(mode(dir)).toBe(0o700);
      for (const f of ['crossdock.db', 'crossdock.db-wal', 'crossdock.db-shm', 'hub.lock']) {
        expect([f, mode(join(dir, f))]).toEqual([f, 0o600]);
      }
    } finally {
      await dispose();
    }
  });

  test('A hub started on a folder and files left world-readable tightens them to 0700 and 0600', async () => {
    const dir = join(tempDir(), 'data');
    const first = await openTestHub('loose', bootstrap, { dataDir: dir });
    await first.dispose();
    mkdirSync(join(dir, 'archive'), { recursive: true });
    writeFileSync(join(dir, 'archive', 'audit_log-2025-01.jsonl'), '{}\n');
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'crossdock.db'), 0o644);
    chmodSync(join(dir, 'archive'), 0o755);
    chmodSync(join(dir, 'archive', 'audit_log-2025-01.jsonl'), 0o644);
    const { dispose } = await openTestHub('loose', bootstrap, { dataDir: dir });
    try {
      expect(mode(dir)).toBe(0o700);
      expect(mode(join(dir, 'crossdock.db'))).toBe(0o600);
      expect(mode(join(dir, 'archive'))).toBe(0o700);
      expect(mode(join(dir, 'archive', 'audit_log-2025-01.jsonl'))).toBe(0o600);
    } finally {
      await dispose();
    }
  });
});

describe('one hub per data folder', () => {
  test('A second hub in the same process is refused with a message naming the folder; once the first closes it starts', async () => {
    const dir = join(tempDir(), 'data');
    const first = await openTestHub('lock-a', bootstrap, { dataDir: dir });
    let firstOpen = true;
    try {
      await expect(openTestHub('lock-b', bootstrap, { dataDir: dir })).rejects.toThrow(
        `another hub is running on the data folder ${dir}`,
      );
      // The refused start left the first hub's lock in place.
      expect(() => lockDataDir(dir)).toThrow(/another hub is running/);
      // The CLI's store commands still open the same folder beside the running hub.
      const { createStore } = await import('../../src/storage/index.js');
      const cli = await createStore({ dataDir: dir });
      expect(await cli.countApiKeys()).toBeGreaterThan(0);
      await cli.close();
      await first.dispose();
      firstOpen = false;
      const second = await openTestHub('lock-b', bootstrap, { dataDir: dir });
      await second.dispose();
    } finally {
      if (firstOpen) await first.dispose();
    }
  });

  test('A second hub process on the same folder exits naming it; after the first is SIGKILLed the folder reopens at once', async () => {
    const dir = join(tempDir(), 'data');
    const a = await startHubProcess(dir);
    expect(a.exit).toBeNull();
    const b = await startHubProcess(dir);
    expect(b.exit).toBe(1);
    expect(b.output).toContain(`another hub is running on the data folder ${dir}`);
    // In this process too, while the first process holds it.
    await expect(openTestHub('proc-b', bootstrap, { dataDir: dir })).rejects.toThrow(
      `another hub is running on the data folder ${dir}`,
    );
    // The kernel drops a killed process's lock: no stale lock, no waiting.
    await killed(a.child);
    const started = Date.now();
    const c = await openTestHub('proc-c', bootstrap, { dataDir: dir });
    await c.dispose();
    const d = await startHubProcess(dir);
    try {
      expect(d.exit).toBeNull();
      expect(Date.now() - started).toBeLessThan(60_000);
    } finally {
      await killed(d.child);
    }
  }, 180_000);
});
