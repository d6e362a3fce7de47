import type { Hub } from '../../src/app/hub.js';
import type { OrderSubmission, SalesOrder } from '../../src/domain/index.js';
import { signatureHeader, signWebhook } from '../../src/events/index.js';
import { type ApiScope, createApiKey } from '../../src/http/middleware/index.js';
import type { Clock } from '../../src/ports/index.js';
import { freshDatabase } from '../support/database.js';
import { openTestHub } from '../support/hub.js';

export const bootstrap = 'fulfillment-test-bootstrap-secret-0123456789';
export const secrets = {
  wms: 'wms-webhook-secret-0123456789',
  tms: 'tms-webhook-secret-0123456789',
  erp: 'erp-webhook-secret-0123456789',
  crm: 'crm-webhook-secret-0123456789',
  easypost: 'easypost-webhook-secret-0123456789',
};

/** Polls `fn` until it returns something truthy (15 s by default). */
export async function until<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A hub under test with its keys. */
export interface HubUnderTest {
  hub: Hub;
  keys: { orders: string; wms: string; tms: string };
  close(): Promise<void>;
}

/** Opens a hub on `backend` with webhook secrets and keys. */
export async function openHub(
  name: string,
  backend: 'sqlite' | 'postgres',
  options: { clock?: Clock; overrides?: Record<string, unknown> } = {},
): Promise<HubUnderTest> {
  const overrides: Record<string, unknown> = { webhooks: { secrets }, ...options.overrides };
  let drop: (() => Promise<void>) | undefined;
  if (backend === 'postgres') {
    const db = await freshDatabase(name.replace(/[^a-z0-9_]/g, '_'));
    drop = db.drop;
    overrides['databaseUrl'] = db.url;
  }
  const opened = await openTestHub(`${name}-${backend}`, bootstrap, {
    overrides,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const key = async (keyName: string, scopes: ApiScope[]) => {
    const k = createApiKey({ name: keyName, scopes, rateLimit: 1_000_000 });
    await opened.hub.store.putApiKey(k.record);
    return k.secret;
  };
  return {
    hub: opened.hub,
    keys: {
      orders: await key('crm-app', ['orders:write', 'orders:read']),
      wms: await key('wms-sender', ['webhooks:wms' as ApiScope]),
      tms: await key('tms-sender', ['webhooks:tms' as ApiScope]),
    },
    close: async () => {
      await opened.dispose();
      await drop?.();
    },
  };
}

/** Submits an order over HTTP and returns the hub's order (expects 201). */
export async function submitOrder(h: HubUnderTest, submission: OrderSubmission): Promise<SalesOrder> {
  const res = await h.hub.app.inject({
    method: 'POST',
    url: '/api/v1/orders',
    headers: { authorization: `Bearer ${h.keys.orders}`, 'content-type': 'application/json' },
    payload: JSON.stringify(submission),
  });
  if (res.statusCode !== 201) throw new Error(`order not accepted: ${res.statusCode} ${res.body}`);
  return (await h.hub.store.getOrder(res.json().orderId))!;
}

/** Waits until every subscription has nothing pending or leased. */
export async function drained(h: HubUnderTest): Promise<void> {
  h.hub.dispatcher!.notify();
  await until('the dispatcher to drain', async () => {
    const stats = await h.hub.store.subscriptionStats();
    return stats.every((s) => s.pending === 0 && s.leased === 0);
  });
}

/** Waits for the order to satisfy `ok` (the polled feeds run every second). */
export async function orderWhen(
  h: HubUnderTest,
  id: string,
  what: string,
  ok: (o: SalesOrder) => boolean,
): Promise<SalesOrder> {
  return until(what, async () => {
    const o = await h.hub.store.getOrder(id);
    return o && ok(o) ? o : null;
  });
}

let seq = 0;

/** A CloudEvent body as a sender would post it. */
export function cloudEvent(
  type: string,
  subject: string,
  data: Record<string, unknown>,
  id?: string,
): string {
  return JSON.stringify({
    specversion: '1.0',
    id: id ?? `evt-${process.pid}-${++seq}`,
    source: 'urn:sender',
    type,
    time: new Date().toISOString(),
    subject,
    data,
  });
}

/** Posts a signed webhook to `/api/v1/webhooks/<source>`. */
export function postWebhook(h: HubUnderTest, source: 'wms' | 'tms', raw: string) {
  return h.hub.app.inject({
    method: 'POST',
    url: `/api/v1/webhooks/${source}`,
    headers: {
      authorization: `Bearer ${h.keys[source]}`,
      'content-type': 'application/cloudevents+json',
      [signatureHeader]: signWebhook(secrets[source], raw, Math.floor(Date.now() / 1000)),
    },
    payload: raw,
  });
}
