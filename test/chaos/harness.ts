/**
 * Crash-test harness: a hub child process under load, SIGKILLed at random moments and
 * restarted, against simulators hosted in this process (so their effects outlive every kill).
 *
 * Shared by `test/chaos/crash-restart.test.ts` (3 cycles in `npm test`) and `scripts/chaos.ts`
 * (`npm run chaos`, 20+ cycles with a printed summary).
 *
 * Why the hub runs from source through tsx rather than `dist/`: the test then always exercises
 * the code under test, with no build step to forget and no stale `dist/` after a pull.
 *
 * The submitters behave like a real CRM client: every order carries an Idempotency-Key, and
 * after a refused connection, a reset or a 5xx/409/429 the same request is sent again with the
 * SAME key until a 2xx answer arrives. So an order whose answer was lost in a kill is retried,
 * and the hub must answer it from what it committed, never decide it twice.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import type { Customer, OrderSubmission, SalesOrder } from '../../src/domain/index.js';
import { systemClock } from '../../src/ports/index.js';
import { createSimulators, mulberry32, type Simulators } from '../../src/simulators/index.js';
import { type SimulatorServer, startSimulatorServer } from '../../src/simulators/port-server.js';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const bootstrap = 'chaos-bootstrap-secret-0123456789';

/** Options of {@link runChaos}. */
export interface ChaosOptions {
  cycles: number;
  /** Concurrent submitters (each one order at a time). */
  submitters?: number;
  /** Load before each kill: a random duration in [min, max] ms. */
  minLoadMs?: number;
  maxLoadMs?: number;
  seed?: number;
  /** How long the hub may take to drain after the last restart. */
  drainTimeoutMs?: number;
  log?: (line: string) => void;
}

/** One problem found by the final check, with the order it concerns. */
export interface ChaosFinding {
  kind:
    | 'lost'
    | 'stuck'
    | 'duplicate_erp_order'
    | 'missing_erp_order'
    | 'erp_number_mismatch'
    | 'orphan_erp_order'
    | 'duplicate_notification'
    | 'missing_notification'
    | 'duplicate_wms_release'
    | 'crm_mismatch'
    | 'answer_contradicted'
    | 'parked_delivery'
    | 'client_error';
  orderId: string;
  detail: string;
}

/** What a chaos run measured. */
export interface ChaosReport {
  cycles: number;
  kills: number;
  orders: number;
  /** Answers by status (201 accepted, 202 pending, 200 held/rejected). */
  answers: Record<string, number>;
  /** Requests re-sent with the same key after a connection error or 5xx/409/429. */
  retries: number;
  hubStates: Record<string, number>;
  erpOrders: number;
  notifications: number;
  /** Notification sends suppressed by the simulator's key check (redeliveries). */
  suppressedNotificationRepeats: number;
  lost: number;
  duplicateErpOrders: number;
  duplicateNotifications: number;
  stuck: number;
  findings: ChaosFinding[];
  drainMs: number;
  seconds: number;
}

interface Submitted {
  key: string;
  orderId: string;
  status: number;
  state: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolvePort(port));
    });
  });
}

/** The hub as a child process on a fixed port and data dir, restartable. */
class HubProcess {
  child: ChildProcess | null = null;
  private output = '';
  constructor(
    private readonly configFile: string,
    readonly url: string,
    private readonly agent: Agent,
  ) {}

  async start(): Promise<void> {
    this.output = '';
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(repoRoot, 'src/app/cli.ts'), 'start', '--config', this.configFile],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } },
    );
    const keep = (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-8000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.child = child;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`hub exited with ${child.exitCode}:\n${this.output}`);
      try {
        const res = await request(`${this.url}/health/ready`, { dispatcher: this.agent });
        await res.body.dump();
        if (res.statusCode === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error(`hub not ready after 60 s:\n${this.output}`);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
    this.child = null;
  }
}

