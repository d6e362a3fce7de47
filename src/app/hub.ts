/**
 * The composition root: config in, a running hub out. The only place that knows which
 * concrete store, connectors and simulators exist; everything else sees ports.
 *
 * On embedded SQLite the hub first takes the data folder's lock (`lockDataDir`): one hub per
 * folder, since a second one would run a second dispatcher and free the first one's leases. In a
 * worker process it also runs retention (`retention.intervalMinutes`): expired idempotency keys,
 * old inbound dedupe records, delivered events, closed exceptions and audit entries are pruned,
 * the last two archived first (`storage/retention.ts`).
 */

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import { easypostWebhooks } from '../connectors/easypost/index.js';
import {
  Dispatcher,
  FileAnalyticsSink,
  standardSubscriptions,
  subscriptionNames,
  subscriptionPolicies,
} from '../events/index.js';
import { buildHttpApp } from '../http/app.js';
import {
  createMetrics,
  ensureBootstrapKey,
  type HttpMetrics,
  loggerOptions,
} from '../http/middleware/index.js';
import { registerOpsRoutes } from '../http/routes/ops.js';
import type { Clock, CrmPort, ErpPort, Store } from '../ports/index.js';
import { systemClock } from '../ports/index.js';
import { Estate, type Simulators } from '../simulators/index.js';
import {
  createStore,
  type DataDirLock,
  isPostgresUrl,
  lockDataDir,
  prepareDataDir,
  type RetentionRunResult,
  runRetention,
  withMasterDataCache,
} from '../storage/index.js';
import {
  Backorders,
  CarrierBooking,
  FulfillmentSync,
  InventoryRefresh,
} from '../workflows/fulfillment/index.js';
import { CreditExposureCache, escalateAgedHolds, QuoteToOrder } from '../workflows/index.js';
import { requestReturn } from '../workflows/returns/index.js';
import { type CrossdockConfig, estateEnabled, storeOptions } from './config.js';
import { type HubPorts, selectPorts } from './ports.js';
import { version } from './version.js';

export interface Hub {
  config: CrossdockConfig;
  store: Store;
  sims: Simulators | null;
  /**
   * The estate driver moving the in-process simulators on their own clock, when it runs
   * (`simulators.estate`, see `estateEnabled`); null otherwise.
   */
  estate: Estate | null;
  /** The systems this hub talks to, as chosen from config. */
  ports: HubPorts;
  erp: ErpPort;
  crm: CrmPort;
  workflow: QuoteToOrder;
  /** Outbox → subscriptions; null in an API-only process (`workers: false`). */
  dispatcher: Dispatcher | null;
  app: FastifyInstance;
  logger: Logger;
  metrics: HttpMetrics;
  /** The secret of a bootstrap key created on this start (print it once), if any. */
  createdBootstrapSecret: string | null;
  /** The retention job (scheduled in a worker process when `retention.intervalMinutes` > 0). */
  retention: RetentionJob;
  listen(): Promise<string>;
  close(): Promise<void>;
}

/** Prunes what retention no longer needs (see `storage/retention.ts`). */
export interface RetentionJob {
  /** Whether it runs on a timer in this process. */
  readonly scheduled: boolean;
  /** Runs once now (a run already going is joined, not doubled) and logs what it pruned. */
  runOnce(): Promise<RetentionRunResult>;
}

/** Whether `config` puts the store in a SQLite file under `dataDir` (not PostgreSQL, not memory). */
function usesDataDirStore(config: CrossdockConfig): boolean {
  return (
    !isPostgresUrl(config.databaseUrl) && config.databaseUrl !== ':memory:' && config.dataDir !== ':memory:'
  );
}

/** The first retention run comes this long after start (or after one interval, if shorter). */
const firstRetentionDelayMs = 60_000;

export interface CreateHubOptions {
  clock?: Clock;
  logger?: Logger;
  /**
   * Whether the estate driver runs when `simulators.estate.enabled` is unset: `crossdock start`
   * passes true; embedded hubs (tests, benchmarks) leave it off.
   */
  estateByDefault?: boolean;
}

