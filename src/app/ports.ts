/**
 * Which systems the hub talks to: the ports it gets, and the master data it loads at start.
 * The composition root asks this module once; connectors and simulators are chosen here only.
 *
 * It also decides which `/sim/*` routes exist: only those of simulators that ARE configured
 * systems of this estate (with Tryton as the ERP, the CRM and notification simulators; the
 * simulated WMS/TMS are not part of that estate), none when `simulators.routes` is off, and
 * each behind a scope (`ops:read` to inspect, `ops:write` for faults and writes). The scope
 * check is applied here because the simulators layer may not import the HTTP layer.
 */
import type { FastifyInstance } from 'fastify';
import { connectRemoteSimulators } from '../connectors/sim-http/index.js';
import { requireScope } from '../http/middleware/index.js';
import type { Clock, CrmPort, ErpPort, NotificationPort, Store, TmsPort, WmsPort } from '../ports/index.js';
import {
  createSimulators,
  type DemoDataSet,
  registerSimulatorRoutes,
  type SimulatedSystem,
  type SimulatorRouteAccess,
  type Simulators,
  simulatedSystems,
} from '../simulators/index.js';
import type { InventorySource } from '../workflows/fulfillment/index.js';
import type { CrossdockConfig } from './config.js';
import { createErp, type ErpSetup } from './erp-factory.js';
import { demoWarehouseRegions, loadDemoMasterData } from './master-data.js';

export interface HubPorts {
  crm: CrmPort;
  erp: ErpPort;
  wms: WmsPort;
  tms: TmsPort;
  notifications: NotificationPort;
  /** Where the periodic inventory refresh reads stock positions. */
  inventory: InventorySource;
  /**
   * Whether the WMS/TMS milestone feeds and warehouse planning belong to this estate: with a
   * real ERP that runs its own warehouse (Tryton), the simulated WMS must not receive releases.
   */
  warehouseFeeds: boolean;
  /** The ERP as built from config, with its guarded warehouse operations (Tryton); null when remote. */
  erpSetup: ErpSetup | null;
  /** The in-process simulators, when the estate is simulated here. */
  sims: Simulators | null;
  /** Warehouses and the regions they serve first (routing). */
  warehouses: { id: string; serves: string[] }[];
  /** Loads the hub's master data copies (customers, products, prices, inventory). */
  loadMasterData(store: Store): Promise<void>;
  /** Extra HTTP routes (the simulators' `/sim/*`). */
  routes: ((app: FastifyInstance) => void)[];
  close(): Promise<void>;
}

export async function selectPorts(config: CrossdockConfig, clock: Clock): Promise<HubPorts> {
  if (!config.simulators.enabled)
    throw new Error('simulators are disabled and no CRM/WMS connector is configured');
  if (config.simulators.url)
    return selectRemoteSimulators(config.simulators.url, config.simulators.timeoutMs);
  const sims = createSimulators({
    seed: config.simulators.seed,
    clock,
    maxRecords: config.simulators.maxRecords,
  });
  if (config.simulators.creditLimitMultiplier !== 1) {
    for (const c of sims.data.erpCustomers)
      sims.erp.setCreditLimit(c.erpId, c.creditLimit * config.simulators.creditLimitMultiplier);
  }
  const erpSetup = createErp(config, sims);
  const warehouseFeeds = config.erp.kind === 'simulator';
  const systems = configuredSimulators(config);
  return {
    crm: sims.crm,
    erp: erpSetup.erp,
    wms: sims.wms,
    tms: sims.tms,
    notifications: sims.notifications,
    inventory: erpSetup.inventory,
    warehouseFeeds,
    erpSetup,
    sims,
    warehouses: erpSetup.warehouses,
    loadMasterData: async (store) => {
      await erpSetup.masterData(store);
    },
    routes: config.simulators.routes
      ? [(app) => registerSimulatorRoutes(app, sims, { systems, guard: simulatorScope })]
      : [],
    close: () => erpSetup.close(),
  };
}

/**
 * The in-process simulators that stand in for a configured system: all of them with the
 * simulated ERP; with a real ERP (Tryton) the CRM and the customer notifications only, since
 * that ERP runs its own warehouse and the simulated WMS/TMS get no releases (`warehouseFeeds`).
 */
export function configuredSimulators(config: CrossdockConfig): SimulatedSystem[] {
  if (config.erp.kind === 'simulator') return [...simulatedSystems];
  return ['crm', 'notifications'];
}

/** The scope a `/sim/*` route needs: `ops:read` to inspect, `ops:write` to inject faults or write. */
function simulatorScope(access: SimulatorRouteAccess) {
  return requireScope(access === 'read' ? 'ops:read' : 'ops:write');
}

/**
 * The simulated estate of a simulator server (`simulators.url`): ports over HTTP, master data
 * from the data set the server was seeded with (fetched, not regenerated, so a server started
 * on another day or with another seed still matches), and no `/sim/*` routes here — the server
 * serves its own.
 */
async function selectRemoteSimulators(url: string, timeoutMs: number): Promise<HubPorts> {
  const remote = await connectRemoteSimulators({ url, timeoutMs });
  try {
    const data = (await remote.fetchDataSet()) as DemoDataSet;
    return {
      crm: remote.crm,
      erp: remote.erp,
      wms: remote.wms,
      tms: remote.tms,
      notifications: remote.notifications,
      inventory: remote.wms,
      warehouseFeeds: true,
      erpSetup: null,
      sims: null,
      warehouses: data.warehouses.map((w) => ({
        id: w.id,
        serves: demoWarehouseRegions[w.id] ?? [w.region],
      })),
      loadMasterData: async (store) => {
        await loadDemoMasterData(store, data);
      },
      routes: [],
      close: () => remote.close(),
    };
  } catch (err) {
    await remote.close();
    throw err;
  }
}