/** Order mix: mostly in-policy, some near/over the credit limit (holds, ERP refusals). */
function submissionFor(sims: Simulators, rnd: () => number): OrderSubmission {
  const { picks } = sims;
  const r = rnd();
  const customer: Customer =
    r < 0.75
      ? picks.inPolicy.customer
      : r < 0.88
        ? picks.nearCredit
        : r < 0.94
          ? picks.overCredit
          : picks.newBusiness;
  const lines = picks.inPolicy.lines;
  const count = 1 + Math.floor(rnd() * Math.min(3, lines.length));
  const start = Math.floor(rnd() * lines.length);
  const chosen = Array.from({ length: count }, (_, i) => lines[(start + i) % lines.length]!);
  const unique = [...new Map(chosen.map((l) => [l.sku, l])).values()];
  return {
    customer: { id: customer.id },
    shipTo: customer.addresses.find((a) => a.kind === 'shipping') ?? customer.addresses[0]!,
    shippingMethod: 'ground',
    currency: 'USD',
    poNumber: `PO-${Math.floor(rnd() * 1e6)}`,
    lines: unique.map((l) => ({ sku: l.sku, quantity: 1 + Math.floor(rnd() * 3), unitPrice: l.unitPrice })),
  };
}

const decisionTemplates = new Set(['order-confirmation', 'order-on-hold', 'order-rejected']);
const undecided = new Set(['validating']);
const notAccepted = new Set(['validating', 'on_hold', 'rejected', 'cancelled']);

