/**
 * `crossdock bench orders`: quote-to-order over HTTP against the simulators, embedded SQLite
 * (or PostgreSQL), with the load generator (autocannon) in this process and the hub in a child
 * process — two processes sharing the 2-core machine, as in production with a co-located proxy.
 *
 * Phase 1 finds the sustained rate (closed loop, N connections); phase 2 offers 80 % of it
 * (open loop) and reports the latency a client sees below saturation. Afterwards the hub's own
 * records are checked: every 2xx must be an order in the store (`lost`), and the simulated ERP
 * must hold exactly one order per accepted hub order (`duplicates`).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { BenchOptions } from './index.js';
import { benchOrderBodies, benchSimulatorSeed, type LoadRequest, runLoad, spawnServer } from './load.js';
import { type BenchResult, sparkline } from './report.js';

const secret = 'bench-admin-secret-0123456789abcdef';

export async function runOrdersBench(opts: BenchOptions): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'crossdock-bench-'));
  const duration = opts.duration ?? 20;
  const connections = opts.connections ?? 32;
  let databaseUrl: string | undefined;
  if (opts.backend === 'postgres') databaseUrl = await freshPostgresDatabase('crossdock_bench');
  const config = {
    port: 0,
    dataDir: dir,
    logLevel: 'warn',
    bootstrapKey: secret,
    defaultRateLimit: 1_000_000,
    // The quote-to-order path is what is measured: the simulated estate (which would pick, ship,
    // invoice and return every accepted order on its own clock) stays off, as in earlier figures.
    simulators: { seed: benchSimulatorSeed, creditLimitMultiplier: 10_000, estate: { enabled: false } },
    ...(databaseUrl ? { databaseUrl } : {}),
    // Experiments (e.g. `{"workers":false}` or `{"sqliteSynchronous":"NORMAL"}`) without a rebuild.
    ...(JSON.parse(process.env['CROSSDOCK_BENCH_CONFIG'] ?? '{}') as Record<string, unknown>),
  };
  writeFileSync(join(dir, 'bench.config.json'), JSON.stringify(config));
  const profileDir = process.env['CROSSDOCK_BENCH_PROFILE_DIR'];
  const { child, url } = await startHub(
    join(dir, 'bench.config.json'),
    profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  );
  // The hub logs at `warn`: keep what it says, so a run with lost or duplicate orders says why.
  const hubWarnings = new Map<string, number>();
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const msg = /"msg":"([^"]*)"/.exec(line)?.[1];
      if (msg === undefined) continue;
      const err = /"err":"([^"]{0,160})/.exec(line)?.[1];
      const text = err ? `${msg}: ${err}` : msg;
      if (hubWarnings.has(text) || hubWarnings.size < 20)
        hubWarnings.set(text, (hubWarnings.get(text) ?? 0) + 1);
    }
  });
  let rssMax = 0;
  const rssTimer = setInterval(() => {
    rssMax = Math.max(rssMax, sampleRss(child.pid));
  }, 1000);
  try {
    const nextBody = benchOrderBodies();
    log(`hub up at ${url}; warming up (3 s)`);
    const orderRequest = (): LoadRequest => ({
      headers: { authorization: `Bearer ${secret}`, 'idempotency-key': crypto.randomUUID() },
      body: nextBody(),
    });
    const warmup = await runLoad(url, '/api/v1/orders', orderRequest, { connections, duration: 3 });
    log(`phase 1: closed loop, ${connections} connections, ${duration} s`);
    const max = await runLoad(url, '/api/v1/orders', orderRequest, { connections, duration });
    // Is the rate sustainable for the whole hub, not just the API? Events still undelivered when
    // the load stops are work the closed loop pushed ahead of itself.
    const afterPhase1 = await eventBacklog(url);
    log(`event backlog after phase 1: ${afterPhase1.events} deliveries, oldest ${afterPhase1.lagMs} ms`);
    const target = Math.max(1, Math.floor(max.perSecond * 0.8));
    log(`phase 2: open loop at 80 % = ${target}/s, ${Math.min(duration, 15)} s`);
    const at80 = await runLoad(url, '/api/v1/orders', orderRequest, {
      connections: connections * 4,
      duration: Math.min(duration, 15),
      overallRate: target,
    });
    const afterPhase2 = await eventBacklog(url);
    await settle(url);
    const drainStarted = performance.now();
    const drained = await drainEvents(url);
    const drainSeconds = Math.round((performance.now() - drainStarted) / 100) / 10;
    log(
      `event backlog after phase 2: ${afterPhase2.events} deliveries (oldest ${afterPhase2.lagMs} ms); ${drained ? `drained ${drainSeconds} s after the orders settled` : 'not drained within 60 s'}`,
    );
    const check = await verify(url);
    const total2xx = warmup.ok2xx + max.ok2xx + at80.ok2xx;
    log(
      `\nthroughput per second (phase 1): ${sparkline(max.perSecondSeries)}  max ${Math.max(...max.perSecondSeries)}/s`,
    );
    log(`orders in store: ${check.orders} (${JSON.stringify(check.byState)}); ERP orders ${check.erpOrders}`);
    for (const [msg, n] of hubWarnings) log(`hub logged ${n}× (warn or worse): ${msg}`);
    if (check.byState['validating']) await explainUnsettled(url, log);
    return {
      scenario: 'orders',
      backend: opts.backend,
      count: max.requests,
      seconds: max.seconds,
      perSecond: Math.round(max.perSecond),
      p50Ms: max.p50,
      p99Ms: max.p99,
      errors: max.errors + max.non2xx + at80.errors + at80.non2xx,
      lost: Math.max(0, total2xx - check.orders),
      duplicates: Math.max(0, check.erpOrders - check.acceptedOrders),
      rssMb: Math.round(rssMax),
      connections,
      at80Pct: {
        perSecond: Math.round(at80.perSecond),
        p50Ms: at80.p50,
        p99Ms: at80.p99,
        offered: target,
        errors: at80.errors + at80.non2xx,
      },
      byState: check.byState,
      eventBacklog: {
        afterPhase1: afterPhase1.events,
        afterPhase1LagMs: afterPhase1.lagMs,
        afterPhase2: afterPhase2.events,
        drainSeconds: drained ? drainSeconds : null,
      },
      durability:
        opts.backend === 'postgres'
          ? 'postgres synchronous_commit=on'
          : `sqlite synchronous=${String((config as Record<string, unknown>)['sqliteSynchronous'] ?? process.env['CROSSDOCK_SQLITE_SYNCHRONOUS'] ?? 'FULL')}, group commit`,
      workers: (config as Record<string, unknown>)['workers'] !== false,
    };
  } finally {
    clearInterval(rssTimer);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }

  function log(line: string) {
    process.stderr.write(`${line}\n`);
  }
}

/** Starts `crossdock start` as a child; `nodeArgs` (e.g. `--cpu-prof`) profile the hub itself. */
function startHub(configFile: string, nodeArgs: string[]): Promise<{ child: ChildProcess; url: string }> {
  const cli = fileURLToPath(new URL('../app/cli.js', import.meta.url));
  return spawnServer([...nodeArgs, cli, 'start', '--config', configFile], 'hub', 60_000);
}

