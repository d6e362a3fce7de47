/**
 * The lifecycle scenario's estate: a whole hub (`createHub`: HTTP API, quote-to-order, the
 * polled fulfillment feeds, the dispatcher with the shipped delivery defaults, the simulated CRM,
 * ERP, WMS, TMS and notification service) on a manual clock, the keys its actors use, and a
 * recorder of every call the CRM answered, so the suite can count writes at the destination.
 *
 * Only business settings differ from a fresh install: every segment may backorder (so an order of
 * a SKU nobody has is accepted as a backorder, and one no warehouse can fill alone is split), and
 * the simulated ERP's credit limits are raised so a thousand orders of a few dozen customers are
 * not held for credit. No delivery policy is overridden.
 */
import type { Hub } from '../../src/app/hub.js';
import { type ApiScope, createApiKey } from '../../src/http/middleware/index.js';
import type { CrmActivity, CrmInvoice, CrmOrderStatusUpdate, CrmTask, Store } from '../../src/ports/index.js';
import type { DemoDataSet } from '../../src/simulators/index.js';
import type { ManualClock } from '../events/support.js';
import { freshDatabase } from '../support/database.js';
import { openTestHub } from '../support/hub.js';

export type ScenarioBackend = 'sqlite' | 'postgres';

const backorderEverywhere = {
  default: { inventory: 'allow_backorder' },
  segments: {
    key_account: { inventory: 'allow_backorder' },
    standard: { inventory: 'allow_backorder' },
    new_business: { inventory: 'allow_backorder' },
  },
};

/** The hub under test and the keys of the people and systems acting on it. */
export interface ScenarioHub {
  hub: Hub;
  keys: { crm: string; pricing: string };
  crmLog: CrmCallLog;
  close(): Promise<void>;
}

/** Opens the scenario's hub on `backend`, driven by `clock`. */
export async function openScenarioHub(backend: ScenarioBackend, clock: ManualClock): Promise<ScenarioHub> {
  const overrides: Record<string, unknown> = {
    policies: backorderEverywhere,
    // The suite moves the simulated estate itself; its own driver stays off.
    simulators: { creditLimitMultiplier: 1_000, estate: { enabled: false } },
  };
  let drop: (() => Promise<void>) | undefined;
  if (backend === 'postgres') {
    const db = await freshDatabase('scenario_lifecycle');
    drop = db.drop;
    overrides['databaseUrl'] = db.url;
  }
  try {
    const opened = await openTestHub(`scenario-${backend}`, 'scenario-bootstrap-secret-0123456789', {
      overrides,
      clock,
    });
    const key = async (name: string, scopes: ApiScope[]) => {
      const k = createApiKey({ name, scopes, rateLimit: 1_000_000 });
      await opened.hub.store.putApiKey(k.record);
      return k.secret;
    };
    return {
      hub: opened.hub,
      keys: {
        crm: await key('crm-app', ['orders:write', 'orders:read']),
        pricing: await key('pricing desk', ['holds:pricing' as ApiScope, 'orders:read']),
      },
      crmLog: recordCrmCalls(opened.hub),
      close: async () => {
        await opened.dispose();
        await drop?.();
      },
    };
  } catch (err) {
    await drop?.();
    throw err;
  }
}

/** One order-status write the CRM accepted, in arrival order. */
export interface CrmStatusCall {
  sequence: number;
  state: string;
  status: string;
  applied: boolean;
  key: string;
}

/** What the CRM answered, per call kind. */
export interface CrmCallLog {
  /** Successful order-status calls per hub order, in arrival order. */
  statuses: Map<string, CrmStatusCall[]>;
  /** Successful calls per idempotency key (status, activity, task, invoice): 1 each when nothing is written twice. */
  successes: Map<string, number>;
  /** Calls the CRM refused (down). */
  refused: number;
}

/**
 * Wraps the hub's simulated CRM (the object its subscriptions call) so each answered call is
 * recorded with what it carried. The simulator's own dedupe stays in force: this only counts.
 */
