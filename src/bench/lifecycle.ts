/**
 * `crossdock bench lifecycle`: the fulfillment side of an order's life, in two figures.
 *
 * (a) Milestones applied per second, in process: `count` orders already released to a warehouse
 *     (one warehouse order each), then the WMS's picked, packed and shipped reports for every one
 *     applied through `commitReport`, the one path the polled feeds and the signed webhooks share
 *     (plan, one commit with the order's version, the timeline entry, the outbox events and the
 *     inbound dedupe record), 32 orders at a time and each order's reports in order, as
 *     `FulfillmentSync` does. The store has the hub's standard subscriptions defined, so every
 *     commit also fans its events out to them; nothing delivers meanwhile (this figure is the
 *     apply path alone). Goal: 5,000 milestones/s on the 2-core machine. `batched` applies the
 *     same milestones of as many other orders with `commitReports`, an order's three in one
 *     commit, as the feed does when one page holds all three.
 * (b) Propagation latency WMS shipped → CRM updated, in a whole hub (`createHub`: its dispatcher,
 *     the shipped subscriptions and delivery defaults, the simulated CRM): shipped reports for
 *     released orders applied at an offered `rate` per second (open loop) for `duration` seconds;
 *     for each, the time from the moment its commit returned to the moment the CRM simulator
 *     recorded the order as shipped (and, in `fromOffered`, from the moment the report was due,
 *     which counts a backlog in front of the apply too). Goal: p99 under 2 s at 1,000 orders/s.
 *
 * Both on SQLite in a temporary data folder (or a fresh PostgreSQL database with
 * `--backend postgres`). Progress goes to stderr; `--json` prints one line of JSON last with
 * CONTRACT.md's fields for (a) (`p50Ms`/`p99Ms`: one report's apply call), `propagation` for
 * (b), and the machine's facts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../app/config.js';
import { createHub } from '../app/hub.js';
import { customerStatus, type SalesOrder } from '../domain/index.js';
import { Dispatcher, MemoryAnalyticsSink, ProgressBar, standardSubscriptions } from '../events/index.js';
import type { CrmOrderStatusUpdate, Store, WmsFeedMilestone } from '../ports/index.js';
import { systemClock } from '../ports/index.js';
import { createSimulators } from '../simulators/index.js';
import { commitReport, commitReports, fromWmsMilestone } from '../workflows/fulfillment/index.js';
import { benchStore, percentile, rssMb } from './events-common.js';
import type { BenchResult } from './report.js';

/** Options of {@link runLifecycleBench}. */
export interface LifecycleBenchOptions {
  backend: 'sqlite' | 'postgres';
  /** Released orders whose picked, packed and shipped reports are applied in (a); default 20,000. */
  count?: number;
  /** Offered shipped reports per second in (b); default 1,000. */
  rate?: number;
  /** Seconds of offered load in (b); default 10. */
  duration?: number;
  /** Where progress is drawn (stderr in the CLI). */
  progress?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** What (a) measured: CONTRACT.md's figures. */
type ApplyResult = Pick<
  BenchResult,
  'count' | 'seconds' | 'perSecond' | 'p50Ms' | 'p99Ms' | 'errors' | 'lost' | 'duplicates'
> & {
  /** The same milestones of as many other orders, each order's three in one `commitReports` unit. */
  batched: { count: number } & ApplyRun;
};

/** What (b) measured. */
export interface PropagationResult {
  offeredPerSecond: number;
  /** Shipped reports whose commit returned, per second over the offered period. */
  appliedPerSecond: number;
  orders: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /**
   * The same, counted from the moment each report was due at the offered rate: what a sender
   * sees when the apply itself falls behind (then `appliedPerSecond` < `offeredPerSecond`).
   */
  fromOffered: { p50Ms: number; p99Ms: number };
  /** Orders the CRM never recorded as shipped (within 60 s of the last report). */
  lost: number;
  /** CRM order-status writes made twice under one idempotency key. */
  duplicates: number;
  errors: number;
}

/** The lifecycle bench's JSON: CONTRACT.md's fields for (a), `propagation` for (b). */
export interface LifecycleBenchResult extends BenchResult {
  scenario: 'lifecycle';
  orders: number;
  milestonesPerOrder: number;
  batched: ApplyResult['batched'];
  propagation: PropagationResult;
  goals: {
    milestonesPerSecond: number;
    propagationP99Ms: number;
    met: { apply: boolean; propagation: boolean };
  };
  machine: { cpus: number; cpuModel: string; memoryMb: number; node: string; platform: string };
  durability: string;
}

const warehouseId = 'WH-BENCH';
const sku = 'BENCH-SKU-1';
const wmsSystem = 'wms-sim';
const eventSource = '/crossdock/fulfillment-sync';
/** Orders applied side by side, as the feed's default concurrency. */
const lanes = 32;

/** An order released to one warehouse (its warehouse order allocated), as the feed leaves it. */
function releasedOrder(id: string, customerId: string, now: Date): SalesOrder {
  const at = now.toISOString();
  const shipmentId = `WO-${id}`;
  return {
    id,
    version: 1,
    source: { system: 'crm', ref: `OPP-${id}` },
    customerId,
    currency: 'USD',
    shipTo: { kind: 'shipping', line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
    shippingMethod: 'ground',
    lines: [
      {
        lineNo: 1,
        sku,
        quantity: 2,
        uom: 'EA',
        unitPrice: 10,
        agreedPrice: null,
        allocations: [{ warehouseId, quantity: 2 }],
        backorderedQuantity: 0,
        promiseDate: null,
      },
    ],
    total: 20,
    state: 'released',
    customerStatus: customerStatus('released'),
    milestones: [],
    holds: [],
    rejection: null,
    fulfillmentPlan: null,
    externalIds: { erpOrderId: `SO-${id}` },
    shipments: [
      {
        id: shipmentId,
        orderId: id,
        warehouseId,
        lines: [{ sku, quantity: 2 }],
        status: 'allocated',
        events: (['released', 'allocated'] as const).map((type) => ({
          id: `wms:${shipmentId}:${type}`,
          shipmentId,
          type,
          at,
          source: 'wms' as const,
        })),
        externalIds: { wms: shipmentId },
      },
    ],
    invoices: [],
    correlationId: `corr-${id}`,
    createdAt: at,
    updatedAt: at,
  };
}

/** The WMS's report of one milestone of an order's warehouse order, as its feed hands it over. */
function wmsReport(order: SalesOrder, type: 'picked' | 'packed' | 'shipped', now: Date) {
  const m: WmsFeedMilestone = {
    id: `${order.id}:${type}`,
    deliveryId: `${order.id}:${type}`,
    hubOrderId: order.id,
    shipmentId: `WO-${order.id}`,
    warehouseId,
    type,
    at: now.toISOString(),
    ...(type === 'shipped' ? { lines: [{ sku, quantity: 2 }] } : {}),
  };
  const report = fromWmsMilestone(wmsSystem, m);
  return { report, inbound: { source: `fulfillment.wms.${wmsSystem}`, id: m.deliveryId } };
}

/** Commits `orders` as new orders, `lanes` at a time. */
async function seed(store: Store, orders: SalesOrder[], bar: ProgressBar): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < orders.length) {
      const order = orders[next++]!;
      await store.commit({ order: { next: order, expectedVersion: null } });
      bar.update(++done, orders.length);
    }
  };
  await Promise.all(Array.from({ length: lanes }, worker));
  bar.done();
}