/**
 * The hub's resident set in MiB, read from /proc (Linux) rather than scraped from `/metrics`: a
 * scrape every second also runs the orders-by-state gauge on the hub's event loop, which would
 * then be part of what we measure.
 */
function sampleRss(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Wait until no order is left waiting for its ERP step (202s finish behind). */
/** Undelivered events over all subscriptions (pending + leased) and the oldest one's age. */
async function eventBacklog(url: string): Promise<{ events: number; lagMs: number }> {
  const res = await fetch(`${url}/api/v1/subscriptions`, { headers: { authorization: `Bearer ${secret}` } });
  const body = (await res.json()) as {
    items: { backlog: { pending: number; leased: number } | null; lagMs: number | null }[];
  };
  let events = 0;
  let lagMs = 0;
  for (const s of body.items) {
    events += (s.backlog?.pending ?? 0) + (s.backlog?.leased ?? 0);
    lagMs = Math.max(lagMs, s.lagMs ?? 0);
  }
  return { events, lagMs };
}

/** Waits (up to 60 s) until every subscription has delivered what it had; false on timeout. */
async function drainEvents(url: string): Promise<boolean> {
  for (let i = 0; i < 240; i++) {
    if ((await eventBacklog(url)).events === 0) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

async function settle(url: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    const states = await orderStates(url);
    if (!states['validating']) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function orderStates(url: string): Promise<Record<string, number>> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${secret}` } });
  const text = await res.text();
  const byState: Record<string, number> = {};
  for (const m of text.matchAll(/^crossdock_orders\{state="([^"]+)",hold_reason="[^"]*"\} (\d+)/gm)) {
    byState[m[1]!] = (byState[m[1]!] ?? 0) + Number(m[2]);
  }
  return byState;
}

/** Orders still waiting for their ERP step after `settle`: print a few timelines, to say why. */
async function explainUnsettled(url: string, log: (line: string) => void): Promise<void> {
  const headers = { authorization: `Bearer ${secret}` };
  const list = (await (await fetch(`${url}/api/v1/orders?state=validating&limit=3`, { headers })).json()) as {
    items: { id: string; version: number; updatedAt: string }[];
  };
  for (const o of list.items) {
    const t = (await (await fetch(`${url}/api/v1/orders/${o.id}/timeline`, { headers })).json()) as {
      entries: { at: string; name: string; outcome: string; summary: unknown }[];
    };
    log(`unsettled ${o.id} v${o.version} updated ${o.updatedAt}:`);
    for (const e of t.entries)
      log(`  ${e.at} ${e.name} ${e.outcome} ${JSON.stringify(e.summary).slice(0, 160)}`);
  }
}

/** States of an order that never reached the ERP (or has not yet). */
const undecided = new Set(['received', 'validating', 'on_hold', 'rejected']);

async function verify(url: string) {
  const byState = await orderStates(url);
  const orders = Object.values(byState).reduce((a, b) => a + b, 0);
  // Every order past the decision holds exactly one ERP order: accepted, backordered, and every
  // fulfillment state the sync has moved it on to since.
  const acceptedOrders = Object.entries(byState)
    .filter(([state]) => !undecided.has(state))
    .reduce((sum, [, n]) => sum + n, 0);
  const erp = await fetch(`${url}/sim/erp/orders?limit=1`, {
    headers: { authorization: `Bearer ${secret}` },
  });
  const erpPage = (await erp.json()) as { total: number; evicted?: number };
  // total counts the ERP orders the simulator still keeps; evicted ones were created too.
  const erpOrders = erpPage.total + (erpPage.evicted ?? 0);
  return {
    byState,
    orders,
    acceptedOrders,
    erpOrders,
  };
}

async function freshPostgresDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return `postgres://postgres@127.0.0.1:5432/${name}`;
}