function recordCrmCalls(hub: Hub): CrmCallLog {
  const crm = hub.sims!.crm;
  const log: CrmCallLog = { statuses: new Map(), successes: new Map(), refused: 0 };
  const count = (key: string) => log.successes.set(key, (log.successes.get(key) ?? 0) + 1);
  const upsert = crm.upsertOrderStatus.bind(crm);
  const addActivity = crm.addActivity.bind(crm);
  const createTask = crm.createTask.bind(crm);
  crm.upsertOrderStatus = async (u: CrmOrderStatusUpdate) => {
    try {
      const r = await upsert(u);
      count(`status:${u.idempotencyKey}`);
      const list = log.statuses.get(u.hubOrderId) ?? [];
      list.push({
        sequence: u.sequence,
        state: u.state,
        status: u.status,
        applied: r.applied,
        key: u.idempotencyKey,
      });
      log.statuses.set(u.hubOrderId, list);
      return r;
    } catch (err) {
      log.refused++;
      throw err;
    }
  };
  crm.addActivity = async (a: CrmActivity) => {
    try {
      const r = await addActivity(a);
      count(`activity:${a.idempotencyKey}`);
      return r;
    } catch (err) {
      log.refused++;
      throw err;
    }
  };
  crm.createTask = async (t: CrmTask) => {
    try {
      const r = await createTask(t);
      count(`task:${t.idempotencyKey}`);
      return r;
    } catch (err) {
      log.refused++;
      throw err;
    }
  };
  const upsertInvoice = crm.upsertInvoice.bind(crm);
  crm.upsertInvoice = async (i: CrmInvoice) => {
    try {
      const r = await upsertInvoice(i);
      count(`invoice:${i.idempotencyKey}`);
      return r;
    } catch (err) {
      log.refused++;
      throw err;
    }
  };
  return log;
}

/** Polls `check` (real time; the hub's loops and feeds run on timers) until it holds. */
export async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Pending + leased deliveries of the named subscriptions (all when none are named). */
export async function backlogOf(
  store: Store,
  filter: (name: string) => boolean = () => true,
): Promise<number> {
  return (await store.subscriptionStats())
    .filter((s) => filter(s.name))
    .reduce((n, s) => n + s.pending + s.leased, 0);
}

/** Customers a thousand ordinary orders can be spread over: active, taxable, established. */
export function orderingCustomers(data: DemoDataSet, count: number): DemoDataSet['customers'] {
  const picked = data.customers.filter(
    (c) =>
      c.status === 'active' &&
      c.taxStatus === 'taxable' &&
      c.segment !== 'new_business' &&
      c.addresses.some((a) => a.kind === 'shipping'),
  );
  if (picked.length < count) throw new Error(`only ${picked.length} usable customers in the data set`);
  return picked.slice(0, count);
}

/** SKUs that are active, whole-unit, not hazardous and stocked in one warehouse with at least `min` free. */
export function stockedSkus(data: DemoDataSet, min: number): { sku: string; warehouseId: string }[] {
  const byProduct = new Map(data.products.map((p) => [p.sku, p]));
  const stocked = new Map<string, { warehouseId: string; available: number }[]>();
  for (const p of data.inventory) {
    if (p.onHand - p.allocated <= 0) continue;
    const list = stocked.get(p.sku) ?? [];
    list.push({ warehouseId: p.warehouseId, available: p.onHand - p.allocated });
    stocked.set(p.sku, list);
  }
  const out: { sku: string; warehouseId: string }[] = [];
  for (const [sku, list] of stocked) {
    const p = byProduct.get(sku);
    if (!p?.active || p.hazmat !== null || p.uom !== 'EA' || !(p.weightKg > 0)) continue;
    if (list.length !== 1 || list[0]!.available < min) continue;
    out.push({ sku, warehouseId: list[0]!.warehouseId });
  }
  return out;
}

/** Every page of a cursor-paged list route (100 a page), as the client would read them. */
export async function pages(hub: Hub, key: string, url: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await hub.app.inject({ url: `${url}?${query}`, headers: { authorization: `Bearer ${key}` } });
    if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${res.body}`);
    const body = res.json() as Record<string, unknown> & { next: string | null };
    out.push(body);
    cursor = body.next;
  } while (cursor);
  return out;
}
