/** `crossdock start`: the hub in the foreground until SIGINT/SIGTERM. */
import type { CrossdockConfig } from './config.js';
import { startDemoTraffic } from './demo-traffic.js';
import { createHub } from './hub.js';

export async function runStart(config: CrossdockConfig): Promise<void> {
  const hub = await createHub(config);
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
  if (hub.createdBootstrapSecret) {
    process.stdout.write(
      `\nAn admin API key was created. It is shown this once; keep it:\n\n  ${hub.createdBootstrapSecret}\n\n` +
        `  curl -H 'Authorization: Bearer ${hub.createdBootstrapSecret}' ${url}/api/v1/orders\n\n`,
    );
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
