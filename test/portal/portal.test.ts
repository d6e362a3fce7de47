/**
 * The customer portal and the CRM's account view through a whole hub, on SQLite and PostgreSQL:
 * keys bound to a customer (made with `crossdock keys create --customer`) read only their
 * customer's orders, another customer's order is a 404 like a missing one, portal answers never
 * carry hold reasons, owners, notes, credit figures or internal ids, paging with opaque cursors,
 * the account view's next milestone per state, filters, and bad input as problem+json naming the
 * field.
 */
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Hub } from '../../src/app/hub.js';
import { registerKeyCommands } from '../../src/app/keys-cli.js';
import type { SalesOrder } from '../../src/domain/index.js';
import { routeTable } from '../../src/http/app.js';
import { createApiKey } from '../../src/http/middleware/index.js';
import { encodeCursor } from '../../src/http/routes/experience-paging.js';
import { order } from '../../src/storage/contract/fixtures.js';
import {
  AccountOrderView,
  PortalOrderSummary,
  PortalOrderView,
} from '../../src/workflows/experience/views.js';
import { call, type HubBackend, inPolicyOrder, type OrderHub, openOrderHub } from '../http/order-support.js';
import { held, invoice, returnOf, shipment } from './fixtures.js';

/** Keys that must never appear anywhere in a portal answer. */
const internalKeys = [
  'holds',
  'owner',
  'detail',
  'data',
  'resolution',
  'rejection',
  'fulfillmentPlan',
  'rationale',
  'externalIds',
  'correlationId',
  'agreedPrice',
  'allocations',
  'warehouseId',
  'segment',
  'milestones',
  'version',
  'source',
  'quoteId',
  'notes',
  'note',
  'history',
  'creditLimit',
  'exposure',
  'limit',
  'caseId',
  'creditMemoId',
  'creditAmount',
  'erpOrderId',
];

/** Every key and every number in a JSON value, recursively. */
function walk(value: unknown, keys = new Set<string>(), numbers: number[] = []) {
  if (Array.isArray(value)) for (const v of value) walk(v, keys, numbers);
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      keys.add(k);
      walk(v, keys, numbers);
    }
  } else if (typeof value === 'number') numbers.push(value);
  return { keys, numbers };
}

function expectCustomerFacing(body: unknown): void {
  const { keys } = walk(body);
  expect([...keys].filter((k) => internalKeys.includes(k))).toEqual([]);
  expect(JSON.stringify(body)).not.toMatch(/INTERNAL|exposure|credit desk|corr-/i);
}

