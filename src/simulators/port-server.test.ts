import { describe, expect, test } from 'vitest';
import { createSimulators } from './index.js';
import { isLoopbackHost, startSimulatorServer } from './port-server.js';

const clock = { now: () => new Date('2025-06-15T12:00:00Z') };
const sims = () =>
  createSimulators({ seed: 42, clock, customerCount: 20, productCount: 30, maxRecords: 100 });

describe('simulator server: loopback only', () => {
  test('loopback addresses are recognised, every other host is not', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) {
      expect({ h, loopback: isLoopbackHost(h) }).toEqual({ h, loopback: true });
    }
    for (const h of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', 'example.com', '::ffff:10.0.0.1', '']) {
      expect({ h, loopback: isLoopbackHost(h) }).toEqual({ h, loopback: false });
    }
  });

  test('starting on a wildcard or external address is refused before anything listens', async () => {
    for (const host of ['0.0.0.0', '::']) {
      await expect(startSimulatorServer({ sims: sims(), host, port: 0 })).rejects.toMatchObject({
        kind: 'policy_violation',
        details: { field: 'host' },
      });
    }
  });

  test('by default it listens on 127.0.0.1', async () => {
    const server = await startSimulatorServer({ sims: sims(), port: 0 });
    try {
      expect(new URL(server.url).hostname).toBe('127.0.0.1');
      const addresses = server.app.addresses();
      expect(addresses.length).toBeGreaterThan(0);
      for (const a of addresses) expect(isLoopbackHost(typeof a === 'string' ? a : a.address)).toBe(true);
    } finally {
      await server.close();
    }
  });
});
