/**
 * A thousand orders through their whole life on one hub, with the CRM down for thirty minutes
 * in the middle, driven by a manual clock and the shipped delivery defaults (no policy override).
 *
 * Orders are taken through the real API (`POST /api/v1/orders`); holds are released and orders
 * cancelled over HTTP with the keys of the people who do it; the warehouse, the carrier and the
 * ERP report through their simulators and the hub's own polled feeds (the path webhooks share).
 * Paths (test/scenario/orders.ts): 10 % backordered and released on a stock receipt, 5 % split
 * over two warehouses, 3 % held for pricing and released by the pricing desk, 2 % cancelled, 2 %
 * returned after their invoice (RMA over the API, authorized by the ERP, received and inspected by
 * the WMS, credited by the ERP), the rest straight through: accepted → released → picked → packed
 * (carrier booked) → shipped → delivered → invoiced.
 *
 * While the CRM is down the clock moves in 20 s steps through 30 minutes and milestones keep
 * flowing (shipments, the stock receipt, deliveries, invoices). When it is back, with no operator
 * action: nothing parked, the backlog drained, no CRM write or customer notification made twice,
 * each order's CRM status updates arrived in order, and the hub, the CRM, the order API, the
 * CRM's account view and the customer portal (a key bound to each customer) agree on every
 * order's state and customer-facing status.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { canTransition, type OrderState, type SalesOrder } from '../../src/domain/index.js';
import { listDeadLetters } from '../../src/events/index.js';
import { createApiKey } from '../../src/http/middleware/index.js';
import { InventoryRefresh } from '../../src/workflows/fulfillment/index.js';
import { ManualClock } from '../events/support.js';
import { backlogOf, openScenarioHub, pages, type ScenarioHub, until } from './estate.js';
import { inPool, type OrderPath, planOrders, type ScenarioOrder } from './orders.js';

const orderCount = 1_000;
const minute = 60_000;
const outageMs = 30 * minute;
const stepMs = 20_000;
/** Milestones are reported every this many clock steps (every 2 minutes of the outage). */
const stepsPerWave = 6;
const crm = (name: string) => name.startsWith('crm-');

/** What each path's customer hears, template → times (exactly, nothing else). */
const expectedNotices: Record<OrderPath, Record<string, number>> = {
  ordinary: { 'order-confirmation': 1, 'shipment-shipped': 1, 'shipment-delivered': 1, 'invoice-issued': 1 },
  returned: {
    'order-confirmation': 1,
    'shipment-shipped': 1,
    'shipment-delivered': 1,
    'invoice-issued': 1,
    'return-authorized': 1,
    'return-received': 1,
    'credit-memo-issued': 1,
  },
  split: { 'order-confirmation': 1, 'shipment-shipped': 2, 'shipment-delivered': 2, 'invoice-issued': 1 },
  held: {
    'order-on-hold': 1,
    'order-confirmation': 1,
    'shipment-shipped': 1,
    'shipment-delivered': 1,
    'invoice-issued': 1,
  },
  backordered: {
    'order-confirmation': 1,
    'order-backordered': 1,
    'order-backorder-released': 1,
    'shipment-shipped': 1,
    'shipment-delivered': 1,
    'invoice-issued': 1,
  },
  cancelled: { 'order-confirmation': 1, 'order-cancelled': 1 },
};

const finalState: Record<OrderPath, OrderState> = {
  ordinary: 'invoiced',
  returned: 'invoiced',
  split: 'invoiced',
  held: 'invoiced',
  backordered: 'invoiced',
  cancelled: 'cancelled',
};