/** Runs the crash test and returns what it measured; `findings` empty means it passed. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const cycles = options.cycles;
  const submitters = options.submitters ?? 12;
  const minLoad = options.minLoadMs ?? 300;
  const maxLoad = options.maxLoadMs ?? 2500;
  const seed = options.seed ?? Date.now() % 100_000;
  const rnd = mulberry32(seed);
  log(`chaos: seed ${seed}, ${cycles} cycles, ${submitters} submitters`);

  const sims = createSimulators({ seed: 42, clock: systemClock, maxRecords: Number.MAX_SAFE_INTEGER });
  // Generous credit so most orders reach the ERP; near/over-credit customers still hold.
  for (const c of sims.data.erpCustomers) {
    if (c.externalId === sims.picks.inPolicy.customer.id)
      sims.erp.setCreditLimit(c.erpId, c.creditLimit * 1000);
  }
  const server: SimulatorServer = await startSimulatorServer({ sims, host: '127.0.0.1', port: 0 });
  const { dir, url, configFile } = await hubConfig('crossdock-chaos-', server.url, 5000);
  const agent = new Agent({ connections: submitters + 8, headersTimeout: 15_000, bodyTimeout: 15_000 });
  const hub = new HubProcess(configFile, url, agent);
  const auth = { authorization: `Bearer ${bootstrap}` };

  const submitted: Submitted[] = [];
  const findings: ChaosFinding[] = [];
  const answers: Record<string, number> = {};
  let retries = 0;
  let stopping = false;
  let runNo = 0;

  const submitter = async (id: number): Promise<void> => {
    while (!stopping) {
      const key = `chaos-${seed}-${id}-${runNo++}`;
      const body = JSON.stringify(submissionFor(sims, rnd));
      for (;;) {
        let status = 0;
        let json: Record<string, unknown> | null = null;
        try {
          const res = await request(`${url}/api/v1/orders`, {
            method: 'POST',
            dispatcher: agent,
            headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': key },
            body,
          });
          status = res.statusCode;
          json = (await res.body.json().catch(() => null)) as Record<string, unknown> | null;
        } catch {
          status = 0; // refused, reset, or the hub died mid-answer
        }
        if (status >= 200 && status < 300 && json) {
          answers[status] = (answers[status] ?? 0) + 1;
          submitted.push({ key, orderId: String(json.orderId), status, state: String(json.state) });
          break;
        }
        if (status !== 0 && status < 500 && status !== 409 && status !== 429) {
          findings.push({ kind: 'client_error', orderId: key, detail: `${status} ${JSON.stringify(json)}` });
          break;
        }
        retries++;
        await sleep(20 + Math.floor(rnd() * 80));
      }
    }
  };

  let kills = 0;
  let drainMs = 0;
  const hubStates: Record<string, number> = {};
  try {
    await hub.start();
    const load = Array.from({ length: submitters }, (_, i) => submitter(i));
    for (let c = 1; c <= cycles; c++) {
      const wait = minLoad + Math.floor(rnd() * (maxLoad - minLoad));
      await sleep(wait);
      await hub.kill('SIGKILL');
      kills++;
      log(`cycle ${c}/${cycles}: SIGKILL after ${wait} ms (answers so far ${submitted.length})`);
      await hub.start();
    }
    // Let the last run take load briefly, then let every submitter finish its order.
    await sleep(minLoad);
    stopping = true;
    await Promise.all(load);

    const drainStart = Date.now();
    const deadline = drainStart + (options.drainTimeoutMs ?? 120_000);
    const orders = new Map<string, SalesOrder>();
    let lastDelivered = -1;
    let quietSince = Date.now();
    for (;;) {
      const subs = await getJson<{ items: { name: string; backlog: Record<string, number> | null }[] }>(
        agent,
        `${url}/api/v1/subscriptions`,
        auth,
      );
      const busy = subs.items.filter((s) => (s.backlog?.pending ?? 0) > 0 || (s.backlog?.leased ?? 0) > 0);
      let validating = 0;
      for (const s of submitted) {
        const known = orders.get(s.orderId);
        if (known && !undecided.has(known.state)) continue;
        const o = await getJson<SalesOrder | null>(agent, `${url}/api/v1/orders/${s.orderId}`, auth, true);
        if (o) orders.set(s.orderId, o);
        if (!o || undecided.has(o.state)) validating++;
      }
      // Quiet, not just empty: the fulfillment sync polls its feeds every second and may still
      // turn warehouse milestones into new events, so wait until nothing was delivered for 2 s.
      const delivered = subs.items.reduce((n, sub) => n + (sub.backlog?.['delivered'] ?? 0), 0);
      if (delivered !== lastDelivered) {
        lastDelivered = delivered;
        quietSince = Date.now();
      }
      if (busy.length === 0 && validating === 0 && Date.now() - quietSince >= 2000) break;
      if (Date.now() > deadline) {
        log(`drain timed out: ${validating} undecided, busy ${busy.map((b) => b.name).join(', ')}`);
        break;
      }
      await sleep(500);
    }
    drainMs = Date.now() - drainStart;
    // Final read of every order (states move on while deliveries drain).
    for (const s of submitted) {
      const o = await getJson<SalesOrder | null>(agent, `${url}/api/v1/orders/${s.orderId}`, auth, true);
      if (o) orders.set(s.orderId, o);
      else orders.delete(s.orderId);
    }
    // The CRM follows the hub *eventually*: warehouse milestones the fulfillment sync applies
    // after the read above reach the CRM after it too (seen in 20-cycle runs: releases applied
    // in the last seconds). Re-read the orders whose CRM state differs until both agree or
    // 30 s pass; only a difference that never converges is a finding.
    const converge = Date.now() + 30_000;
    for (;;) {
      const differing = [...orders.values()].filter((o) => {
        const crm = sims.crm.orderStatus(o.id);
        return crm !== null && crm.state !== o.state;
      });
      if (differing.length === 0 || Date.now() > converge) break;
      await sleep(1000);
      for (const o of differing) {
        const again = await getJson<SalesOrder | null>(agent, `${url}/api/v1/orders/${o.id}`, auth, true);
        if (again) orders.set(o.id, again);
      }
    }
    const subs = await getJson<{ items: { name: string; backlog: Record<string, number> | null }[] }>(
      agent,
      `${url}/api/v1/subscriptions`,
      auth,
    );
    for (const s of subs.items) {
      if ((s.backlog?.parked ?? 0) > 0)
        findings.push({
          kind: 'parked_delivery',
          orderId: '-',
          detail: `${s.name}: ${s.backlog?.parked} parked`,
        });
    }
    check(sims, submitted, orders, findings);
    for (const o of orders.values()) hubStates[o.state] = (hubStates[o.state] ?? 0) + 1;
    await hub.kill('SIGTERM');
  } finally {
    await hub.kill('SIGKILL').catch(() => undefined);
    await agent.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const count = (k: ChaosFinding['kind']) => findings.filter((f) => f.kind === k).length;
  return {
    cycles,
    kills,
    orders: new Set(submitted.map((s) => s.orderId)).size,
    answers,
    retries,
    hubStates,
    erpOrders: sims.erp.orderCount,
    notifications: sims.notifications.delivered.length,
    suppressedNotificationRepeats: sims.notifications.duplicateAttempts,
    lost: count('lost'),
    duplicateErpOrders: count('duplicate_erp_order'),
    duplicateNotifications: count('duplicate_notification'),
    stuck: count('stuck'),
    findings,
    drainMs,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

async function getJson<T>(
  agent: Agent,
  url: string,
  headers: Record<string, string>,
  nullOn404 = false,
): Promise<T> {
  const res = await request(url, { dispatcher: agent, headers });
  if (nullOn404 && res.statusCode === 404) {
    await res.body.dump();
    return null as T;
  }
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${await res.body.text()}`);
  return (await res.body.json()) as T;
}

/**
 * The final audit, from the effects recorded in the simulators (which outlived every kill) and
 * the hub's own answers over its API.
 */
