/**
 * When the estate driver runs: on by default under `crossdock start` (its `createHub` options),
 * off by default in embedded hubs (tests, benchmarks), off when the config says so, and never
 * with a real ERP or a remote simulator server. Its settings are validated with the field named.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { estateEnabled, loadConfig } from '../../src/app/config.js';
import { createHub } from '../../src/app/hub.js';
import { estateNotice, startHubOptions } from '../../src/app/start.js';
import { defaultEstateSettings } from '../../src/simulators/index.js';

const tryton = {
  kind: 'tryton',
  url: 'http://127.0.0.1:8000',
  database: 'd',
  username: 'u',
  password: 'p',
};

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('simulators.estate', () => {
  test('defaults: on under crossdock start, off in embedded hubs; the shipped settings', async () => {
    const config = await loadConfig({ env: {}, overrides: {} });
    expect(config.simulators.estate.enabled).toBeUndefined();
    expect(estateEnabled(config, startHubOptions.estateByDefault)).toBe(true);
    expect(estateEnabled(config, false)).toBe(false);
    const { enabled: _e, seed: _s, ...settings } = config.simulators.estate;
    const { maxTracked: _m, ...shipped } = defaultEstateSettings;
    expect(settings).toEqual(shipped);
    // A demo order is delivered within a few minutes of release at the defaults (jitter included).
    const d = shipped.dwell;
    const toDelivered = d.pick + d.pack + d.ship + d.inTransit + d.outForDelivery + d.deliver;
    expect(toDelivered * (1 + shipped.jitter)).toBeLessThan(3 * 60_000);
  });

  test('enabled false turns it off under start too; enabled true turns it on in an embedded hub', async () => {
    const off = await loadConfig({ env: {}, overrides: { simulators: { estate: { enabled: false } } } });
    expect(estateEnabled(off, true)).toBe(false);
    const on = await loadConfig({ env: {}, overrides: { simulators: { estate: { enabled: true } } } });
    expect(estateEnabled(on, false)).toBe(true);
  });

  test('never with a real ERP (Tryton runs the warehouse) or a remote simulator server, even when enabled', async () => {
    const withTryton = await loadConfig({
      env: {},
      overrides: { erp: tryton, simulators: { estate: { enabled: true } } },
    });
    expect(estateEnabled(withTryton, true)).toBe(false);
    const remote = await loadConfig({
      env: {},
      overrides: { simulators: { url: 'http://127.0.0.1:9999', estate: { enabled: true } } },
    });
    expect(estateEnabled(remote, true)).toBe(false);
  });

  test('bad settings are refused with the field named, an unknown key too', async () => {
    await expect(
      loadConfig({ env: {}, overrides: { simulators: { estate: { shortPickRate: 2 } } } }),
    ).rejects.toThrow(/simulators\.estate\.shortPickRate/);
    await expect(
      loadConfig({ env: {}, overrides: { simulators: { estate: { dwell: { pick: -1 } } } } }),
    ).rejects.toThrow(/simulators\.estate\.dwell\.pick/);
    await expect(
      loadConfig({ env: {}, overrides: { simulators: { estate: { shortPickrate: 0.5 } } } }),
    ).rejects.toThrow(/simulators\.estate.*shortPickrate/);
  });

  test('a hub built as crossdock start builds it runs the estate and says so; closed, it stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crossdock-estate-start-'));
    dirs.push(dir);
    const config = await loadConfig({ env: {}, overrides: { dataDir: dir, logLevel: 'silent' } });
    const hub = await createHub(config, { ...startHubOptions, logger: pino({ level: 'silent' }) });
    try {
      expect(hub.estate?.running).toBe(true);
      expect(estateNotice(hub)).toContain('simulators.estate.enabled=false');
    } finally {
      await hub.close();
    }
    expect(hub.estate?.running).toBe(false);
    expect(estateNotice({ estate: null })).toBe('');
  }, 60_000);
});