describe.each(['sqlite', 'postgres'] as const)(
  '1,000 orders through their life with a 30-minute CRM outage on %s',
  (backend) => {
    let s: ScenarioHub;
    let clock: ManualClock;

    beforeAll(async () => {
      clock = new ManualClock(new Date().toISOString());
      s = await openScenarioHub(backend, clock);
    });

    afterAll(async () => {
      await s?.close();
    });

    test('every order ends where its path leads; hub, CRM, API, account view and portal agree; nothing parked, repeated or out of order', async () => {
      const { hub, keys, crmLog } = s;
      const sims = hub.sims!;
      const store = hub.store;
      const dispatcher = hub.dispatcher!;
      const today = clock.now().toISOString().slice(0, 10);
      const { orders, backorderedSku } = await planOrders(store, sims, orderCount, today);
      const byPath = (p: OrderPath) => orders.filter((o) => o.path === p);
      const read = async (o: ScenarioOrder): Promise<SalesOrder> => (await store.getOrder(o.id))!;
      const post = (url: string, key: string, body: unknown, headers: Record<string, string> = {}) =>
        hub.app.inject({
          method: 'POST',
          url,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
          payload: JSON.stringify(body),
        });
      /** Waits until every subscription (but the CRM's while it is down) has nothing due or in flight. */
      const settled = async (what: string, skip: (name: string) => boolean = () => false) => {
        dispatcher.notify();
        await until(what, async () => (await backlogOf(store, (n) => !skip(n))) === 0);
      };
      /** Waits until every order of `list` is `ok`; `tickMs` moves the clock on at each look. */
      const allIn = async (
        what: string,
        list: ScenarioOrder[],
        ok: (o: SalesOrder) => boolean,
        tickMs = 0,
      ) => {
        let pending = list;
        let first: SalesOrder | undefined;
        try {
          await until(what, async () => {
            if (tickMs > 0) clock.advance(tickMs);
            const left: ScenarioOrder[] = [];
            for (const o of pending) {
              const order = await read(o);
              if (ok(order)) continue;
              if (left.length === 0) first = order;
              left.push(o);
            }
            pending = left;
            return pending.length === 0;
          });
        } catch (err) {
          const { id, state, customerStatus, shipments } = first!;
          throw new Error(
            `${(err as Error).message}: ${pending.length} left, the first ${JSON.stringify({ id, state, customerStatus, shipments })}`,
          );
        }
      };

      const phases: string[] = [];
      let phaseStart = Date.now();
      const phase = (name: string) => {
        phases.push(`${name} ${((Date.now() - phaseStart) / 1000).toFixed(1)} s`);
        phaseStart = Date.now();
      };
      // --- Orders taken through the API -------------------------------------------------------
      await inPool(orders, 8, async (o) => {
        const res = await post('/api/v1/orders', keys.crm, o.submission, {
          'idempotency-key': `scenario-${o.n}`,
        });
        const body = res.json();
        o.id = body.orderId;
        const expected =
          o.path === 'held' ? [200, 'on_hold'] : [201, o.path === 'backordered' ? 'backordered' : 'accepted'];
        expect([res.statusCode, body.state], `order ${o.n} (${o.path}): ${res.body}`).toEqual(expected);
      });
      for (const o of byPath('held')) {
        expect((await read(o)).holds.map((h) => h.reason)).toEqual(['pricing']);
        const res = await post(`/api/v1/orders/${o.id}/holds/pricing/release`, keys.pricing, {
          note: 'below-list price agreed with the account manager',
        });
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json().state).toBe('accepted');
      }
      const inStock = orders.filter((o) => o.path !== 'backordered');
      await allIn(
        'every order in stock released to its warehouse(s)',
        inStock,
        (o) => o.state === 'released',
      );
      await settled('the first deliveries');
      for (const o of byPath('split')) expect(sims.wms.ordersOf(o.id)).toHaveLength(2);
      for (const o of byPath('backordered')) expect(sims.wms.ordersOf(o.id)).toHaveLength(0);

      // Cancellations of released orders, by the CRM, before anything is picked.
      for (const o of byPath('cancelled')) {
        const res = await post(`/api/v1/orders/${o.id}/cancel`, keys.crm, {
          reason: 'customer_request',
          note: 'the customer ordered twice',
        });
        expect(res.statusCode, res.body).toBe(200);
      }
      await settled('the cancellations to reach the warehouse');
      for (const o of byPath('cancelled'))
        expect(sims.wms.ordersOf(o.id).map((w) => w.status)).toEqual(['cancelled']);

      phase('accept, release holds, cancel');
      // --- The CRM goes down; the clock moves through 30 minutes while milestones flow --------
      sims.faults.crm.configure({ down: true });
      const crmEffectsBefore = sims.faults.crm.effects;
      const outageStart = clock.now().getTime();
      const shipQueue = orders.filter((o) => o.path !== 'backordered' && o.path !== 'cancelled');
      const perWave = Math.ceil(shipQueue.length / 10);
      /** Orders shipped (then delivered) in wave n, delivered (then invoiced) two waves later. */
      const toDeliver: { wave: number; order: ScenarioOrder }[] = [];
      const toInvoice: { wave: number; order: ScenarioOrder }[] = [];
      /** Returned orders: the return asked for a wave after the invoice, received a wave after that. */
      const toReturn: { wave: number; order: ScenarioOrder }[] = [];
      const toReceive: { wave: number; order: ScenarioOrder; returnId: string; sku: string }[] = [];
      let received = false;
      let backordersQueued = false;

      /** One wave: ship the next orders, deliver those shipped two waves ago, invoice two after that. */
      const wave = async (w: number, skip: (name: string) => boolean) => {
        if (received && !backordersQueued) {
          // The backorders were released to the warehouse on the receipt: they ship last.
          await allIn('the backorders released', byPath('backordered'), (o) => o.state === 'released');
          shipQueue.push(...byPath('backordered'));
          backordersQueued = true;
        }
        const ship = shipQueue.splice(0, perWave);
        for (const o of ship) {
          for (const wo of sims.wms.ordersOf(o.id)) {
            for (const m of ['picked', 'packed', 'shipped'] as const) sims.wms.advance(wo.wmsOrderId, m);
          }
        }
        if (w === 2) {
          // Stock of the backordered SKU is put away; the inventory refresh (every 30 s in the
          // hub; once here, on the hub's own store and source) sees the receipt.
          const wh = (await store.getInventory([backorderedSku])).find(
            (p) => p.inbound.length > 0,
          )!.warehouseId;
          sims.wms.receiveStock(backorderedSku, wh, byPath('backordered').length + 10);
          await new InventoryRefresh({ store, clock, source: hub.ports.inventory }).refreshOnce();
          received = true;
        }
        const deliver = toDeliver.filter((x) => x.wave <= w - 2);
        toDeliver.splice(0, deliver.length);
        for (const { order: o } of deliver) {
          for (const sh of (await read(o)).shipments) {
            // The ERP's own picking records stay `planned`: the WMS ships (see the report).
            if (sh.trackingNumber !== undefined) sims.tms.track(sh.trackingNumber, 'delivered');
          }
        }
        const invoice = toInvoice.filter((x) => x.wave <= w - 2);
        toInvoice.splice(0, invoice.length);
        for (const { order: o } of invoice) sims.erp.invoiceOrder((await read(o)).externalIds['erpOrderId']!);
        // The customer sends one unit back: the CRM asks over the API; the ERP authorizes it.
        const asked = toReturn.filter((x) => x.wave <= w - 1);
        toReturn.splice(0, asked.length);
        const authorizing: typeof toReceive = [];
        for (const { order: o } of asked) {
          const sku = o.submission.lines[0]!.sku;
          const res = await post(`/api/v1/orders/${o.id}/returns`, keys.crm, {
            caseId: `CASE-${o.n}`,
            lines: [{ sku, quantity: 1, reason: 'damaged' }],
            note: 'arrived with a cracked housing',
          });
          expect(res.statusCode, res.body).toBe(202);
          authorizing.push({ wave: w, order: o, returnId: res.json().id, sku });
        }
        // The warehouse receives and inspects the returns authorized a wave ago; the ERP credits.
        const arriving = toReceive.filter((x) => x.wave <= w - 1);
        toReceive.splice(0, arriving.length);
        for (const r of arriving)
          sims.wms.receiveReturn(r.returnId, [{ sku: r.sku, received: 1, accepted: 1 }]);
        await allIn(
          `wave ${w}: shipped and booked`,
          ship,
          (o) =>
            o.state === 'shipped' &&
            o.shipments.every((sh) => sh.status === 'planned' || sh.trackingNumber !== undefined),
        );
        await allIn(
          `wave ${w}: delivered`,
          deliver.map((x) => x.order),
          (o) => o.state === 'delivered',
        );
        await allIn(
          `wave ${w}: invoiced`,
          invoice.map((x) => x.order),
          (o) => o.state === 'invoiced',
        );
        // The returns processor tails the outbox and, on PostgreSQL, passes an event only once it
        // is `settleMs` (5 s) old: time moves on while the hub works through them.
        const returnIn = (list: typeof toReceive, state: string) =>
          allIn(
            `wave ${w}: returns ${state}`,
            list.map((x) => x.order),
            (o) => o.returns?.[0]?.state === state,
            1_000,
          );
        await returnIn(authorizing, 'authorized');
        await until(`wave ${w}: the WMS expecting the returns`, async () => {
          clock.advance(1_000);
          return authorizing.every((r) => sims.wms.expectedReturn(r.returnId) !== null);
        });
        await returnIn(arriving, 'credited');
        await settled(`wave ${w}: the deliveries to the systems that are up`, skip);
        toDeliver.push(...ship.map((order) => ({ wave: w, order })));
        toInvoice.push(...deliver.map(({ order }) => ({ wave: w, order })));
        toReturn.push(
          ...invoice.filter((x) => x.order.path === 'returned').map(({ order }) => ({ wave: w, order })),
        );
        toReceive.push(...authorizing);
      };

      let w = 0;
      for (let step = 1; clock.now().getTime() - outageStart < outageMs; step++) {
        clock.advance(stepMs);
        if (step % stepsPerWave === 0) await wave(w++, crm);
        else {
          dispatcher.notify();
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      // Thirty minutes in: the CRM took nothing, nothing was parked, the CRM's updates are waiting.
      expect(sims.faults.crm.effects - crmEffectsBefore).toBe(0);
      expect(backordersQueued).toBe(true);
      expect((await store.subscriptionStats()).reduce((n, x) => n + x.parked, 0)).toBe(0);
      const waiting = await backlogOf(store, crm);
      expect(waiting).toBeGreaterThan(0);
      const wavesDuringOutage = w;

      phase('outage');
      // --- The CRM is back: no operator action ------------------------------------------------
      sims.faults.crm.configure({ down: false });
      // The rest of the milestones flow on, two minutes apart.
      while (
        shipQueue.length + toDeliver.length + toInvoice.length + toReturn.length + toReceive.length >
        0
      ) {
        clock.advance(2 * minute);
        await wave(w++, () => false);
        if (w > 40) throw new Error('the milestones did not finish');
      }
      phase('milestones after the outage');
      // The breaker probes once its open period has passed; then everything waiting goes out.
      await until(
        'the CRM backlog drained',
        async () => {
          clock.advance(1_000);
          dispatcher.notify();
          return (await backlogOf(store)) === 0;
        },
        60_000,
      );

      phase('CRM backlog drained');
      // --- Every order where its path leads, the same in the hub, the CRM and the API ----------
      // The order's own events (its CRM status follows them) and, for the CRM timeline, its
      // returns' and credit memos' too (they leave the order's status as it was).
      const events = (await store.readEvents({ fromSeq: 0, limit: 1_000_000 })).filter((e) =>
        /^(order|shipment|invoice|credit_memo|return)\./.test(e.event.type),
      );
      const eventsOf = new Map<string, number[]>();
      const activitiesOf = new Map<string, number>();
      for (const e of events) {
        activitiesOf.set(e.event.subject, (activitiesOf.get(e.event.subject) ?? 0) + 1);
        if (/^(order|shipment|invoice)\./.test(e.event.type))
          eventsOf.set(e.event.subject, [...(eventsOf.get(e.event.subject) ?? []), e.seq]);
      }
      // What the customer portal (a key bound to each customer) and the CRM's account view list.
      const portal = new Map<string, string>();
      const account = new Map<string, [string, string]>();
      for (const customerId of new Set(orders.map((o) => o.customerId))) {
        const portalKey = createApiKey({
          name: `portal ${customerId}`,
          scopes: ['portal:read'],
          customerId,
          rateLimit: 1_000_000,
        });
        await store.putApiKey(portalKey.record);
        for (const page of await pages(hub, portalKey.secret, '/api/v1/portal/orders'))
          for (const item of page.items as { id: string; status: string }[]) portal.set(item.id, item.status);
        for (const page of await pages(hub, keys.crm, `/api/v1/accounts/${customerId}/view`))
          for (const item of page.orders as { id: string; state: string; customerStatus: string }[])
            account.set(item.id, [item.state, item.customerStatus]);
      }
      const wrong: string[] = [];
      for (const o of orders) {
        const order = await read(o);
        const inCrm = sims.crm.orderStatus(o.id);
        const api = await hub.app.inject({
          url: `/api/v1/orders/${o.id}`,
          headers: { authorization: `Bearer ${keys.crm}` },
        });
        const seqs = eventsOf.get(o.id) ?? [];
        const seen = {
          hub: [order.state, order.customerStatus],
          crm: [inCrm?.state, inCrm?.status],
          api: [api.json().state, api.json().customerStatus],
          account: account.get(o.id),
          portal: portal.get(o.id),
          crmSequence: inCrm?.sequence,
        };
        const want = {
          hub: [finalState[o.path], order.customerStatus],
          crm: [order.state, order.customerStatus],
          api: [order.state, order.customerStatus],
          account: [order.state, order.customerStatus],
          portal: order.customerStatus,
          crmSequence: Math.max(...seqs),
        };
        if (JSON.stringify(seen) !== JSON.stringify(want))
          wrong.push(`${o.n} ${o.path} ${o.id}: ${JSON.stringify(seen)} != ${JSON.stringify(want)}`);
      }
      expect(wrong.slice(0, 10), `${wrong.length} orders disagree`).toEqual([]);

      // The CRM: each status and activity written once, each order's updates in outbox order.
      expect([...crmLog.successes].filter(([, n]) => n !== 1)).toEqual([]);
      const outOfOrder: string[] = [];
      for (const o of orders) {
        const calls = crmLog.statuses.get(o.id) ?? [];
        expect(
          calls.map((c) => c.sequence),
          `CRM status updates of ${o.n} (${o.path})`,
        ).toEqual(eventsOf.get(o.id));
        // Each state the CRM was given follows the one before on the order's life line (the same
        // state again, or a move the state machine allows: never backwards).
        const states = calls.map((c) => c.state as OrderState);
        const backwards = states.some(
          (st, i) => i > 0 && st !== states[i - 1] && !canTransition(states[i - 1]!, st),
        );
        if (calls.some((c) => !c.applied) || backwards)
          outOfOrder.push(`${o.n} ${o.path}: ${calls.map((c) => `${c.sequence}:${c.state}`).join(' ')}`);
        expect(sims.crm.activities(o.id)).toHaveLength(activitiesOf.get(o.id)!);
      }
      expect(outOfOrder).toEqual([]);
      const backorderTasks = byPath('backordered').map((o) => sims.crm.tasks(o.id).length);
      expect(new Set(backorderTasks)).toEqual(new Set([1]));

      // Every customer heard each notice of their order's path exactly once.
      expect(sims.notifications.duplicateAttempts).toBe(0);
      const notices = new Map<string, Record<string, number>>();
      for (const n of sims.notifications.delivered) {
        const m = notices.get(n.orderId) ?? {};
        m[n.template] = (m[n.template] ?? 0) + 1;
        notices.set(n.orderId, m);
      }
      const misheard: string[] = [];
      for (const o of orders) {
        const got = notices.get(o.id) ?? {};
        const sorted = (r: Record<string, number>) => JSON.stringify(Object.entries(r).sort());
        if (sorted(got) !== sorted(expectedNotices[o.path]))
          misheard.push(`${o.n} ${o.path}: ${sorted(got)}`);
        for (const n of sims.notifications.deliveredTo(o.customerId, o.id))
          expect(n.customerId).toBe(o.customerId);
      }
      expect(misheard.slice(0, 10), `${misheard.length} orders' customers heard otherwise`).toEqual([]);

      // Each returned order: one return, credited for the unit, a credit memo against its invoice
      // in the hub and in the CRM; no other order has either.
      for (const o of orders) {
        const order = await read(o);
        const memos = order.invoices.filter((i) => i.kind === 'credit_memo');
        if (o.path !== 'returned') {
          expect([order.returns ?? [], memos]).toEqual([[], []]);
          continue;
        }
        expect(order.returns?.map((r) => r.state)).toEqual(['credited']);
        expect(memos).toHaveLength(1);
        expect(memos[0]).toMatchObject({ returnId: order.returns![0]!.id });
        expect(
          sims.crm
            .invoicesOfOrder(o.id)
            .map((d) => d.kind)
            .sort(),
        ).toEqual(['credit_memo', 'invoice']);
      }

      // Nothing parked, no dead letter, nothing waiting: no operator was needed.
      expect((await store.subscriptionStats()).filter((x) => x.parked > 0)).toEqual([]);
      expect(await listDeadLetters({ store })).toEqual([]);
      expect(await backlogOf(store)).toBe(0);

      phase('checks');
      console.info(
        `lifecycle scenario (${backend}): ${orders.length} orders, ${events.length} order events; ` +
          `CRM down ${outageMs / minute} min (${wavesDuringOutage} milestone waves meanwhile), ` +
          `${waiting} CRM deliveries waiting at its return, ${crmLog.refused} calls refused; ` +
          `${sims.notifications.sentCount} notifications, ${sims.faults.crm.effects} CRM effects; ` +
          `wall time: ${phases.join(', ')}`,
      );
    }, 240_000);
  },
);