export async function createHub(config: CrossdockConfig, options: CreateHubOptions = {}): Promise<Hub> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino(loggerOptions({ level: config.logLevel }));
  // One hub per SQLite data folder, before anything opens the store: a second hub fails here,
  // naming the folder. The lock is released last on close; `cleanups` keeps it referenced (an
  // unreferenced lock connection would be garbage-collected, and the lock with it).
  let lock: DataDirLock | null = null;
  if (usesDataDirStore(config)) {
    const tightened = prepareDataDir(config.dataDir);
    if (tightened.length > 0)
      logger.warn({ paths: tightened }, 'data folder permissions tightened to 0700/0600');
    lock = lockDataDir(config.dataDir);
  }
  let rawStore: Store;
  try {
    rawStore = await createStore(storeOptions(config));
  } catch (err) {
    lock?.release();
    throw err;
  }
  // Master data is read on every order and changes rarely: served from memory, fresh within TTL.
  const store = withMasterDataCache(rawStore, { ttlMs: config.masterDataCacheMs, clock });
  const cleanups: (() => Promise<void> | void)[] = [() => store.close(), () => lock?.release()];
  try {
    await store.migrate();
    const ports = await selectPorts(config, clock);
    cleanups.unshift(() => ports.close());
    const { sims, erp, crm } = ports;
    const estate = config.workers && sims ? startEstate(config, store, sims, clock, logger, options) : null;
    if (estate) cleanups.unshift(() => estate.stop());
    await ports.loadMasterData(store);
    const policies = {
      ...config.policies,
      warehouses: config.policies.warehouses.length > 0 ? config.policies.warehouses : ports.warehouses,
    };
    const workflow = new QuoteToOrder({
      store,
      erp,
      crm,
      clock,
      policies,
      credit: new CreditExposureCache(erp, clock),
      onBackgroundError: (orderId, err) =>
        logger.warn({ orderId, err: String(err) }, 'ERP step of an accepted decision failed; retrying'),
    });

    if (!usesDataDirStore(config)) mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const dispatcher = config.workers
      ? new Dispatcher({
          store,
          clock,
          idleMs: config.events.pollMs,
          onLoopError: (sub, err) =>
            logger.warn({ subscription: sub, err: String(err) }, 'delivery loop error'),
        })
      : null;
    if (dispatcher) {
      const analytics = new FileAnalyticsSink(join(config.dataDir, 'analytics-export.jsonl'), {
        rotateBytes: config.analytics.rotateBytes,
        rotateHours: config.analytics.rotateHours,
        dedupeWindow: config.analytics.dedupeWindow,
        syncIntervalMs: config.analytics.syncIntervalMs,
      });
      // Closed after the dispatcher stops (cleanups run newest first).
      cleanups.unshift(() => analytics.close());
      // Recover the dedupe window now rather than at the first delivery, and say what was found.
      void analytics.open().then(
        (found) => logger.info({ analyticsExport: found }, 'analytics export opened'),
        (err) =>
          logger.warn(
            { err: String(err) },
            'analytics export could not be opened; its deliveries will retry',
          ),
      );
      // Packed shipments are booked with the estate's TMS (not where a real ERP runs the warehouse).
      const booking = ports.warehouseFeeds
        ? new CarrierBooking({ store, clock, tms: ports.tms, rules: policies.shipping.carriers })
        : null;
      // Backorders are promised, announced and released to the estate's WMS when stock arrives.
      const backorders = ports.warehouseFeeds
        ? new Backorders({ store, clock, wms: ports.wms, leadDays: policies.default.backorderLeadDays })
        : null;
      for (const reg of standardSubscriptions({
        crm,
        notifications: ports.notifications,
        wms: ports.wms,
        store,
        analytics,
        ...(booking ? { bookCarrier: booking.handle } : {}),
        ...(backorders ? { handleBackorders: backorders.handle } : {}),
        // A lease is how long a killed process's claims block its keys before another (or the
        // restarted) process takes them over: twice the handler timeout, not minutes.
        // Each subscription's own delivery settings (events.subscriptions) go over the defaults.
        policies: subscriptionPolicies(config.events),
      })) {
        if (reg.name === subscriptionNames.warehousePlanning && !ports.warehouseFeeds) continue;
        dispatcher.register(reg);
      }
      // Embedded SQLite has one process: any lease left at start was held by a process that died
      // (a crash, a SIGKILL), so its deliveries resume now rather than when the lease expires.
      if (store.backend === 'sqlite') {
        const freed = await store.releaseForeignLeases(dispatcher.owner);
        if (freed > 0) logger.info({ freed }, 'released delivery leases left by a previous process');
      }
      await dispatcher.start();
      cleanups.unshift(() => dispatcher.stop());
    }

    const metrics = createMetrics();
    const app = await buildHttpApp({
      store,
      workflow,
      clock,
      logger,
      metrics,
      version,
      defaultRateLimit: config.defaultRateLimit,
      bodyLimitBytes: config.bodyLimitBytes,
      server: config.server,
      extraRoutes: [
        (a) =>
          registerOpsRoutes(a, {
            store,
            clock,
            dispatcher,
            metrics,
            webhookSecrets: config.webhooks.secrets,
            carrierWebhooks: { easypost: easypostWebhooks },
            webhookRefusalLimit: {
              perSecond: config.webhooks.refusalsPerSecond,
              burst: config.webhooks.refusalBurst,
            },
          }),
        ...ports.routes,
      ],
    });
    cleanups.unshift(() => app.close());

    const boot = await ensureBootstrapKey(
      store,
      { CROSSDOCK_BOOTSTRAP_KEY: config.bootstrapKey },
      clock.now(),
    );
    const createdBootstrapSecret = boot.created ? boot.secret : null;

    // Finish orders whose ERP step did not complete (crash, outage, 202): at start, then often.
    const resume = () =>
      workflow.resumePending().catch((err) => logger.warn({ err: String(err) }, 'resume failed'));
    if (config.workers) {
      await resume();
      const timer = setInterval(resume, 2000);
      timer.unref();
      cleanups.unshift(() => clearInterval(timer));

      // A hold older than its policy's limit becomes an escalated exception for its owner.
      const agedHolds = setInterval(
        () =>
          void escalateAgedHolds({ store, clock, policies }).catch((err) =>
            logger.warn({ err: String(err) }, 'aged-hold escalation failed'),
          ),
        300_000,
      );
      agedHolds.unref();
      cleanups.unshift(() => clearInterval(agedHolds));

      // Milestones from ERP/WMS/TMS flow back into order state, timeline and outbox.
      const fulfillment = new FulfillmentSync({
        store,
        clock,
        erp,
        ...(ports.warehouseFeeds ? { wms: ports.wms, tms: ports.tms } : {}),
        intervalMs: 1000,
        onError: (feed, err) => logger.warn({ feed, err: err.toJSON() }, 'fulfillment sync failed'),
      });
      fulfillment.start();
      cleanups.unshift(() => fulfillment.stop());
      const inventoryRefresh = new InventoryRefresh({
        store,
        clock,
        source: ports.inventory,
        intervalMs: 30_000,
        onError: (err) => logger.warn({ err: String(err) }, 'inventory refresh failed'),
      });
      inventoryRefresh.start();
      cleanups.unshift(() => inventoryRefresh.stop());
    }

    const retention = retentionJob(config, store, clock, logger);
    cleanups.unshift(() => retention.stop());

    return {
      config,
      store,
      sims,
      estate,
      ports,
      erp,
      crm,
      workflow,
      dispatcher,
      app,
      logger,
      metrics,
      createdBootstrapSecret,
      retention,
      async listen() {
        return app.listen({ host: config.host, port: config.port });
      },
      async close() {
        for (const c of cleanups) await c();
      },
    };
  } catch (err) {
    for (const c of cleanups) await Promise.resolve(c()).catch(() => undefined);
    throw err;
  }
}