/** (a): picked, packed and shipped of `count` released orders through `commitReport`. */
async function applyPhase(
  opts: LifecycleBenchOptions,
  count: number,
  stream: ProgressBarStream,
): Promise<ApplyResult> {
  const { store, dispose } = await benchStore(opts.backend);
  try {
    // The hub's standard subscriptions, defined (so commits fan out to them) but not running.
    const sims = createSimulators({ seed: 7, clock: systemClock, customerCount: 20, productCount: 20 });
    const dispatcher = new Dispatcher({ store, owner: 'bench-lifecycle' });
    for (const reg of standardSubscriptions({
      crm: sims.crm,
      notifications: sims.notifications,
      wms: sims.wms,
      store,
      analytics: new MemoryAnalyticsSink(),
      bookCarrier: async () => 'skipped',
      handleBackorders: async () => 'skipped',
    }))
      dispatcher.register(reg);
    await dispatcher.init();
    const now = new Date();
    const make = (prefix: string) =>
      Array.from({ length: count }, (_, i) =>
        releasedOrder(`ord_bench_${prefix}_${String(i).padStart(7, '0')}`, `CUST-${i % 200}`, now),
      );
    const single = make('a');
    const together = make('t');
    await seed(
      store,
      [...single, ...together],
      new ProgressBar(stream, `lifecycle (a): ${(2 * count).toLocaleString('en-US')} released orders`),
    );
    const deps = { store, clock: systemClock, eventSource };
    const total = count * milestones.length;

    // One report per commit (a webhook each, or a feed page with one entry of the order).
    const one = await applyAll(single, total, stream, 'one report per commit', async (order) => {
      let current = order;
      let applied = 0;
      for (const type of milestones) {
        const { report, inbound } = wmsReport(current, type, new Date());
        const r = await commitReport(deps, report, { order: current, inbound });
        if (r.outcome !== 'applied') return applied;
        applied++;
        current = r.order;
      }
      return applied;
    });
    // An order's three reports in one commit (`commitReports`: a feed page holding all three).
    const batched = await applyAll(
      together,
      total,
      stream,
      "an order's 3 reports per commit",
      async (order) => {
        const reports = milestones.map((type) => wmsReport(order, type, new Date()).report);
        const r = await commitReports(deps, reports, {
          order,
          inbound: { source: `fulfillment.wms.${wmsSystem}`, id: `${order.id}:together` },
        });
        return r.outcome === 'committed' ? r.outcomes.filter((o) => o === 'applied').length : 0;
      },
    );

    // Every order must have reached `shipped` with each milestone recorded once: read them back.
    let lost = 0;
    let duplicates = 0;
    for (const o of [...single, ...together]) {
      const order = await store.getOrder(o.id);
      const events = order?.shipments[0]?.events.length ?? 0;
      if (order?.state !== 'shipped' || events < 2 + milestones.length) lost++;
      else if (events > 2 + milestones.length) duplicates++;
    }
    return {
      count: total,
      seconds: one.seconds,
      perSecond: one.perSecond,
      p50Ms: one.p50Ms,
      p99Ms: one.p99Ms,
      errors: one.errors + batched.errors,
      lost,
      duplicates,
      batched: { count: total, ...batched },
    };
  } finally {
    await dispose();
  }
}

