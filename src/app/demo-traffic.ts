/**
 * `--demo-traffic N`: the simulated CRM converts N quotes per second into orders through the
 * hub's public API, with its own API key (orders:write), so the hub is visibly alive.
 */
import { Pool } from 'undici';
import { createApiKey } from '../http/middleware/index.js';
import { DemoOrderGenerator } from './demo-orders.js';
import type { Hub } from './hub.js';

export async function startDemoTraffic(hub: Hub, url: string, perSecond: number): Promise<{ stop(): void }> {
  if (!hub.sims) throw new Error('--demo-traffic needs the built-in simulators');
  const { record, secret } = createApiKey({
    name: 'crm-simulator',
    scopes: ['orders:write', 'orders:read'],
    rateLimit: 0,
  });
  await hub.store.putApiKey(record);
  const generator = new DemoOrderGenerator(hub.sims.data, { holdShare: 0.08, seed: Date.now() % 100000 });
  const pool = new Pool(url, { connections: 4 });
  const headers = { authorization: `Bearer ${secret}`, 'content-type': 'application/json' };
  let sent = 0;
  let failed = 0;
  const tickMs = 100;
  let carry = 0;
  const timer = setInterval(() => {
    carry += (perSecond * tickMs) / 1000;
    const n = Math.floor(carry);
    carry -= n;
    for (let i = 0; i < n; i++) {
      const body = JSON.stringify(generator.next());
      pool
        .request({
          path: '/api/v1/orders',
          method: 'POST',
          headers: { ...headers, 'idempotency-key': crypto.randomUUID() },
          body,
        })
        .then(async (res) => {
          await res.body.dump();
          sent++;
          if (res.statusCode >= 400) failed++;
        })
        .catch(() => {
          failed++;
        });
    }
  }, tickMs);
  const report = setInterval(
    () =>
      hub.logger.info(
        { sent, failed, ...(hub.estate ? { estate: hub.estate.stats() } : {}) },
        'demo traffic',
      ),
    10_000,
  );
  return {
    stop() {
      clearInterval(timer);
      clearInterval(report);
      void pool.close();
    },
  };
}
