import type { Hub } from '../../src/app/hub.js';
import type { OrderSubmission } from '../../src/domain/index.js';
import { type ApiScope, createApiKey } from '../../src/http/middleware/index.js';
import type { Clock } from '../../src/ports/index.js';
import { freshDatabase } from '../support/database.js';
import { openTestHub } from '../support/hub.js';

export type HubBackend = 'sqlite' | 'postgres';

/** A running hub of one backend, with a way to make keys and to dispose of it all. */
export interface OrderHub {
  hub: Hub;
  /** A new API key with these scopes; returns its secret. */
  key(name: string, scopes: ApiScope[]): Promise<string>;
  dispose(): Promise<void>;
}

export async function openOrderHub(
  name: string,
  backend: HubBackend,
  options: { overrides?: Record<string, unknown>; clock?: Clock } = {},
): Promise<OrderHub> {
  const overrides: Record<string, unknown> = { ...options.overrides };
  let drop: (() => Promise<void>) | undefined;
  if (backend === 'postgres') {
    const db = await freshDatabase(name.replace(/[^a-z0-9_]/gi, '_').toLowerCase());
    drop = db.drop;
    overrides['databaseUrl'] = db.url;
  }
  const bootstrap = `${name}-bootstrap-secret-0123456789abcdef`;
  try {
    const { hub, dispose } = await openTestHub(`${name}-${backend}`, bootstrap, {
      overrides,
      ...(options.clock ? { clock: options.clock } : {}),
    });
    return {
      hub,
      async key(keyName, scopes) {
        const k = createApiKey({ name: keyName, scopes, rateLimit: 1_000_000 });
        await hub.store.putApiKey(k.record);
        return k.secret;
      },
      async dispose() {
        await dispose();
        await drop?.();
      },
    };
  } catch (err) {
    await drop?.();
    throw err;
  }
}

/** An in-policy order of the seeded demo data (one line), over `partial`. */
export function inPolicyOrder(hub: Hub, partial: Partial<OrderSubmission> = {}): OrderSubmission {
  const { customer, lines } = hub.sims!.picks.inPolicy;
  return {
    customer: { id: customer.id },
    shipTo: customer.addresses.find((a) => a.kind === 'shipping') ?? customer.addresses[0]!,
    shippingMethod: 'ground',
    currency: 'USD',
    lines: lines.slice(0, 1).map((l) => ({ sku: l.sku, quantity: 1, unitPrice: l.unitPrice })),
    ...partial,
  };
}

/** A JSON request with a bearer key. */
export function call(
  hub: Hub,
  key: string,
  method: 'GET' | 'POST',
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  return hub.app.inject({
    method,
    url,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
}

/** Polls until `fn` returns something truthy, or fails naming `what`. */
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
