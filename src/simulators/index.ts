/**
 * The simulators' public face: `createSimulators` builds the whole simulated estate (CRM, ERP,
 * WMS, TMS, notifications) over one seeded demo data set, for `npm start`, tests and benchmarks.
 * Other folders import from here only.
 *
 * Every simulator keeps at most `maxRecords` records of each kind (orders, activities,
 * notifications, milestones), so a week of `--demo-traffic` holds flat memory; see bounded.ts.
 */
import type { Clock } from '../ports/index.js';
import { CrmSimulator } from './crm-simulator.js';
import { type DemoDataSet, type DemoPicks, demoPicks, generateDemoData } from './demo-data.js';
import { ErpSimulator } from './erp-simulator.js';
import { FaultInjector } from './faults.js';
import { InventoryBook } from './inventory-book.js';
import { NotificationSimulator } from './notification-simulator.js';
import { mulberry32, type RandomSource } from './random.js';
import { TmsSimulator } from './tms-simulator.js';
import { WmsSimulator } from './wms-simulator.js';

export type { CrmActivityRecord, CrmOrderStatusRecord } from './crm-simulator.js';
export { CrmSimulator } from './crm-simulator.js';
export type {
  DemoDataOptions,
  DemoDataSet,
  DemoPicks,
  DemoWarehouse,
  ErpCustomerSeed,
  OpenReceivable,
  PickedLine,
} from './demo-data.js';
export { demoPicks, demoWarehouses, generateDemoData } from './demo-data.js';
export type { ErpCustomerRecord, ErpOrderRecord } from './erp-simulator.js';
export { ErpSimulator } from './erp-simulator.js';
export {
  defaultEstateSettings,
  Estate,
  type EstateDwell,
  type EstateHooks,
  type EstateOptions,
  type EstateReturnDue,
  type EstateSettings,
  type EstateStats,
  type EstateTimers,
} from './estate.js';
export type { FaultConfig, FaultStats } from './faults.js';
export { FaultInjector, FaultPatch, healthyFaults } from './faults.js';
export {
  registerSimulatorRoutes,
  type SimulatorRouteAccess,
  type SimulatorRoutesOptions,
} from './http.js';
export { InventoryBook } from './inventory-book.js';
export type { DeliveredNotification } from './notification-simulator.js';
export { NotificationSimulator } from './notification-simulator.js';
export type { RandomSource } from './random.js';
export { mulberry32, salesforceId } from './random.js';
export type { TmsBookingRecord, TmsMilestone } from './tms-simulator.js';
export { TmsSimulator } from './tms-simulator.js';
export type { WmsAdvanceMilestone, WmsMilestone, WmsOrderRecord } from './wms-simulator.js';
export { WmsSimulator } from './wms-simulator.js';

/** The simulated systems whose faults can be configured. */
export const simulatedSystems = ['crm', 'erp', 'wms', 'tms', 'notifications'] as const;
/** One of `simulatedSystems`. */
export type SimulatedSystem = (typeof simulatedSystems)[number];

/** Options of `createSimulators`. */
export interface CreateSimulatorsOptions {
  /** Seeds the demo data and (unless `random` is given) the fault dice. */
  seed: number;
  /** "Today" for agreement validity and ETAs, and every timestamp the simulators write. */
  clock: Clock;
  /** Reuse an already generated data set (e.g. the one the hub's store was seeded from). */
  dataSet?: DemoDataSet;
  /** Sizes for small, fast tests (ignored when `dataSet` is given). */
  customerCount?: number;
  productCount?: number;
  /** Fault dice; default a mulberry32 stream from `seed` (deterministic). */
  random?: RandomSource;
  /**
   * Records of each kind each simulator keeps (orders, activities, notifications, milestones);
   * the oldest are evicted past it. Default 50,000 (config `simulators.maxRecords`).
   */
  maxRecords?: number;
  /**
   * Idempotency keys (and what a dedupe answer needs) of evicted records remembered, per kind:
   * a redelivery within that many evictions is still a duplicate. Default 4 × `maxRecords`.
   */
  maxKeys?: number;
}

/** Default of `CreateSimulatorsOptions.maxRecords` (and of config `simulators.maxRecords`). */
export const defaultSimulatorMaxRecords = 50_000;

/** The simulated estate. */
export interface Simulators {
  crm: CrmSimulator;
  erp: ErpSimulator;
  wms: WmsSimulator;
  tms: TmsSimulator;
  notifications: NotificationSimulator;
  data: DemoDataSet;
  picks: DemoPicks;
  /** The stock the ERP and WMS simulators share (read by the estate driver for receipts). */
  inventory: InventoryBook;
  /** The fault injector of each system (the same objects as `crm.faults`, …). */
  faults: Record<SimulatedSystem, FaultInjector>;
}

/** Builds the five simulators over one seeded data set, sharing stock between ERP and WMS. */
export function createSimulators(options: CreateSimulatorsOptions): Simulators {
  const data =
    options.dataSet ??
    generateDemoData({
      seed: options.seed,
      clock: options.clock,
      customerCount: options.customerCount,
      productCount: options.productCount,
    });
  const random = options.random ?? mulberry32(options.seed ^ 0x5eed);
  const faults: Record<SimulatedSystem, FaultInjector> = {
    crm: new FaultInjector('crm', random),
    erp: new FaultInjector('erp', random),
    wms: new FaultInjector('wms', random),
    tms: new FaultInjector('tms', random),
    notifications: new FaultInjector('notifications', random),
  };
  const inventory = new InventoryBook(data.inventory);
  const { clock } = options;
  const maxRecords = options.maxRecords ?? defaultSimulatorMaxRecords;
  const bounds = { maxRecords, maxKeys: options.maxKeys ?? 4 * maxRecords };
  return {
    crm: new CrmSimulator({ data, clock, faults: faults.crm, ...bounds }),
    erp: new ErpSimulator({ data, clock, faults: faults.erp, inventory, ...bounds }),
    wms: new WmsSimulator({
      clock,
      faults: faults.wms,
      inventory,
      warehouseIds: data.warehouses.map((w) => w.id),
      ...bounds,
    }),
    tms: new TmsSimulator({ clock, faults: faults.tms, seed: options.seed, ...bounds }),
    notifications: new NotificationSimulator({ clock, faults: faults.notifications, ...bounds }),
    data,
    picks: demoPicks(data),
    inventory,
    faults,
  };
}
