/**
 * `crossdock start`: the hub in the foreground until SIGINT/SIGTERM.
 *
 * A generated admin secret is never printed: stdout goes to whatever collects it (journald, a
 * container log, CI), where anyone who reads logs would hold an admin key. It is written once to
 * a file of its own in the data folder (for a PostgreSQL hub too), readable by this user only, and
 * only that file's path is printed.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CrossdockConfig } from './config.js';
import { startDemoTraffic } from './demo-traffic.js';
import { createHub, type Hub } from './hub.js';

/** The file a generated admin secret is written to, in the data folder. */
export const bootstrapKeyFileName = 'bootstrap-admin-key';

/**
 * Writes `secret` to `<dataDir>/bootstrap-admin-key`, created exclusively (`wx`: never through an
 * existing file or a planted symlink, never over an earlier secret) with mode 0600 and synced, so
 * the key the store now holds is not lost to a crash. If the name is taken, by a file left from an
 * earlier data folder, the secret goes to `bootstrap-admin-key.<time>` instead. Returns the
 * absolute path.
 */
export function writeBootstrapSecret(dataDir: string, secret: string, now: Date = new Date()): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const names = [bootstrapKeyFileName, `${bootstrapKeyFileName}.${now.toISOString().replace(/[:.]/g, '-')}`];
  for (let i = 0; ; i++) {
    const path = resolve(join(dataDir, names[i]!));
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && i + 1 < names.length) continue;
      throw err;
    }
    try {
      writeSync(fd, `${secret}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return path;
  }
}

/** What `crossdock start` prints about a generated key: where it is and how to use it, not the secret. */
export function bootstrapNotice(path: string, url: string): string {
  return (
    `\nAn admin API key was created. Its secret is in ${path} (mode 0600, this user only); it is not shown here.\n\n` +
    `  read it:  cat ${path}\n` +
    `  use it:   curl -H "Authorization: Bearer $(cat ${path})" ${url}/api/v1/orders\n\n` +
    'Move it into your secret store, then delete the file.\n\n'
  );
}

/** `createHub` options of `crossdock start`: the estate driver runs unless the config turns it off. */
export const startHubOptions = { estateByDefault: true } as const;

/** What `crossdock start` prints about the estate driver (empty when it does not run). */
export function estateNotice(hub: Pick<Hub, 'estate'>): string {
  if (!hub.estate) return '';
  return (
    'simulated estate: the WMS, carriers and ERP move orders on their own clock ' +
    '(simulators.estate; set simulators.estate.enabled=false to drive them yourself)\n'
  );
}

export async function runStart(config: CrossdockConfig): Promise<void> {
  const hub = await createHub(config, startHubOptions);
  let url: string;
  try {
    url = await hub.listen();
  } catch (err) {
    // A taken port must end the process, not leave the workers running without an API.
    await hub.close();
    throw err;
  }
  const backend = hub.store.backend === 'sqlite' ? `SQLite in ${config.dataDir}` : 'PostgreSQL';
  process.stdout.write(`crossdock listening on ${url} (store: ${backend}; ERP: ${hub.erp.system})\n`);
  process.stdout.write(estateNotice(hub));
  if (hub.createdBootstrapSecret) {
    try {
      const path = writeBootstrapSecret(config.dataDir, hub.createdBootstrapSecret);
      process.stdout.write(bootstrapNotice(path, url));
    } catch (err) {
      // The secret stays unprinted even then; the CLI, which works on the store directly, makes another.
      process.stderr.write(
        `crossdock: an admin API key was created but its secret could not be written to ${config.dataDir} ` +
          `(${err instanceof Error ? err.message : String(err)}); create one with ` +
          '`crossdock keys create --name admin --scopes admin` and revoke the key "bootstrap".\n',
      );
    }
  }
  const traffic = config.demoTraffic > 0 ? await startDemoTraffic(hub, url, config.demoTraffic) : null;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    hub.logger.info({ signal }, 'shutting down');
    traffic?.stop();
    await hub.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