type ProgressBarStream = NodeJS.WritableStream & { isTTY?: boolean };

const milestones = ['picked', 'packed', 'shipped'] as const;

/** Per-order timing of one way of applying: rate over all orders, and latency per order's call(s). */
interface ApplyRun {
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/**
 * Applies each order's milestones with `apply` (which returns how many it applied), `lanes`
 * orders side by side; p50/p99 are per report (an order's time divided by its reports).
 */
async function applyAll(
  orders: SalesOrder[],
  total: number,
  stream: ProgressBarStream,
  label: string,
  apply: (order: SalesOrder) => Promise<number>,
): Promise<ApplyRun> {
  const latencies: number[] = [];
  let errors = 0;
  let applied = 0;
  let next = 0;
  const bar = new ProgressBar(
    stream,
    `lifecycle (a): ${total.toLocaleString('en-US')} WMS milestones, ${label}`,
  );
  const t0 = performance.now();
  const worker = async () => {
    while (next < orders.length) {
      const order = orders[next++]!;
      const c0 = performance.now();
      let n = 0;
      try {
        n = await apply(order);
      } catch {
        n = 0;
      }
      const per = (performance.now() - c0) / milestones.length;
      for (let i = 0; i < milestones.length; i++) latencies.push(per);
      applied += n;
      errors += milestones.length - n;
      bar.update(applied + errors, total);
    }
  };
  await Promise.all(Array.from({ length: lanes }, worker));
  const seconds = (performance.now() - t0) / 1000;
  bar.done();
  return {
    seconds: Math.round(seconds * 1000) / 1000,
    perSecond: Math.round(applied / seconds),
    p50Ms: Math.round(percentile(latencies, 50) * 100) / 100,
    p99Ms: Math.round(percentile(latencies, 99) * 100) / 100,
    errors,
  };
}

/** (b): shipped → CRM latency in a whole hub, at `rate` shipped reports per second. */
async function propagationPhase(
  opts: LifecycleBenchOptions,
  rate: number,
  duration: number,
  stream: ProgressBarStream,
): Promise<PropagationResult> {
  const dir = mkdtempSync(join(tmpdir(), 'crossdock-bench-lifecycle-'));
  const database = opts.backend === 'postgres' ? await freshDatabase('crossdock_bench_lifecycle') : null;
  try {
    const config = await loadConfig({
      env: {},
      overrides: {
        dataDir: dir,
        logLevel: 'warn',
        bootstrapKey: 'bench-lifecycle-secret-0123456789abcdef',
        // The bench reports the milestones itself: the simulated estate's own driver stays off.
        simulators: { estate: { enabled: false } },
        ...(database ? { databaseUrl: database.url } : {}),
      },
    });
    const hub = await createHub(config, { logger: pino({ level: 'warn' }) });
    try {
      const crm = hub.sims!.crm;
      const recordedAt = new Map<string, number>();
      const writes = new Map<string, number>();
      const upsert = crm.upsertOrderStatus.bind(crm);
      crm.upsertOrderStatus = async (u: CrmOrderStatusUpdate) => {
        const r = await upsert(u);
        writes.set(u.idempotencyKey, (writes.get(u.idempotencyKey) ?? 0) + 1);
        if (u.state === 'shipped' && !recordedAt.has(u.hubOrderId))
          recordedAt.set(u.hubOrderId, performance.now());
        return r;
      };
      const count = Math.max(1, Math.round(rate * duration));
      const now = new Date();
      const customers = hub.sims!.data.customers;
      const orders = Array.from({ length: count }, (_, i) =>
        releasedOrder(`ord_bench_b_${String(i).padStart(7, '0')}`, customers[i % customers.length]!.id, now),
      );
      await seed(
        hub.store,
        orders,
        new ProgressBar(stream, `lifecycle (b): ${count.toLocaleString('en-US')} released orders`),
      );

      const appliedAt = new Map<string, number>();
      const dueAt = new Map<string, number>();
      const deps = { store: hub.store, clock: systemClock, eventSource };
      let errors = 0;
      const inFlight = new Set<Promise<void>>();
      const bar = new ProgressBar(stream, `lifecycle (b): shipped at ${rate.toLocaleString('en-US')}/s`);
      const t0 = performance.now();
      for (let i = 0; i < count; i++) {
        const wait = t0 + (i / rate) * 1000 - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        const order = orders[i]!;
        dueAt.set(order.id, t0 + (i / rate) * 1000);
        const { report, inbound } = wmsReport(order, 'shipped', new Date());
        const p = commitReport(deps, report, { order, inbound }).then(
          (r) => {
            if (r.outcome === 'applied') appliedAt.set(order.id, performance.now());
            else errors++;
          },
          () => {
            errors++;
          },
        );
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
        bar.update(i + 1, count);
      }
      await Promise.all(inFlight);
      const offeredSeconds = (performance.now() - t0) / 1000;
      bar.done();
      const deadline = Date.now() + 60_000;
      while (recordedAt.size < appliedAt.size && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      const latencies: number[] = [];
      const fromDue: number[] = [];
      for (const [id, at] of appliedAt) {
        const crmAt = recordedAt.get(id);
        if (crmAt === undefined) continue;
        // The dispatcher may hand the event over before the commit's answer reaches us: 0 then.
        latencies.push(Math.max(0, crmAt - at));
        fromDue.push(Math.max(0, crmAt - dueAt.get(id)!));
      }
      const round = (v: number) => Math.round(v * 10) / 10;
      return {
        offeredPerSecond: rate,
        appliedPerSecond: Math.round(appliedAt.size / offeredSeconds),
        orders: count,
        p50Ms: round(percentile(latencies, 50)),
        p95Ms: round(percentile(latencies, 95)),
        p99Ms: round(percentile(latencies, 99)),
        maxMs: round(latencies.length > 0 ? Math.max(...latencies) : 0),
        fromOffered: { p50Ms: round(percentile(fromDue, 50)), p99Ms: round(percentile(fromDue, 99)) },
        lost: count - latencies.length,
        duplicates: [...writes.values()].filter((n) => n > 1).length,
        errors,
      };
    } finally {
      await hub.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  }
}

/** Runs both phases and returns the JSON of the bench. */
export async function runLifecycleBench(opts: LifecycleBenchOptions): Promise<LifecycleBenchResult> {
  const stream = opts.progress ?? process.stderr;
  const count = opts.count ?? 20_000;
  const rate = opts.rate ?? 1_000;
  const duration = opts.duration ?? 10;
  const a = await applyPhase(opts, count, stream);
  stream.write(
    `lifecycle (a): ${a.perSecond.toLocaleString('en-US')} milestones/s applied one per commit (goal 5,000), p50 ${a.p50Ms} ms, p99 ${a.p99Ms} ms per report; ${a.batched.perSecond.toLocaleString('en-US')}/s three per commit\n`,
  );
  const b = await propagationPhase(opts, rate, duration, stream);
  stream.write(
    `lifecycle (b): WMS shipped → CRM at ${rate.toLocaleString('en-US')}/s offered: p50 ${b.p50Ms} ms, p95 ${b.p95Ms} ms, p99 ${b.p99Ms} ms from the commit, p99 ${b.fromOffered.p99Ms} ms from when it was due (goal p99 < 2,000 ms); applied ${b.appliedPerSecond.toLocaleString('en-US')}/s, lost ${b.lost}, duplicates ${b.duplicates}\n`,
  );
  const cpu = cpus();
  return {
    scenario: 'lifecycle',
    backend: opts.backend,
    ...a,
    rssMb: rssMb(),
    orders: count,
    milestonesPerOrder: 3,
    propagation: b,
    goals: {
      milestonesPerSecond: 5_000,
      propagationP99Ms: 2_000,
      met: { apply: a.perSecond >= 5_000, propagation: b.lost === 0 && b.fromOffered.p99Ms < 2_000 },
    },
    machine: {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model ?? 'unknown',
      memoryMb: Math.round(totalmem() / 1_048_576),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    },
    durability: opts.backend === 'postgres' ? 'postgres synchronous_commit=on' : 'sqlite synchronous=FULL',
  };
}

/** A fresh PostgreSQL database on 127.0.0.1 for (b), and how to drop it. */
async function freshDatabase(name: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = () =>
    new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  const run = async (sql: string) => {
    const c = admin();
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await run(`CREATE DATABASE ${name}`);
  return {
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