describe.each(['sqlite', 'postgres'] as HubBackend[])('experience APIs on %s', (backend) => {
  let oh: OrderHub;
  let hub: Hub;
  let customerA: string;
  let customerB: string;
  let crmA: string;
  const secrets = {} as Record<'portalA' | 'portalB' | 'portalC' | 'crm' | 'admin' | 'unboundPortal', string>;
  const seededA: SalesOrder[] = [];
  let orderB: SalesOrder;
  let apiOrderA: string;
  let creditHeld: SalesOrder;

  /** `crossdock keys create … --json` against this hub's store; the created key. */
  async function keysCreate(
    ...args: string[]
  ): Promise<{ code: number; err: string[]; key?: Record<string, string> }> {
    const out: string[] = [];
    const err: string[] = [];
    let code = 0;
    const program = new Command().exitOverride();
    registerKeyCommands(program, {
      open: async () => ({ store: hub.store }),
      out: (l) => void out.push(l),
      err: { write: (s) => err.push(s.trimEnd()) > 0, isTTY: false },
      defaultActor: 'ops@example.com',
      setExitCode: (c) => {
        code = c;
      },
    });
    await program.parseAsync([
      'node',
      'crossdock',
      'keys',
      'create',
      ...args,
      '--rate-limit',
      '1000000',
      '--json',
    ]);
    return { code, err, ...(out[0] ? { key: JSON.parse(out[0]) as Record<string, string> } : {}) };
  }

  async function seed(o: SalesOrder): Promise<SalesOrder> {
    const r = await hub.store.commit({ order: { next: o, expectedVersion: null } });
    expect(r.status).toBe('committed');
    return o;
  }

  const get = (key: string, url: string) => call(hub, key, 'GET', url);

  beforeAll(async () => {
    oh = await openOrderHub('portal', backend);
    hub = oh.hub;
    const picks = hub.sims!.picks;
    customerA = picks.inPolicy.customer.id;
    crmA = picks.inPolicy.customer.externalIds['crm']!;
    customerB = picks.nearCredit.id;
    secrets.crm = await oh.key('crm-app', ['orders:write', 'orders:read']);
    secrets.admin = await oh.key('ops-admin', ['admin']);
    secrets.unboundPortal = await oh.key('unbound-portal', ['portal:read']);
    // Portal keys through the CLI: A by its CRM account id, B and C by hub id.
    const a = await keysCreate('--name', 'portal-a', '--customer', crmA, '--scopes', 'portal:read');
    expect(a.code).toBe(0);
    expect(a.key?.['customerId']).toBe(customerA);
    secrets.portalA = a.key!['secret']!;
    secrets.portalB = (
      await keysCreate('--name', 'portal-b', '--customer', customerB, '--scopes', 'portal:read')
    ).key!['secret']!;
    secrets.portalC = (
      await keysCreate('--name', 'portal-c', '--customer', picks.overCredit.id, '--scopes', 'portal:read')
    ).key!['secret']!;

    // A real order of A through the API, and a real credit hold of C (over its limit).
    const accepted = await call(
      hub,
      secrets.crm,
      'POST',
      '/api/v1/orders',
      inPolicyOrder(hub, { poNumber: 'PO-A-1' }),
    );
    expect(accepted.statusCode).toBe(201);
    apiOrderA = accepted.json().orderId;
    const c = picks.overCredit;
    const products = await hub.store.getProducts(picks.inPolicy.lines.slice(0, 1).map((l) => l.sku));
    const overLimit = inPolicyOrder(hub, {
      customer: { id: c.id },
      shipTo: c.addresses.find((x) => x.kind === 'shipping') ?? c.addresses[0]!,
    });
    overLimit.lines = overLimit.lines.map((l) => ({
      ...l,
      unitPrice: products.get(l.sku)!.listPrice,
      quantity: 50,
    }));
    const heldRes = await call(hub, secrets.crm, 'POST', '/api/v1/orders', overLimit);
    expect(heldRes.json().state).toBe('on_hold');
    creditHeld = (await hub.store.getOrder(heldRes.json().orderId))!;
    expect(creditHeld.holds.some((h) => h.reason === 'credit' && h.resolvedAt === null)).toBe(true);

    // A's orders in many states (documents as the hub keeps them), created after the API order.
    const ago = (hours: number) => new Date(Date.now() - hours * 3_600_000 - 60_000).toISOString();
    const at = (n: number) => new Date(Date.now() + n * 1000).toISOString();
    const mk = (id: string, o: Partial<SalesOrder>, n: number) =>
      order(`${backend}-${id}`, { customerId: customerA, createdAt: at(n), updatedAt: at(n), ...o });
    const docs: SalesOrder[] = [
      mk(
        'accepted',
        { state: 'accepted', customerStatus: 'Confirmed', externalIds: { erp: 'SO-1001', erpOrderId: '77' } },
        1,
      ),
      {
        ...held(`${backend}-held`, [{ reason: 'credit', openedAt: ago(30) }], { customerId: customerA }),
        createdAt: at(2),
        updatedAt: at(2),
      },
      mk(
        'backordered',
        {
          state: 'backordered',
          customerStatus: 'Backordered (expected 2026-12-20)',
          lines: [{ ...order('x').lines[0]!, backorderedQuantity: 2, promiseDate: '2026-12-20' }],
        },
        3,
      ),
      mk('released', { state: 'released', customerStatus: 'Preparing' }, 4),
      mk(
        'transit',
        {
          state: 'shipped',
          customerStatus: 'Shipped',
          shipments: [shipment(`${backend}-transit`, 'in_transit')],
        },
        5,
      ),
      mk(
        'delivered',
        {
          state: 'delivered',
          customerStatus: 'Delivered',
          shipments: [shipment(`${backend}-delivered`, 'delivered')],
        },
        6,
      ),
      mk(
        'invoiced',
        {
          state: 'invoiced',
          customerStatus: 'Delivered',
          shipments: [shipment(`${backend}-invoiced`, 'delivered')],
          invoices: [
            invoice(`${backend}-invoiced`, 'open'),
            invoice(`${backend}-invoiced`, 'draft', 'credit_memo'),
          ],
          ...({ returns: [returnOf(`${backend}-invoiced`)] } as object),
        },
        7,
      ),
      mk(
        'cancelled',
        { state: 'cancelled', customerStatus: 'Cancelled', rejection: { code: 'x', detail: 'INTERNAL' } },
        8,
      ),
    ];
    for (const d of docs) seededA.push(await seed(d));
    orderB = await seed(
      order(`${backend}-b-1`, {
        customerId: customerB,
        state: 'accepted',
        customerStatus: 'Confirmed',
        createdAt: at(9),
      }),
    );
  });
  afterAll(async () => {
    await oh?.dispose();
  });

  /** Every page of a listing, following `next`. */
  async function allPages(key: string, url: string, field: 'items' | 'orders') {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const sep = url.includes('?') ? '&' : '?';
      const res = await get(key, cursor === null ? url : `${url}${sep}cursor=${encodeURIComponent(cursor)}`);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      ids.push(...body[field].map((o: { id: string }) => o.id));
      cursor = body.next;
      pages++;
    } while (cursor !== null && pages < 50);
    return { ids, pages };
  }

  test("a portal key lists only its customer's orders, on every page, oldest first", async () => {
    const all = (await hub.store.listOrders({ customerId: customerA, limit: 1000 })).map((o) => o.id);
    expect(all).toContain(apiOrderA);
    expect(all.length).toBe(seededA.length + 1);
    const { ids, pages } = await allPages(secrets.portalA, '/api/v1/portal/orders?limit=3', 'items');
    expect(ids).toEqual(all);
    expect(pages).toBe(Math.ceil(all.length / 3));
    expect(ids).not.toContain(orderB.id);
    const b = await get(secrets.portalB, '/api/v1/portal/orders');
    expect(b.json().items.map((o: { id: string }) => o.id)).toEqual([orderB.id]);
    expect(b.json().next).toBeNull();
  });

  test("another customer's order is 404, the same answer as an order that does not exist, on every portal route", async () => {
    for (const suffix of ['', '/shipments', '/invoices', '/returns']) {
      const theirs = await get(secrets.portalA, `/api/v1/portal/orders/${orderB.id}${suffix}`);
      const none = await get(secrets.portalA, `/api/v1/portal/orders/no-such-order${suffix}`);
      expect(theirs.statusCode).toBe(404);
      expect(none.statusCode).toBe(404);
      expect(theirs.headers['content-type']).toContain('application/problem+json');
      const strip = (b: Record<string, unknown>) => ({
        ...b,
        instance: undefined,
        traceId: undefined,
        detail: undefined,
      });
      expect(strip(theirs.json())).toEqual(strip(none.json()));
      expect(theirs.json().detail).toBe(`order ${orderB.id} not found`);
    }
    // B reads its own order.
    const own = await get(secrets.portalB, `/api/v1/portal/orders/${orderB.id}`);
    expect(own.statusCode).toBe(200);
    expect(own.json()).toMatchObject({ id: orderB.id, status: 'Confirmed' });
  });

  test('a held order reads "On hold" in the portal without hold reason, owner or detail; the account view has them with age', async () => {
    const credit = seededA.find((o) => o.id === `${backend}-held`)!;
    const res = await get(secrets.portalA, `/api/v1/portal/orders/${credit.id}`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.status).toBe('On hold');
    expectCustomerFacing(body);
    expect(JSON.stringify(body)).not.toMatch(/credit/i);
    const { numbers } = walk(body);
    expect(numbers).not.toContain(87654.32);
    expect(numbers).not.toContain(98765.43);

    const view = await get(secrets.crm, `/api/v1/accounts/${customerA}/view?state=on_hold`);
    expect(view.statusCode).toBe(200);
    const o = view.json().orders.find((x: { id: string }) => x.id === credit.id);
    expect(o.holds).toEqual([
      {
        reason: 'credit',
        owner: 'credit',
        detail: credit.holds[0]!.detail,
        openedAt: credit.holds[0]!.openedAt,
        ageHours: 30,
      },
    ]);
    expect(o.nextMilestone).toMatchObject({ code: 'awaiting_credit_release', waitingOn: 'credit' });
  });

  test('a credit-held order (held by the credit step over the limit) shows no credit figures in the portal', async () => {
    const hold = creditHeld.holds.find((h) => h.reason === 'credit')!;
    const figures = Object.entries(hold.data)
      .filter(([k, v]) => typeof v === 'number' && v !== 0 && k !== 'orderTotal')
      .map(([, v]) => v as number);
    expect(figures.length).toBeGreaterThan(0);
    for (const url of [
      `/api/v1/portal/orders/${creditHeld.id}`,
      '/api/v1/portal/orders',
      `/api/v1/portal/orders/${creditHeld.id}/invoices`,
    ]) {
      const res = await get(secrets.portalC, url);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expectCustomerFacing(body);
      expect(JSON.stringify(body)).not.toMatch(/credit|receivable|limit/i);
      const { numbers } = walk(body);
      for (const f of figures) expect(numbers).not.toContain(f);
      expect(JSON.stringify(body)).not.toContain(hold.detail);
    }
    const one = (await get(secrets.portalC, `/api/v1/portal/orders/${creditHeld.id}`)).json();
    expect(one).toMatchObject({ id: creditHeld.id, status: 'On hold', total: creditHeld.total });
  });

  test('the portal shows shipments with carrier and tracking, open invoices with lines, returns with the RMA number, and the ERP order number only', async () => {
    const id = `${backend}-invoiced`;
    const full = (await get(secrets.portalA, `/api/v1/portal/orders/${id}`)).json();
    expectCustomerFacing(full);
    // The answer is what the OpenAPI document says (the same zod schema), field for field.
    expect(PortalOrderView.strict().parse(full)).toEqual(full);
    const list = (await get(secrets.portalA, '/api/v1/portal/orders?limit=100')).json();
    for (const item of list.items) expect(PortalOrderSummary.strict().parse(item)).toEqual(item);
    expect(full.shipments).toEqual([
      {
        carrier: 'ups',
        trackingNumber: `1Z${id.toUpperCase()}1`,
        status: 'delivered',
        shippedAt: '2026-12-01T10:00:00.000Z',
        deliveredAt: '2026-12-03T10:00:00.000Z',
        lines: [{ sku: 'SKU-1', quantity: 2 }],
      },
    ]);
    // The draft credit memo is not the customer's yet.
    expect(full.invoices).toEqual([
      {
        number: `INV-${id}`,
        kind: 'invoice',
        amount: 18,
        currency: 'USD',
        issuedAt: '2026-12-03T10:00:00.000Z',
        dueOn: '2027-01-02',
        paymentTerms: 'NET30',
        status: 'open',
        returnId: null,
        lines: [{ sku: 'SKU-1', quantity: 2, unitPrice: 9, amount: 18 }],
      },
    ]);
    expect(full.returns).toEqual([
      {
        id: `${id}-R1`,
        rmaNumber: `RMA-${id}`,
        status: 'Return authorized',
        createdAt: '2026-12-04T10:00:00.000Z',
        updatedAt: '2026-12-04T11:00:00.000Z',
        lines: [
          { sku: 'SKU-1', quantity: 1, reason: 'damaged', acceptedQuantity: null, rejectedQuantity: null },
        ],
      },
    ]);
    for (const part of ['shipments', 'invoices', 'returns'] as const) {
      const res = await get(secrets.portalA, `/api/v1/portal/orders/${id}/${part}`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ orderId: id, items: full[part] });
    }
    const accepted = (await get(secrets.portalA, `/api/v1/portal/orders/${backend}-accepted`)).json();
    expect(accepted.orderNumber).toBe('SO-1001');
    expect(JSON.stringify(accepted)).not.toContain('"77"');
    const cancelled = (await get(secrets.portalA, `/api/v1/portal/orders/${backend}-cancelled`)).json();
    expect(cancelled.status).toBe('Cancelled');
    expectCustomerFacing(cancelled);
  });

  test("the customer's invoice and return lists span its orders, page by orders, filter by status, and never show another customer's", async () => {
    const invoices = await allPages(secrets.portalA, '/api/v1/portal/invoices?limit=2', 'items');
    expect(invoices.pages).toBe(Math.ceil((seededA.length + 1) / 2));
    const res = await get(secrets.portalA, '/api/v1/portal/invoices?limit=100');
    expect(res.json().items).toEqual([
      expect.objectContaining({
        orderId: `${backend}-invoiced`,
        number: `INV-${backend}-invoiced`,
        status: 'open',
      }),
    ]);
    expectCustomerFacing(res.json());
    expect((await get(secrets.portalA, '/api/v1/portal/invoices?status=paid')).json().items).toEqual([]);
    const returns = (await get(secrets.portalA, '/api/v1/portal/returns?limit=100')).json();
    expect(
      returns.items.map((r: { orderId: string; rmaNumber: string }) => `${r.orderId}:${r.rmaNumber}`),
    ).toEqual([`${backend}-invoiced:RMA-${backend}-invoiced`]);
    expectCustomerFacing(returns);
    expect((await get(secrets.portalB, '/api/v1/portal/invoices')).json().items).toEqual([]);
    expect((await get(secrets.portalB, '/api/v1/portal/returns')).json().items).toEqual([]);
    const bad = await get(secrets.portalA, '/api/v1/portal/invoices?status=overdue');
    expect(bad.statusCode).toBe(422);
    expect(bad.json().errors[0].field).toBe('status');
  });

  test('the account view gives each order its next milestone, shipments, invoices and returns, by hub id and by CRM account id', async () => {
    const byHub = await allPages(secrets.crm, `/api/v1/accounts/${customerA}/view?limit=4`, 'orders');
    const byCrm = await allPages(secrets.crm, `/api/v1/accounts/${crmA}/view?limit=100`, 'orders');
    expect(byCrm.ids).toEqual(byHub.ids);
    expect(byHub.pages).toBe(Math.ceil(byHub.ids.length / 4));
    const res = await get(secrets.crm, `/api/v1/accounts/${crmA}/view?limit=100`);
    const body = res.json();
    expect(body.account).toMatchObject({ id: customerA, externalIds: { crm: crmA } });
    for (const o of body.orders) expect(AccountOrderView.strict().parse(o)).toEqual(o);
    const milestone = Object.fromEntries(
      body.orders.map((o: { id: string; nextMilestone: { code: string } | null }) => [
        o.id.replace(`${backend}-`, ''),
        o.nextMilestone?.code ?? null,
      ]),
    );
    expect(milestone).toMatchObject({
      accepted: 'awaiting_allocation',
      held: 'awaiting_credit_release',
      backordered: 'awaiting_stock',
      released: 'awaiting_shipment',
      transit: 'in_transit',
      delivered: 'awaiting_invoice',
      invoiced: 'awaiting_payment',
      cancelled: null,
    });
    const transit = body.orders.find((o: { id: string }) => o.id === `${backend}-transit`);
    expect(transit.shipments).toEqual([
      expect.objectContaining({
        id: `WMS-SHP-${backend}-transit-1`,
        warehouseId: 'WH-EAST',
        carrier: 'ups',
        trackingNumber: `1Z${backend.toUpperCase()}-TRANSIT1`,
        status: 'in_transit',
        deliveredAt: null,
      }),
    ]);
    const invoiced = body.orders.find((o: { id: string }) => o.id === `${backend}-invoiced`);
    expect(
      invoiced.invoices.map((i: { number: string; status: string }) => `${i.number}:${i.status}`),
    ).toEqual([`INV-${backend}-invoiced:open`, `CM-${backend}-invoiced:draft`]);
    expect(invoiced.returns).toEqual([returnOf(`${backend}-invoiced`)]);
    const backordered = body.orders.find((o: { id: string }) => o.id === `${backend}-backordered`);
    expect(backordered.nextMilestone).toEqual({
      code: 'awaiting_stock',
      label: 'Awaiting stock',
      waitingOn: 'wms',
      expectedOn: '2026-12-20',
    });
    const api = body.orders.find((o: { id: string }) => o.id === apiOrderA);
    expect(api).toMatchObject({
      state: 'accepted',
      poNumber: 'PO-A-1',
      nextMilestone: { code: 'awaiting_allocation' },
    });
    expect(api.orderNumber).toEqual(expect.any(String));
  });

  test('the account view filters by state (repeated or comma separated) and pages within the filter', async () => {
    const res = await get(
      secrets.crm,
      `/api/v1/accounts/${customerA}/view?state=on_hold,backordered&state=cancelled`,
    );
    expect(res.statusCode).toBe(200);
    expect(res.json().filter).toEqual({ state: ['on_hold', 'backordered', 'cancelled'] });
    expect(
      res
        .json()
        .orders.map((o: { state: string }) => o.state)
        .sort(),
    ).toEqual(['backordered', 'cancelled', 'on_hold']);
    const paged = await allPages(
      secrets.crm,
      `/api/v1/accounts/${customerA}/view?state=on_hold,backordered,cancelled&limit=1`,
      'orders',
    );
    expect(paged.ids).toEqual(res.json().orders.map((o: { id: string }) => o.id));
    expect(paged.pages).toBe(3);
  });

  test('bad input is problem+json naming the field: unknown customer, unknown state, bad limit, malformed or foreign cursor', async () => {
    const unknown = await get(secrets.crm, '/api/v1/accounts/CUST-NOPE/view');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers['content-type']).toContain('application/problem+json');
    expect(unknown.json().errors).toEqual([{ field: 'customerId', message: expect.any(String) }]);

    const fieldOf = async (key: string, url: string) => {
      const res = await get(key, url);
      expect(res.statusCode, url).toBe(422);
      expect(res.headers['content-type']).toContain('application/problem+json');
      return res.json().errors.map((e: { field: string }) => e.field);
    };
    expect(await fieldOf(secrets.crm, `/api/v1/accounts/${customerA}/view?state=lost`)).toEqual(['state[0]']);
    expect(await fieldOf(secrets.crm, `/api/v1/accounts/${customerA}/view?limit=0`)).toEqual(['limit']);
    expect(await fieldOf(secrets.crm, `/api/v1/accounts/${customerA}/view?cursor=%25%25not-base64`)).toEqual([
      'cursor',
    ]);
    expect(await fieldOf(secrets.portalA, '/api/v1/portal/orders?cursor=bm90IGpzb24')).toEqual(['cursor']);
    expect(await fieldOf(secrets.portalA, '/api/v1/portal/orders?limit=101')).toEqual(['limit']);
    // A well-formed cursor on another customer's order, or on no order, is refused alike.
    const foreign = await get(secrets.portalA, `/api/v1/portal/orders?cursor=${encodeCursor(orderB.id)}`);
    const missing = await get(
      secrets.portalA,
      `/api/v1/portal/orders?cursor=${encodeCursor('no-such-order')}`,
    );
    expect(foreign.statusCode).toBe(422);
    expect(foreign.json().errors).toEqual(missing.json().errors);
    expect(foreign.json().errors[0].field).toBe('cursor');
    expect(await fieldOf(secrets.portalA, `/api/v1/portal/orders/${'x'.repeat(65)}`)).toEqual(['id']);
  });

  test('a portal key is refused (403, lacking the scope) on every route outside the portal; portal routes need a key bound to a customer', async () => {
    const failures: string[] = [];
    for (const r of routeTable(hub.app)) {
      if (r.public || r.method === 'HEAD' || r.url === '/openapi.json') continue;
      const path = r.url
        .replace(/:([A-Za-z_]+)/g, (_m, n: string) => (n === 'id' ? orderB.id : 'x1'))
        .replace(/\*$/, 'x1');
      const res = await hub.app.inject({
        method: r.method as 'GET',
        url: path,
        headers: {
          authorization: `Bearer ${secrets.portalA}`,
          ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { 'content-type': 'application/json' }),
        },
        ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { payload: '{}' }),
      });
      const portal = r.url.startsWith('/api/v1/portal/');
      const refused = res.statusCode === 403 && /lacks the scope/.test(String(res.json().detail));
      if (portal && res.statusCode === 403) failures.push(`${r.method} ${r.url}: portal route refused`);
      if (!portal && !refused) failures.push(`${r.method} ${r.url}: ${res.statusCode}, not refused`);
    }
    expect(failures).toEqual([]);
    // Even a record that claims more (bound to a customer with admin) holds only portal:read.
    const { record, secret } = createApiKey({
      name: 'tampered',
      scopes: ['portal:read'],
      customerId: customerA,
    });
    await hub.store.putApiKey({ ...record, scopes: ['portal:read', 'admin', 'orders:read'] });
    expect((await get(secret, '/api/v1/orders')).statusCode).toBe(403);
    expect((await get(secret, '/api/v1/portal/orders')).statusCode).toBe(200);
    for (const key of [secrets.admin, secrets.unboundPortal]) {
      const res = await get(key, '/api/v1/portal/orders');
      expect(res.statusCode).toBe(403);
      expect(res.json().detail).toContain('not bound to a customer');
    }
    // And the CRM's key, which reads every order, cannot use the portal's routes.
    expect((await get(secrets.crm, '/api/v1/portal/orders')).statusCode).toBe(403);
  });

  test('portal requests are rate limited per key like any client (429 with Retry-After past the rate)', async () => {
    const { record, secret } = createApiKey({
      name: 'slow-portal',
      scopes: ['portal:read'],
      customerId: customerA,
      rateLimit: 1,
    });
    await hub.store.putApiKey(record);
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => get(secret, '/api/v1/portal/orders?limit=1')),
    );
    const limited = answers.filter((r) => r.statusCode === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(Number(limited[0]!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(answers.some((r) => r.statusCode === 200)).toBe(true);
  });
});