/**
 * The estate driver over the in-process simulators, started, when `estateEnabled` says it runs
 * (and the simulated WMS gets the releases: not where a real ERP runs the warehouse).
 */
function startEstate(
  config: CrossdockConfig,
  store: Store,
  sims: Simulators,
  clock: Clock,
  logger: Logger,
  options: CreateHubOptions,
): Estate | null {
  if (!estateEnabled(config, options.estateByDefault ?? false)) return null;
  const { enabled: _enabled, seed, ...settings } = config.simulators.estate;
  const estate = new Estate({
    clock,
    seed: seed ?? config.simulators.seed,
    wms: sims.wms,
    tms: sims.tms,
    erp: sims.erp,
    inventory: sims.inventory,
    settings: { ...settings, maxTracked: config.simulators.maxRecords },
    hooks: {
      // The customer asks for a return through a CRM case, as `crm.return_requested.v1` would
      // (the same case again is the same return); the returns flow takes it from there.
      requestReturn: async (due) => {
        const r = await requestReturn({ store, clock }, due.hubOrderId, {
          system: 'crm',
          caseId: `estate-${due.shipmentId}`,
          by: 'estate',
          lines: due.returnLines,
        });
        return { returnId: r.ret.id };
      },
      onError: (step, err) => logger.warn({ step, err: String(err) }, 'estate step failed'),
    },
  });
  estate.start();
  logger.info(
    { tickMs: estate.settings.tickMs, dwell: estate.settings.dwell },
    'estate driver on: the simulated WMS, TMS and ERP move orders on their own clock (simulators.estate)',
  );
  return estate;
}