function check(
  sims: Simulators,
  submitted: Submitted[],
  orders: Map<string, SalesOrder>,
  findings: ChaosFinding[],
): void {
  const erpByHubOrder = new Map<string, { erpOrderNumber: string }[]>();
  for (const o of sims.erp.listOrders(0, Number.MAX_SAFE_INTEGER).items) {
    const k = o.hubOrderId ?? '';
    const list = erpByHubOrder.get(k) ?? [];
    list.push({ erpOrderNumber: o.erpOrderNumber });
    erpByHubOrder.set(k, list);
  }
  const notices = new Map<string, string[]>();
  for (const n of sims.notifications.delivered) {
    const list = notices.get(n.orderId) ?? [];
    list.push(n.template);
    notices.set(n.orderId, list);
  }
  for (const r of sims.notifications.repeatedContent()) {
    findings.push({
      kind: 'duplicate_notification',
      orderId: r.orderId,
      detail: `${r.template} delivered ${r.count} times to ${r.customerId}`,
    });
  }
  const releases = new Map<string, number>();
  for (const w of sims.wms.listOrders(0, Number.MAX_SAFE_INTEGER).items) {
    const k = `${w.hubOrderId}\u0000${w.warehouseId}`;
    releases.set(k, (releases.get(k) ?? 0) + 1);
  }
  for (const [k, n] of releases) {
    if (n > 1) {
      const [orderId = '', wh = ''] = k.split('\u0000');
      findings.push({ kind: 'duplicate_wms_release', orderId, detail: `${n} releases to ${wh}` });
    }
  }

  const ids = new Set<string>();
  for (const s of submitted) {
    if (ids.has(s.orderId)) continue;
    ids.add(s.orderId);
    const o = orders.get(s.orderId);
    if (!o) {
      findings.push({
        kind: 'lost',
        orderId: s.orderId,
        detail: `answered ${s.status} ${s.state}, not in the hub`,
      });
      continue;
    }
    if (undecided.has(o.state)) {
      findings.push({ kind: 'stuck', orderId: o.id, detail: `still ${o.state} after the drain` });
    }
    // A 201 said accepted: the hub must not have decided otherwise afterwards.
    if (s.status === 201 && notAccepted.has(o.state)) {
      findings.push({
        kind: 'answer_contradicted',
        orderId: o.id,
        detail: `answered 201 ${s.state}, hub says ${o.state}`,
      });
    }
    if (
      s.status === 200 &&
      o.state !== s.state &&
      ['on_hold', 'rejected'].includes(s.state) &&
      !notAccepted.has(o.state)
    ) {
      findings.push({
        kind: 'answer_contradicted',
        orderId: o.id,
        detail: `answered 200 ${s.state}, hub says ${o.state}`,
      });
    }
    const erp = erpByHubOrder.get(o.id) ?? [];
    if (erp.length > 1) {
      findings.push({
        kind: 'duplicate_erp_order',
        orderId: o.id,
        detail: `${erp.length} ERP orders: ${erp.map((e) => e.erpOrderNumber).join(', ')}`,
      });
    }
    if (!notAccepted.has(o.state)) {
      if (erp.length === 0)
        findings.push({ kind: 'missing_erp_order', orderId: o.id, detail: `hub state ${o.state}` });
      else if (o.externalIds.erp !== erp[0]!.erpOrderNumber) {
        findings.push({
          kind: 'erp_number_mismatch',
          orderId: o.id,
          detail: `hub ${o.externalIds.erp}, ERP ${erp[0]!.erpOrderNumber}`,
        });
      }
    }
    if (!undecided.has(o.state)) {
      const decided = (notices.get(o.id) ?? []).filter((t) => decisionTemplates.has(t));
      if (decided.length === 0)
        findings.push({
          kind: 'missing_notification',
          orderId: o.id,
          detail: `no decision notice for ${o.state}`,
        });
      const crm = sims.crm.orderStatus(o.id);
      if (!crm || crm.state !== o.state) {
        findings.push({
          kind: 'crm_mismatch',
          orderId: o.id,
          detail: `hub ${o.state}, CRM ${crm ? crm.state : 'no record'}`,
        });
      }
    }
  }
  for (const [hubOrderId, list] of erpByHubOrder) {
    if (!ids.has(hubOrderId))
      findings.push({
        kind: 'orphan_erp_order',
        orderId: hubOrderId,
        detail: `${list.length} ERP order(s), no hub order`,
      });
  }
}

