/**
 * The composition root: config in, a running hub out. The only place that knows which
 * concrete store, connectors and simulators exist; everything else sees ports.
 */

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import { Dispatcher, FileAnalyticsSink, standardSubscriptions, subscriptionNames } from '../events/index.js';
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
import type { Simulators } from '../simulators/index.js';
import { createStore, withMasterDataCache } from '../storage/index.js';
import { FulfillmentSync, InventoryRefresh } from '../workflows/fulfillment/index.js';
import { CreditExposureCache, QuoteToOrder } from '../workflows/index.js';
import { type CrossdockConfig, storeOptions } from './config.js';
import { type HubPorts, selectPorts } from './ports.js';
import { version } from './version.js';

export interface Hub {
  config: CrossdockConfig;
  store: Store;
  sims: Simulators | null;
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
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface CreateHubOptions {
  clock?: Clock;
  logger?: Logger;
}

export async function createHub(config: CrossdockConfig, options: CreateHubOptions = {}): Promise<Hub> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino(loggerOptions({ level: config.logLevel }));
  const rawStore = await createStore(storeOptions(config));
  // Master data is read on every order and changes rarely: served from memory, fresh within TTL.
  const store = withMasterDataCache(rawStore, { ttlMs: config.masterDataCacheMs, clock });
  const cleanups: (() => Promise<void> | void)[] = [() => store.close()];
  try {
    await store.migrate();
    const ports = await selectPorts(config, clock);
    cleanups.unshift(() => ports.close());
    const { sims, erp, crm } = ports;
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

    mkdirSync(config.dataDir, { recursive: true });
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
      const analytics = new FileAnalyticsSink(join(config.dataDir, 'analytics-export.jsonl'));
      for (const reg of standardSubscriptions({
        crm,
        notifications: ports.notifications,
        wms: ports.wms,
        store,
        analytics,
        // A lease is how long a killed process's claims block its keys before another (or the
        // restarted) process takes them over: twice the handler timeout, not minutes.
        policies: Object.fromEntries(
          Object.values(subscriptionNames).map((name) => [
            name,
            { leaseMs: config.events.leaseMs, timeoutMs: config.events.handlerTimeoutMs },
          ]),
        ),
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
      extraRoutes: [
        (a) => registerOpsRoutes(a, { store, clock, dispatcher, webhookSecrets: config.webhooks.secrets }),
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
        source: ports.inventory,
        intervalMs: 30_000,
        onError: (err) => logger.warn({ err: String(err) }, 'inventory refresh failed'),
      });
      inventoryRefresh.start();
      cleanups.unshift(() => inventoryRefresh.stop());
    }

    return {
      config,
      store,
      sims,
      ports,
      erp,
      crm,
      workflow,
      dispatcher,
      app,
      logger,
      metrics,
      createdBootstrapSecret,
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