/**
 * The retention job of a hub: `runOnce` on demand, and in a worker process (`config.workers`) on
 * an unref'd timer, first a minute after start, then every `retention.intervalMinutes`. Runs never
 * overlap; `stop` clears the timers and ends a run between two batches (what it pruned stays).
 */
function retentionJob(
  config: CrossdockConfig,
  store: Store,
  clock: Clock,
  logger: Logger,
): RetentionJob & { stop(): Promise<void> } {
  // Node runs a timer longer than 2^31-1 ms after 1 ms instead: a very long interval is capped (~24.8 days).
  const intervalMs = Math.min(config.retention.intervalMinutes * 60_000, 2 ** 31 - 1);
  const scheduled = config.workers && intervalMs > 0;
  const abort = new AbortController();
  let running: Promise<RetentionRunResult> | null = null;
  const runOnce = (): Promise<RetentionRunResult> => {
    running ??= runRetention(store, config.retention, {
      dataDir: config.dataDir,
      now: clock.now(),
      signal: abort.signal,
    })
      .then((r) => {
        const total = Object.values(r.counts).reduce((a, b) => a + b, 0);
        const line = { pruned: r.counts, archived: r.archived, durationMs: r.durationMs };
        if (total > 0) logger.info(line, 'retention: pruned');
        else logger.debug(line, 'retention: nothing to prune');
        return r;
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
  const tick = () => {
    if (abort.signal.aborted) return;
    runOnce().catch((err) => logger.warn({ err: String(err) }, 'retention run failed; next run retries'));
  };
  let first: NodeJS.Timeout | null = null;
  let every: NodeJS.Timeout | null = null;
  if (scheduled) {
    first = setTimeout(tick, Math.min(firstRetentionDelayMs, intervalMs));
    first.unref();
    every = setInterval(tick, intervalMs);
    every.unref();
  }
  return {
    scheduled,
    runOnce,
    async stop() {
      abort.abort();
      if (first) clearTimeout(first);
      if (every) clearInterval(every);
      await running?.catch(() => undefined);
    },
  };
}