/** What {@link runErpWindowCrash} observed. */
export interface ErpWindowReport {
  /** ERP state of the sales order at the moment of the kill (the window: created, not confirmed). */
  erpStateAtKill: string;
  erpOrdersForTheOrder: number;
  hubState: string;
  hubErpNumber: string | null;
  erpOrderNumber: string;
  erpStateAfter: string;
  decisionNotifications: number;
  crmState: string | null;
}

/**
 * The crash the brief names: the ERP created the sales order, the hub has not committed it.
 * Deterministic: the ERP simulator answers every call after `latencyMs`, so once the order
 * appears in the ERP (seen from this process) the hub is inside `confirmSalesOrder`'s delay,
 * before its second commit — and is SIGKILLed there. After a restart the hub must finish the
 * order with that same ERP order.
 */
export async function runErpWindowCrash(latencyMs = 1500): Promise<ErpWindowReport> {
  const sims = createSimulators({ seed: 42, clock: systemClock, maxRecords: Number.MAX_SAFE_INTEGER });
  const server = await startSimulatorServer({ sims, host: '127.0.0.1', port: 0 });
  const { dir, url, configFile } = await hubConfig('crossdock-chaos-erp-', server.url, 10_000);
  const agent = new Agent({ connections: 4, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const hub = new HubProcess(configFile, url, agent);
  const auth = { authorization: `Bearer ${bootstrap}` };
  const body = JSON.stringify(submissionFor(sims, () => 0.1));
  const post = () =>
    request(`${url}/api/v1/orders`, {
      method: 'POST',
      dispatcher: agent,
      headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': 'erp-window-1' },
      body,
    }).then(async (r) => ({ status: r.statusCode, json: (await r.body.json()) as Record<string, unknown> }));
  try {
    await hub.start();
    sims.faults.erp.configure({ latencyMs });
    const first = post().catch(() => null);
    const deadline = Date.now() + 30_000;
    while (sims.erp.orderCount === 0) {
      if (Date.now() > deadline) throw new Error('the ERP never received the sales order');
      await sleep(5);
    }
    const erpAtKill = sims.erp.listOrders(0, 1).items[0]!;
    await hub.kill('SIGKILL');
    await first;
    sims.faults.erp.reset();
    // What the hub had committed when it died (read after restart, before any retry).
    await hub.start();
    // The same request again, as the CRM would after losing the answer (202 is an answer too).
    let answer = await post();
    for (let i = 0; i < 100 && answer.status === 409; i++) {
      await sleep(100);
      answer = await post();
    }
    const orderId = String(answer.json.orderId);
    let order: SalesOrder | null = null;
    for (let i = 0; i < 300; i++) {
      order = await getJson<SalesOrder | null>(agent, `${url}/api/v1/orders/${orderId}`, auth, true);
      const crm = sims.crm.orderStatus(orderId);
      const noticed = sims.notifications.delivered.some((n) => n.orderId === orderId);
      if (order && order.state !== 'validating' && crm?.state === order.state && noticed) break;
      await sleep(100);
    }
    const erpOrders = sims.erp.listOrders(0, 100).items.filter((o) => o.hubOrderId === orderId);
    const report: ErpWindowReport = {
      erpStateAtKill: erpAtKill.state,
      erpOrdersForTheOrder: erpOrders.length,
      hubState: order?.state ?? 'missing',
      hubErpNumber: order?.externalIds.erp ?? null,
      erpOrderNumber: erpAtKill.erpOrderNumber,
      erpStateAfter: erpOrders[0]?.state ?? 'missing',
      decisionNotifications: sims.notifications.delivered.filter(
        (n) => n.orderId === orderId && decisionTemplates.has(n.template),
      ).length,
      crmState: sims.crm.orderStatus(orderId)?.state ?? null,
    };
    await hub.kill('SIGTERM');
    return report;
  } finally {
    await hub.kill('SIGKILL').catch(() => undefined);
    await agent.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A temp dir and the config file of a hub child that uses the remote simulators at `simulatorsUrl`. */
async function hubConfig(
  prefix: string,
  simulatorsUrl: string,
  timeoutMs: number,
): Promise<{ dir: string; url: string; configFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const port = await freePort();
  const configFile = join(dir, 'crossdock.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      host: '127.0.0.1',
      port,
      dataDir: join(dir, 'data'),
      bootstrapKey: bootstrap,
      logLevel: 'error',
      simulators: { url: simulatorsUrl, timeoutMs },
    }),
  );
  return { dir, url: `http://127.0.0.1:${port}`, configFile };
}
