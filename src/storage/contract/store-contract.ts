/**
 * The storage contract suite: written once, run against every backend (SQLite in memory and on
 * file, PostgreSQL). A backend is correct when this passes; nothing here mocks the database.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { CrossdockError, type SalesOrder } from '../../domain/index.js';
import type { CommitResult, CommitUnit, Delivery, Store } from '../../ports/index.js';
import {
  agreement,
  customer,
  deliveryException,
  event,
  hold,
  idempotencyRecord,
  order,
  position,
  product,
  timeline,
} from './fixtures.js';

/**
 * Order lookups by quote and by PO number, implemented by both backends (`core/orders.ts`) and
 * read structurally until the `Store` port declares them.
 */
export interface OrderKeyLookups {
  findOrderBySource(system: string, ref: string): Promise<SalesOrder | null>;
  findOrdersByPo(customerId: string, poNumber: string, limit?: number): Promise<SalesOrder[]>;
}

/** How the suite gets stores of one backend. */
export interface StoreHarness {
  /** A fresh, migrated, empty store. */
  open(): Promise<Store>;
  /** A second connection (another "process") to the same database as `store`, if the backend has one. */
  openPeer?(store: Store): Promise<Store>;
  /** fast-check runs for the property tests (each run opens a store). */
  propertyRuns?: number;
}

const audit = (action: string, target: string) => ({
  actor: 'ops@example.com',
  action,
  target,
  detail: { via: 'test' },
  at: '2025-01-15T12:00:00.000Z',
});

const later = (ms = 1) => new Date(Date.now() + ms);
const claim = (store: Store, subscription: string, limit = 100, owner = 'w1', now = later(5)) =>
  store.claimDeliveries(subscription, { limit, leaseMs: 30_000, now, owner });

async function expectKind(p: Promise<unknown>, kind: CrossdockError['kind']): Promise<CrossdockError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CrossdockError);
  expect((err as CrossdockError).kind).toBe(kind);
  return err as CrossdockError;
}

function committedSeqs(r: CommitResult): number[] {
  if (r.status !== 'committed') throw new Error('expected committed');
  return r.eventSeqs;
}

/** Registers the contract suite for one backend. */
export function storeContract(name: string, harness: StoreHarness): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    const extra: Store[] = [];
    beforeEach(async () => {
      store = await harness.open();
    });
    afterEach(async () => {
      for (const s of extra.splice(0)) await s.close();
      await store.close();
    });

    async function withPeer(): Promise<Store> {
      if (!harness.openPeer) return store;
      const peer = await harness.openPeer(store);
      extra.push(peer);
      return peer;
    }

    async function subscribe(...subs: [string, string[], ('strict' | 'skip_parked')?, boolean?][]) {
      await store.putSubscriptions(
        subs.map(([n, types, ordering, active]) => ({
          name: n,
          types,
          ordering: ordering ?? 'strict',
          active: active ?? true,
        })),
      );
    }

    async function emit(subject: string, n = 1, type?: string): Promise<number[]> {
      const events = Array.from({ length: n }, () => event(subject, type));
      return committedSeqs(await store.commit({ events }));
    }

    describe('migrations', () => {
      test('Migrating an up-to-date database applies nothing and ready() reports the latest version', async () => {
        expect(await store.migrate()).toEqual([]);
        const r = await store.ready();
        expect(r.ok).toBe(true);
        expect(r.schemaVersion).toBe(r.latestVersion);
        expect(r.latestVersion).toBeGreaterThanOrEqual(1);
      });
    });

    describe('master data', () => {
      test('Customers round-trip and are found by any of their external ids', async () => {
        const c = customer('c1');
        await store.upsertCustomers([c, customer('c2')]);
        expect(await store.getCustomer('c1')).toEqual(c);
        expect(await store.findCustomerByExternalId('erp', 'erp-c2')).toMatchObject({ id: 'c2' });
        expect(await store.getCustomer('nope')).toBeNull();
        await store.upsertCustomers([{ ...c, name: 'Renamed', externalIds: { crm: 'crm-new' } }]);
        expect(await store.findCustomerByExternalId('crm', 'crm-c1')).toBeNull();
        expect(await store.findCustomerByExternalId('crm', 'crm-new')).toMatchObject({ name: 'Renamed' });
      });

      test('Products and price agreements round-trip, agreements filtered by validity date', async () => {
        await store.upsertProducts([product('A'), product('B', { listPrice: 3.25 })]);
        const products = await store.getProducts(['A', 'B', 'missing']);
        expect([...products.keys()].sort()).toEqual(['A', 'B']);
        expect(products.get('B')?.listPrice).toBe(3.25);
        await store.upsertPriceAgreements([
          agreement('p1', 'c1', 'A'),
          agreement('p2', 'c1', 'B', { validFrom: '2026-01-01', validTo: '2026-12-31' }),
          agreement('p3', 'c2', 'A'),
        ]);
        expect((await store.getPriceAgreements('c1', ['A', 'B'], '2025-06-01')).map((a) => a.id)).toEqual([
          'p1',
        ]);
        expect((await store.getPriceAgreements('c1', ['A', 'B'], '2026-01-01')).map((a) => a.id)).toEqual([
          'p2',
        ]);
        expect(await store.getPriceAgreements('c1', ['A'], '2025-12-31')).toHaveLength(1);
        expect(await store.getPriceAgreements('c1', [], '2025-06-01')).toEqual([]);
        expect((await store.getCustomerPriceAgreements('c1', '2025-06-01')).map((a) => a.id)).toEqual(['p1']);
        expect((await store.getCustomerPriceAgreements('c1', '2026-01-01')).map((a) => a.id)).toEqual(['p2']);
        expect((await store.getCustomerPriceAgreements('c2', '2025-06-01')).map((a) => a.id)).toEqual(['p3']);
        expect(await store.getCustomerPriceAgreements('nobody', '2025-06-01')).toEqual([]);
      });

      test('An inventory upsert replaces on-hand and allocated but keeps the hub reservation', async () => {
        await store.upsertInventoryPositions([position('A', 'W1', 10, 2), position('A', 'W2', 4)]);
        await store.commit({ inventory: [{ sku: 'A', warehouseId: 'W1', reservedDelta: 3 }] });
        await store.upsertInventoryPositions([position('A', 'W1', 20, 5)]);
        const inv = await store.getInventory(['A']);
        expect(inv.map((p) => [p.warehouseId, p.onHand, p.allocated, p.reserved, p.available])).toEqual([
          ['W1', 20, 5, 3, 12],
          ['W2', 4, 0, 0, 4],
        ]);
        expect(inv[0]?.inbound).toEqual([{ quantity: 5, eta: '2025-02-01' }]);
        await store.upsertInventoryPositions([position('A', 'W1', 4, 3)]);
        expect((await store.getInventory(['A']))[0]).toMatchObject({ reserved: 3, available: 0 });
      });

      test('API keys round-trip, are found by secret hash and counted', async () => {
        expect(await store.countApiKeys()).toBe(0);
        const key = {
          id: 'k1',
          name: 'crm',
          secretHash: 'h1',
          scopes: ['orders:write'],
          rateLimit: 50,
          createdAt: '2025-01-01T00:00:00.000Z',
          revokedAt: null,
        };
        await store.putApiKey(key);
        await store.putApiKey({ ...key, id: 'k2', secretHash: 'h2' });
        expect(await store.findApiKeyByHash('h1')).toEqual(key);
        expect(await store.findApiKeyByHash('zz')).toBeNull();
        await store.putApiKey({ ...key, revokedAt: '2025-02-01T00:00:00.000Z' });
        expect((await store.findApiKeyByHash('h1'))?.revokedAt).toBe('2025-02-01T00:00:00.000Z');
        expect((await store.listApiKeys()).map((k) => k.id)).toEqual(['k1', 'k2']);
        expect(await store.countApiKeys()).toBe(2);
      });

      test('A key bound to a customer keeps its binding through lookups, listing and revocation; unbound keys have none', async () => {
        const key = {
          id: 'kp',
          name: 'acme-portal',
          secretHash: 'hp',
          scopes: ['portal:read'],
          rateLimit: 0,
          createdAt: '2025-01-01T00:00:00.000Z',
          revokedAt: null,
          customerId: 'CUST-123',
        };
        await store.putApiKey(key);
        await store.putApiKey({ ...key, id: 'ks', secretHash: 'hs', name: 'staff', customerId: null });
        expect(await store.findApiKeyByHash('hp')).toEqual(key);
        expect((await store.findApiKeyByHash('hs'))?.customerId).toBeUndefined();
        expect((await store.listApiKeys()).find((k) => k.id === 'kp')?.customerId).toBe('CUST-123');
        await store.commit({ apiKeys: [{ ...key, revokedAt: '2025-02-01T00:00:00.000Z' }] });
        expect(await store.findApiKeyByHash('hp')).toMatchObject({
          customerId: 'CUST-123',
          revokedAt: '2025-02-01T00:00:00.000Z',
        });
      });
    });

    describe('commit', () => {
      test('A commit writes the order, journal, timeline with increasing seq, events and idempotency record', async () => {
        await subscribe(['crm', []]);
        const o = order('o1');
        const r = await store.commit({
          order: { next: o, expectedVersion: null },
          customers: [customer('c1')],
          journal: [
            {
              orderId: 'o1',
              step: 'validate-customer',
              status: 'completed',
              attempt: 1,
              output: { ok: true },
              error: null,
              at: o.createdAt,
              durationMs: 2,
            },
          ],
          timeline: [timeline('o1', 'a'), timeline('o1', 'b')],
          events: [event('o1', 'order.accepted.v1'), event('o1')],
          idempotency: {
            scope: 'k1',
            key: 'idem-1',
            requestHash: 'h',
            responseStatus: 201,
            responseBody: { id: 'o1' },
            createdAt: o.createdAt,
          },
          audit: [audit('order.create', 'o1')],
        });
        expect(r.status).toBe('committed');
        const seqs = committedSeqs(r);
        expect(seqs).toHaveLength(2);
        expect(seqs[1]).toBeGreaterThan(seqs[0]!);
        expect(await store.getOrder('o1')).toEqual(o);
        expect(await store.getCustomer('c1')).not.toBeNull();
        expect((await store.getJournal('o1')).map((j) => j.step)).toEqual(['validate-customer']);
        await store.commit({ timeline: [timeline('o1', 'c')] });
        expect((await store.getTimeline('o1')).map((t) => [t.seq, t.name])).toEqual([
          [1, 'a'],
          [2, 'b'],
          [3, 'c'],
        ]);
        expect(await store.getIdempotency('k1', 'idem-1')).toMatchObject({
          responseStatus: 201,
          responseBody: { id: 'o1' },
        });
        expect(await store.getIdempotency('k2', 'idem-1')).toBeNull();
        expect((await store.listAudit(10))[0]).toMatchObject({ action: 'order.create', target: 'o1' });
        expect((await store.readEvents({ limit: 10 })).map((e) => e.seq)).toEqual(seqs);
      });

      test('Orders are listed by state, customer and hold reason with keyset paging, and counted', async () => {
        const held = hold('credit', 'over limit');
        for (let i = 0; i < 5; i++) {
          const o = order(`o${i}`, {
            createdAt: `2025-01-15T10:00:0${i}.000Z`,
            customerId: i % 2 === 0 ? 'c1' : 'c2',
            ...(i === 3 ? { state: 'on_hold' as const, holds: [held] } : {}),
          });
          await store.commit({ order: { next: o, expectedVersion: null } });
        }
        expect((await store.listOrders({})).map((o) => o.id)).toEqual(['o0', 'o1', 'o2', 'o3', 'o4']);
        expect((await store.listOrders({ limit: 2, afterId: 'o1' })).map((o) => o.id)).toEqual(['o2', 'o3']);
        expect((await store.listOrders({ customerId: 'c1' })).map((o) => o.id)).toEqual(['o0', 'o2', 'o4']);
        expect((await store.listOrders({ states: ['on_hold'] })).map((o) => o.id)).toEqual(['o3']);
        expect((await store.listOrders({ holdReason: 'credit' })).map((o) => o.id)).toEqual(['o3']);
        expect(await store.countOrders()).toEqual([
          { state: 'on_hold', holdReason: 'credit', count: 1 },
          { state: 'received', holdReason: null, count: 4 },
        ]);
      });

      test('Order counts follow every state and hold change, and a refused unit changes no count', async () => {
        const held = hold('pricing', 'off contract');
        const a = order('a');
        const b = order('b');
        await store.commit({ order: { next: a, expectedVersion: null } });
        await store.commit({ order: { next: b, expectedVersion: null } });
        const aHeld = { ...a, version: 2, state: 'on_hold' as const, holds: [held] };
        await store.commit({ order: { next: aHeld, expectedVersion: 1 } });
        const aReleased = {
          ...aHeld,
          version: 3,
          state: 'accepted' as const,
          holds: [{ ...held, resolvedAt: '2025-01-15T11:00:00.000Z' }],
        };
        await store.commit({ order: { next: aReleased, expectedVersion: 2 } });
        // same state, new version: no count moves
        await store.commit({ order: { next: { ...aReleased, version: 4 }, expectedVersion: 3 } });
        // a stale version is refused: nothing moves
        await expect(
          store.commit({
            order: { next: { ...b, version: 8, state: 'rejected' as const }, expectedVersion: 7 },
          }),
        ).rejects.toMatchObject({ kind: 'conflict' });
        expect(await store.countOrders()).toEqual([
          { state: 'accepted', holdReason: null, count: 1 },
          { state: 'received', holdReason: null, count: 1 },
        ]);
      });

      test('A conflicting unit writes nothing: order, timeline, outbox, deliveries and inventory stay unchanged', async () => {
        await subscribe(['crm', []]);
        await store.upsertInventoryPositions([position('A', 'W1', 5)]);
        const o = order('o1');
        await store.commit({
          order: { next: o, expectedVersion: null },
          timeline: [timeline('o1', 'created')],
          events: [event('o1')],
          inventory: [{ sku: 'A', warehouseId: 'W1', reservedDelta: 2 }],
        });
        const before = {
          order: await store.getOrder('o1'),
          timeline: await store.getTimeline('o1'),
          events: await store.readEvents({ limit: 100 }),
          stats: await store.subscriptionStats(),
          inventory: await store.getInventory(['A']),
        };
        await expectKind(
          store.commit({
            order: { next: { ...o, version: 2, state: 'accepted' }, expectedVersion: 1 },
            timeline: [timeline('o1', 'accepted')],
            events: [event('o1', 'order.accepted.v1')],
            journal: [
              {
                orderId: 'o1',
                step: 's',
                status: 'completed',
                attempt: 1,
                output: {},
                error: null,
                at: o.createdAt,
                durationMs: 1,
              },
            ],
            customers: [customer('c9')],
            inventory: [
              { sku: 'A', warehouseId: 'W1', reservedDelta: 1 },
              { sku: 'A', warehouseId: 'W1', reservedDelta: 5 },
            ],
          }),
          'conflict',
        );
        expect(await store.getOrder('o1')).toEqual(before.order);
        expect(await store.getTimeline('o1')).toEqual(before.timeline);
        expect(await store.readEvents({ limit: 100 })).toEqual(before.events);
        expect(await store.subscriptionStats()).toEqual(before.stats);
        expect(await store.getInventory(['A'])).toEqual(before.inventory);
        expect(await store.getJournal('o1')).toEqual([]);
        expect(await store.getCustomer('c9')).toBeNull();
      });

      test('An update from a stale version is refused as a conflict, and inserting an existing id too', async () => {
        const o = order('o1');
        await store.commit({ order: { next: o, expectedVersion: null } });
        await store.commit({
          order: { next: { ...o, version: 2, state: 'validating' }, expectedVersion: 1 },
        });
        await expectKind(
          store.commit({ order: { next: { ...o, version: 2, state: 'accepted' }, expectedVersion: 1 } }),
          'conflict',
        );
        await expectKind(store.commit({ order: { next: o, expectedVersion: null } }), 'conflict');
        await expectKind(
          store.commit({ order: { next: { ...order('ghost'), version: 2 }, expectedVersion: 1 } }),
          'conflict',
        );
        expect((await store.getOrder('o1'))?.state).toBe('validating');
      });

      test('One live order per quote: a second order of the same source is a conflict naming the first and writes nothing; a rejected or cancelled order frees its quote', async () => {
        const lookups = store as Store & OrderKeyLookups;
        const quote = { system: 'crm' as const, ref: 'Q-100' };
        await store.commit({ order: { next: order('first', { source: quote }), expectedVersion: null } });
        const err = await expectKind(
          store.commit({
            order: { next: order('second', { source: quote }), expectedVersion: null },
            timeline: [timeline('second', 'created')],
            events: [event('second')],
            audit: [audit('order.create', 'second')],
          }),
          'conflict',
        );
        expect(err.details).toMatchObject({
          reason: 'duplicate_source',
          existingOrderId: 'first',
          source: quote,
        });
        expect(await store.getOrder('second')).toBeNull();
        expect(await store.getTimeline('second')).toEqual([]);
        expect(await store.readEvents({ limit: 10 })).toEqual([]);
        expect(await store.listAudit(10)).toEqual([]);
        // A repost decided as rejected is refused too, although rejected orders hold no key.
        const rejectedRepost = await expectKind(
          store.commit({
            order: { next: order('second', { source: quote, state: 'rejected' }), expectedVersion: null },
          }),
          'conflict',
        );
        expect(rejectedRepost.details).toMatchObject({
          reason: 'duplicate_source',
          existingOrderId: 'first',
        });
        expect(await store.getOrder('second')).toBeNull();
        // Another system's quote with the same reference is another quote.
        await store.commit({
          order: {
            next: order('erp-side', { source: { system: 'erp', ref: 'Q-100' } }),
            expectedVersion: null,
          },
        });
        expect((await lookups.findOrderBySource('crm', 'Q-100'))?.id).toBe('first');
        expect((await lookups.findOrderBySource('erp', 'Q-100'))?.id).toBe('erp-side');
        expect(await lookups.findOrderBySource('crm', 'Q-404')).toBeNull();
        // Rejected: the quote may be ordered again, and the new order is the live one.
        const first = (await store.getOrder('first'))!;
        await store.commit({
          order: { next: { ...first, version: 2, state: 'rejected' }, expectedVersion: 1 },
        });
        expect(await lookups.findOrderBySource('crm', 'Q-100')).toBeNull();
        await store.commit({ order: { next: order('again', { source: quote }), expectedVersion: null } });
        expect((await lookups.findOrderBySource('crm', 'Q-100'))?.id).toBe('again');
        const again = (await store.getOrder('again'))!;
        await store.commit({
          order: { next: { ...again, version: 2, state: 'cancelled' }, expectedVersion: 1 },
        });
        await store.commit({ order: { next: order('third', { source: quote }), expectedVersion: null } });
        expect((await lookups.findOrderBySource('crm', 'Q-100'))?.id).toBe('third');
        // Orders posted without a quote reference (their ref is their own id) are never duplicates.
        await store.commit({
          order: {
            next: order('noref-1', { source: { system: 'crm', ref: 'noref-1' } }),
            expectedVersion: null,
          },
        });
        expect(await lookups.findOrderBySource('crm', 'noref-1')).toBeNull();
      });

      test('Concurrent orders of one quote from two connections: exactly one commits, every other is the duplicate conflict naming it', async () => {
        const peer = await withPeer();
        const quote = { system: 'crm' as const, ref: 'Q-RACE' };
        const attempts = Array.from({ length: 12 }, (_, i) =>
          (i % 2 === 0 ? store : peer)
            .commit({
              order: { next: order(`race-${i}`, { source: quote }), expectedVersion: null },
              events: [event(`race-${i}`, 'order.accepted.v1')],
            })
            .then(
              () => ({ ok: true as const, id: `race-${i}` }),
              (e: unknown) => ({ ok: false as const, e }),
            ),
        );
        const results = await Promise.all(attempts);
        const winners = results.filter((r) => r.ok);
        expect(winners).toHaveLength(1);
        const winner = (winners[0] as { id: string }).id;
        for (const r of results) {
          if (r.ok) continue;
          expect(r.e).toBeInstanceOf(CrossdockError);
          expect((r.e as CrossdockError).details).toMatchObject({
            reason: 'duplicate_source',
            existingOrderId: winner,
          });
        }
        expect((await store.readEvents({ limit: 100 })).map((e) => e.event.subject)).toEqual([winner]);
        expect(
          ((await (store as Store & OrderKeyLookups).findOrderBySource('crm', 'Q-RACE')) ?? null)?.id,
        ).toBe(winner);
      });

      test("A customer's orders are found by PO number, oldest first, whatever their state", async () => {
        const lookups = store as Store & OrderKeyLookups;
        await store.commit({
          order: {
            next: order('po-1', { poNumber: 'PO-7', createdAt: '2025-01-15T10:00:01.000Z' }),
            expectedVersion: null,
          },
        });
        await store.commit({
          order: {
            next: order('po-2', {
              poNumber: 'PO-7',
              state: 'cancelled',
              createdAt: '2025-01-15T10:00:02.000Z',
            }),
            expectedVersion: null,
          },
        });
        await store.commit({
          order: { next: order('po-3', { poNumber: 'PO-7', customerId: 'c2' }), expectedVersion: null },
        });
        await store.commit({ order: { next: order('po-4', { poNumber: 'PO-8' }), expectedVersion: null } });
        expect((await lookups.findOrdersByPo('c1', 'PO-7')).map((o) => [o.id, o.state])).toEqual([
          ['po-1', 'received'],
          ['po-2', 'cancelled'],
        ]);
        expect((await lookups.findOrdersByPo('c1', 'PO-7', 1)).map((o) => o.id)).toEqual(['po-1']);
        expect(await lookups.findOrdersByPo('c1', 'PO-9')).toEqual([]);
      });

      test('A reservation beyond availability is refused while one up to it and a release succeed', async () => {
        await store.upsertInventoryPositions([position('A', 'W1', 10, 3)]);
        const reserve = (n: number) =>
          store.commit({ inventory: [{ sku: 'A', warehouseId: 'W1', reservedDelta: n }] });
        await expectKind(reserve(8), 'conflict');
        await reserve(7);
        expect((await store.getInventory(['A']))[0]).toMatchObject({ reserved: 7, available: 0 });
        await expectKind(reserve(1), 'conflict');
        await reserve(-2);
        expect((await store.getInventory(['A']))[0]).toMatchObject({ reserved: 5, available: 2 });
        await expectKind(reserve(-6), 'conflict');
        await expectKind(
          store.commit({ inventory: [{ sku: 'Z', warehouseId: 'W1', reservedDelta: 1 }] }),
          'conflict',
        );
      });

      test('A second idempotency record with the same scope and key is a conflict', async () => {
        const rec = idempotencyRecord('same');
        await store.commit({ idempotency: rec });
        await expectKind(
          store.commit({ idempotency: rec, order: { next: order('o1'), expectedVersion: null } }),
          'conflict',
        );
        expect(await store.getOrder('o1')).toBeNull();
        await store.commit({ idempotency: { ...rec, scope: 'k2' } });
      });

      test('A replacing idempotency record overwrites the answer for the same request only; another request hash is a conflict and writes nothing', async () => {
        const rec = idempotencyRecord('provisional', {
          responseStatus: 202,
          responseBody: { state: 'validating' },
        });
        await store.commit({ idempotency: rec });
        await store.commit({
          idempotency: { ...rec, responseStatus: 201, responseBody: { state: 'accepted' }, replace: true },
        });
        expect(await store.getIdempotency('k1', 'provisional')).toMatchObject({
          requestHash: 'h',
          responseStatus: 201,
          responseBody: { state: 'accepted' },
        });
        await expectKind(
          store.commit({
            idempotency: { ...rec, requestHash: 'other', responseStatus: 200, replace: true },
            order: { next: order('o1'), expectedVersion: null },
          }),
          'conflict',
        );
        expect(await store.getOrder('o1')).toBeNull();
        expect((await store.getIdempotency('k1', 'provisional'))?.responseStatus).toBe(201);
        // Replacing a key that holds nothing inserts it.
        await store.commit({ idempotency: { ...rec, key: 'fresh', replace: true } });
        expect((await store.getIdempotency('k1', 'fresh'))?.responseStatus).toBe(202);
      });

      test('An inbound message seen before is reported duplicate and applies nothing', async () => {
        const first = await store.commit({
          inbound: { source: 'wms', id: 'm1' },
          timeline: [timeline('o1', 'first')],
        });
        expect(first.status).toBe('committed');
        const again = await store.commit({
          inbound: { source: 'wms', id: 'm1' },
          order: { next: order('o1'), expectedVersion: null },
          timeline: [timeline('o1', 'second')],
          events: [event('o1')],
        });
        expect(again).toEqual({ status: 'duplicate' });
        expect(await store.getOrder('o1')).toBeNull();
        expect((await store.getTimeline('o1')).map((t) => t.name)).toEqual(['first']);
        expect(await store.readEvents({ limit: 10 })).toEqual([]);
        expect((await store.commit({ inbound: { source: 'erp', id: 'm1' } })).status).toBe('committed');
      });

      test('Several inbound messages in one unit: all new apply together; one seen before applies nothing and records none', async () => {
        await store.commit({ inbound: { source: 'wms', id: 'm1' }, timeline: [timeline('o1', 'm1')] });
        const mixed = await store.commit({
          inbound: [
            { source: 'wms', id: 'm2' },
            { source: 'wms', id: 'm1' },
          ],
          timeline: [timeline('o1', 'm2'), timeline('o1', 'm1 again')],
          events: [event('o1')],
        });
        expect(mixed).toEqual({ status: 'duplicate' });
        expect((await store.getTimeline('o1')).map((t) => t.name)).toEqual(['m1']);
        expect(await store.readEvents({ limit: 10 })).toEqual([]);
        // m2 was not recorded by the refused unit: alone, or with another new one, it applies.
        const fresh = await store.commit({
          inbound: [
            { source: 'wms', id: 'm2' },
            { source: 'wms', id: 'm3' },
          ],
          timeline: [timeline('o1', 'm2'), timeline('o1', 'm3')],
        });
        expect(fresh.status).toBe('committed');
        expect((await store.getTimeline('o1')).map((t) => t.name)).toEqual(['m1', 'm2', 'm3']);
        expect((await store.commit({ inbound: { source: 'wms', id: 'm3' } })).status).toBe('duplicate');
      });

      test('Change-feed cursors advance with their commit and stay put when the unit conflicts', async () => {
        // Typed locally so the suite compiles before and after `cursors` lands in the port.
        const cursors = store as Store & { getCursor(name: string): Promise<string | null> };
        const commit = (unit: CommitUnit & { cursors: { name: string; value: string }[] }) =>
          store.commit(unit);
        expect(await cursors.getCursor('erp.sales')).toBeNull();
        await commit({ cursors: [{ name: 'erp.sales', value: '2025-01-15T10:00:00Z' }] });
        await commit({
          cursors: [{ name: 'erp.sales', value: '2025-01-15T11:00:00Z' }],
          timeline: [timeline('o1', 'synced')],
        });
        await expectKind(
          commit({
            cursors: [{ name: 'erp.sales', value: '2025-01-15T12:00:00Z' }],
            inventory: [{ sku: 'none', warehouseId: 'W1', reservedDelta: 1 }],
          }),
          'conflict',
        );
        expect(await cursors.getCursor('erp.sales')).toBe('2025-01-15T11:00:00Z');
      });

      test('A duplicate event id is a typed conflict, never a raw driver error', async () => {
        const e = event('o1');
        await store.commit({ events: [e] });
        await expectKind(store.commit({ events: [e] }), 'conflict');
      });

      test('Two hundred concurrent commits with some conflicts each resolve to the right outcome', async () => {
        await subscribe(['crm', ['order.']]);
        await store.upsertInventoryPositions([position('A', 'W1', 150)]);
        await store.commit({ order: { next: order('shared'), expectedVersion: null } });
        const units = Array.from({ length: 200 }, (_, i) => {
          if (i % 50 === 7) return store.commit({ order: { next: order('shared'), expectedVersion: null } });
          if (i % 50 === 8) {
            return store.commit({ order: { next: { ...order('shared'), version: 5 }, expectedVersion: 4 } });
          }
          return store.commit({
            order: { next: order(`o${i}`), expectedVersion: null },
            timeline: [timeline(`o${i}`, 'created')],
            events: [event(`o${i}`, 'order.accepted.v1')],
            inventory: [{ sku: 'A', warehouseId: 'W1', reservedDelta: 1 }],
          });
        });
        const results = await Promise.allSettled(units);
        const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [i] : []));
        const expectedConflicts = results.map((_, i) => i).filter((i) => i % 50 === 7 || i % 50 === 8);
        const okOrders = results.length - expectedConflicts.length;
        // 192 reservations against 150 available: exactly 42 of the order units are refused.
        expect(failed.length).toBe(expectedConflicts.length + (okOrders - 150));
        for (const i of expectedConflicts) expect(failed).toContain(i);
        for (const r of results) {
          if (r.status === 'rejected') expect((r.reason as CrossdockError).kind).toBe('conflict');
        }
        const committed = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        const seqs = results.flatMap((r) => (r.status === 'fulfilled' ? committedSeqs(r.value) : []));
        expect(new Set(seqs).size).toBe(150);
        expect((await store.getInventory(['A']))[0]).toMatchObject({ reserved: 150, available: 0 });
        expect((await store.subscriptionStats())[0]).toMatchObject({ pending: 150 });
        for (const i of failed) {
          if (!expectedConflicts.includes(i)) expect(await store.getOrder(`o${i}`)).toBeNull();
        }
        expect(committed.length).toBe(150);
        for (const i of committed) expect((await store.getTimeline(`o${i}`)).length).toBe(1);
      });
    });

    describe('event backbone', () => {
      test('Events fan out to each active subscription whose type prefixes match, empty meaning all', async () => {
        await subscribe(
          ['all', []],
          ['orders', ['order.']],
          ['ships', ['shipment.milestone.v1']],
          ['off', [], 'strict', false],
        );
        await store.commit({
          events: [event('o1', 'order.accepted.v1'), event('o1', 'shipment.milestone.v1')],
        });
        await store.commit({ events: [event('o2', 'invoice.issued.v1')] });
        const stats = Object.fromEntries((await store.subscriptionStats()).map((s) => [s.name, s.pending]));
        expect(stats).toEqual({ all: 3, orders: 1, ships: 1, off: 0 });
        const subs = await store.listSubscriptions();
        expect(subs.find((s) => s.name === 'off')).toEqual({
          name: 'off',
          types: [],
          ordering: 'strict',
          active: false,
        });
        const claimed = await claim(store, 'ships');
        expect(claimed.map((d) => d.event.type)).toEqual(['shipment.milestone.v1']);
        expect(claimed[0]).toMatchObject({ subscription: 'ships', key: 'o1', attempts: 0, firstError: null });
      });

      test('Claims return deliveries in seq order and never a later delivery of a key whose head is leased', async () => {
        await subscribe(['crm', []]);
        const k1 = await emit('k1', 3);
        const k2 = await emit('k2', 2);
        const first = await claim(store, 'crm', 1, 'w1');
        expect(first.map((d) => d.eventSeq)).toEqual([k1[0]]);
        const second = await claim(store, 'crm', 10, 'w2');
        expect(second.map((d) => d.eventSeq)).toEqual(k2);
        expect(await claim(store, 'crm', 10, 'w3')).toEqual([]);
        const stats = (await store.subscriptionStats())[0];
        expect(stats).toMatchObject({ pending: 2, leased: 3 });
        const afterLease = await claim(store, 'crm', 10, 'w4', later(60_000));
        expect(afterLease.map((d) => d.eventSeq)).toEqual([...k1, ...k2]);
      });

      test('A batch takes a key only as a prefix: completing the head lets the rest of the key go', async () => {
        await subscribe(['crm', []]);
        const k1 = await emit('k1', 3);
        const batch = await claim(store, 'crm', 2);
        expect(batch.map((d) => d.eventSeq)).toEqual(k1.slice(0, 2));
        await store.completeDeliveries(batch.map((d) => d.id));
        const rest = await claim(store, 'crm', 10);
        expect(rest.map((d) => d.eventSeq)).toEqual([k1[2]]);
        await store.completeDeliveries(rest.map((d) => d.id));
        expect((await store.subscriptionStats())[0]).toMatchObject({ pending: 0, leased: 0, delivered: 3 });
      });

      test('New, replayed and operator-retried deliveries are due at once whatever clock the claimer uses', async () => {
        await subscribe(['crm', []]);
        const seqs = await emit('k1', 1);
        const past = new Date('2001-01-01T00:00:00.000Z');
        const [d] = await claim(store, 'crm', 10, 'w1', past);
        expect(d?.eventSeq).toBe(seqs[0]);
        await store.completeDeliveries([d!.id]);
        expect(await store.enqueueDeliveries('crm', seqs)).toBe(1);
        const [again] = await claim(store, 'crm', 10, 'w1', past);
        await store.failDeliveries([
          {
            id: again!.id,
            error: {},
            nextAttemptAt: null,
            exception: deliveryException('x', again!.id, 'crm'),
          },
        ]);
        await store.actOnException('x', 'retry', audit('exception.retry', 'x'));
        expect((await claim(store, 'crm', 10, 'w1', past)).map((x) => x.eventSeq)).toEqual(seqs);
      });

      test('Released deliveries can be claimed again at once', async () => {
        await subscribe(['crm', []]);
        await emit('k1', 2);
        const batch = await claim(store, 'crm', 10, 'w1');
        await store.releaseDeliveries(batch.map((d) => d.id));
        // Ids are the store's: a cursor store's block delivery becomes a row when released.
        expect((await claim(store, 'crm', 10, 'w2')).map((d) => d.eventSeq)).toEqual(
          batch.map((d) => d.eventSeq),
        );
      });

      test('Expediting makes waiting retries due at once, keeps each key in order and leaves leased and parked deliveries alone', async () => {
        await subscribe(['crm', []]);
        const k1 = await emit('k1', 2);
        const k2 = await emit('k2', 1);
        await emit('k3', 1);
        const batch = await claim(store, 'crm', 10, 'w1');
        const byKey = new Map(batch.filter((d) => d.eventSeq !== k1[1]).map((d) => [d.key, d]));
        const hour = later(3_600_000);
        // k1's head and k2 wait an hour for their retry; k3 is parked; k1's second stays behind its head.
        await store.failDeliveries(
          [
            { id: byKey.get('k1')!.id, error: { message: '503' }, nextAttemptAt: hour },
            { id: byKey.get('k2')!.id, error: { message: '503' }, nextAttemptAt: hour },
            {
              id: byKey.get('k3')!.id,
              error: { message: '400' },
              nextAttemptAt: null,
              exception: deliveryException('p', byKey.get('k3')!.id, 'crm'),
            },
          ],
          'w1',
        );
        await store.releaseDeliveries(
          batch.filter((d) => d.eventSeq === k1[1]).map((d) => d.id),
          'w1',
        );
        expect(await claim(store, 'crm', 10, 'w2')).toEqual([]);
        expect(await store.expediteDeliveries('crm', later(5))).toBe(2);
        const due = await claim(store, 'crm', 10, 'w2', later(10));
        expect(due.map((d) => d.eventSeq)).toEqual([...k1, ...k2]);
        expect(due.find((d) => d.eventSeq === k1[0])?.attempts).toBe(1);
        // Leased now (by w2): a second expedite changes nothing, and k3 stays parked.
        expect(await store.expediteDeliveries('crm', later(10))).toBe(0);
        expect((await store.subscriptionStats())[0]).toMatchObject({ leased: 3, parked: 1 });
      });

      test("Releasing foreign leases frees a dead claimer's deliveries at once and keeps the caller's own", async () => {
        await subscribe(['crm', []]);
        await emit('k1', 1);
        await emit('k2', 1);
        const [dead] = await claim(store, 'crm', 1, 'dead-process');
        const [mine] = await claim(store, 'crm', 1, 'me');
        expect(await claim(store, 'crm', 10, 'someone')).toEqual([]);
        expect(await store.releaseForeignLeases('me')).toBe(1);
        expect((await claim(store, 'crm', 10, 'someone')).map((d) => d.eventSeq)).toEqual([dead!.eventSeq]);
        expect(mine).toBeDefined();
      });

      test('A claimer whose lease ran out cannot free or reschedule a delivery another claimer holds now', async () => {
        await subscribe(['crm', []]);
        const [seq] = await emit('k1', 1);
        const [first] = await claim(store, 'crm', 10, 'w1');
        await store.releaseDeliveries([first!.id], 'w1');
        const [mine] = await claim(store, 'crm', 10, 'w1'); // leased to w1 for 30 s
        const [theirs] = await claim(store, 'crm', 10, 'w2', later(60_000)); // w1's lease ran out
        expect(theirs?.eventSeq).toBe(seq);
        await store.releaseDeliveries([mine!.id], 'w1');
        await store.failDeliveries(
          [{ id: mine!.id, error: { message: 'late' }, nextAttemptAt: later() }],
          'w1',
        );
        expect(await claim(store, 'crm', 10, 'w3', later(61_000))).toEqual([]);
        await store.completeDeliveries([theirs!.id]);
        expect((await store.subscriptionStats())[0]).toMatchObject({ pending: 0, leased: 0, delivered: 1 });
      });

      test('A failed delivery is retried on schedule, keeping its first error and counting attempts', async () => {
        await subscribe(['crm', []]);
        const k1 = await emit('k1', 2);
        const k2 = await emit('k2', 1);
        const [head] = await claim(store, 'crm', 1);
        const retryAt = later(60_000);
        await store.failDeliveries([
          { id: head!.id, error: { message: 'timeout 1' }, nextAttemptAt: retryAt },
        ]);
        expect((await claim(store, 'crm', 10)).map((d) => d.eventSeq)).toEqual(k2);
        const [again] = await claim(store, 'crm', 10, 'w2', new Date(retryAt.getTime() + 1));
        expect(again).toMatchObject({
          eventSeq: head!.eventSeq,
          attempts: 1,
          firstError: { message: 'timeout 1' },
        });
        await store.failDeliveries([
          { id: again!.id, error: { message: 'timeout 2' }, nextAttemptAt: new Date(0) },
        ]);
        const [third] = await claim(store, 'crm', 1, 'w3', new Date(retryAt.getTime() + 2));
        expect(third).toMatchObject({
          eventSeq: k1[0],
          attempts: 2,
          firstError: { message: 'timeout 1' },
          lastError: { message: 'timeout 2' },
        });
      });

      test('Parking a delivery opens its exception in the same call and blocks its key only under strict ordering', async () => {
        await subscribe(['strict', []], ['loose', [], 'skip_parked']);
        const k1 = await emit('k1', 3);
        const k2 = await emit('k2', 1);
        for (const sub of ['strict', 'loose']) {
          const [head] = await claim(store, sub, 1);
          expect(head?.eventSeq).toBe(k1[0]);
          await store.failDeliveries([
            {
              id: head!.id,
              error: { message: 'bad payload' },
              nextAttemptAt: null,
              exception: deliveryException(`x-${sub}`, head!.id, sub),
            },
          ]);
        }
        expect((await claim(store, 'strict', 10)).map((d) => d.eventSeq)).toEqual(k2);
        expect((await claim(store, 'loose', 10)).map((d) => d.eventSeq)).toEqual([k1[1], k1[2], ...k2]);
        const stats = Object.fromEntries((await store.subscriptionStats()).map((s) => [s.name, s.parked]));
        expect(stats).toEqual({ loose: 1, strict: 1 });
        const open = await store.listExceptions({ status: 'open', subscription: 'strict' });
        expect(open.map((e) => e.id)).toEqual(['x-strict']);
        expect(open[0]).toMatchObject({
          kind: 'data_quality',
          owner: 'integration',
          firstError: { message: 'rejected by destination' },
        });
        await expectKind(store.failDeliveries([{ id: '1', error: {}, nextAttemptAt: null }]), 'data_quality');
      });

      test('Retrying an exception makes its parked delivery due now and writes the audit row', async () => {
        await subscribe(['crm', []]);
        const k1 = await emit('k1', 2);
        const [head] = await claim(store, 'crm', 1);
        await store.failDeliveries([
          {
            id: head!.id,
            error: { m: 1 },
            nextAttemptAt: null,
            exception: deliveryException('x1', head!.id, 'crm'),
          },
        ]);
        expect(await claim(store, 'crm', 10)).toEqual([]);
        const rec = await store.actOnException(
          'x1',
          'retry',
          audit('exception.retry', 'x1'),
          'fixed mapping',
        );
        expect(rec).toMatchObject({ id: 'x1', status: 'retried', note: 'fixed mapping' });
        expect(await store.getException('x1')).toMatchObject({ status: 'retried', note: 'fixed mapping' });
        expect((await claim(store, 'crm', 10)).map((d) => d.eventSeq)).toEqual(k1);
        expect((await store.listAudit(5))[0]).toMatchObject({ action: 'exception.retry', target: 'x1' });
        await expectKind(store.actOnException('x1', 'resolve', audit('exception.resolve', 'x1')), 'conflict');
        await expectKind(
          store.actOnException('nope', 'retry', audit('exception.retry', 'nope')),
          'data_quality',
        );
      });

      test('Resolving or discarding an exception closes it, drops the parked delivery and audits the action', async () => {
        await subscribe(['crm', []]);
        const k1 = await emit('k1', 1);
        const k2 = await emit('k2', 1);
        const ids: string[] = [];
        for (const d of await claim(store, 'crm', 10)) {
          ids.push(d.id);
          await store.failDeliveries([
            {
              id: d.id,
              error: { m: 1 },
              nextAttemptAt: null,
              exception: deliveryException(`x-${d.key}`, d.id, 'crm'),
            },
          ]);
        }
        expect(ids).toHaveLength(2);
        await store.actOnException('x-k1', 'resolve', audit('exception.resolve', 'x-k1'));
        await store.actOnException('x-k2', 'discard', audit('exception.discard', 'x-k2'), 'obsolete');
        expect((await store.listExceptions({ status: 'resolved' })).map((e) => e.id)).toEqual(['x-k1']);
        expect((await store.listExceptions({ status: 'discarded' }))[0]).toMatchObject({
          id: 'x-k2',
          note: 'obsolete',
        });
        expect((await store.subscriptionStats())[0]).toMatchObject({ parked: 0, pending: 0 });
        expect((await store.listAudit(10)).map((a) => a.action)).toEqual([
          'exception.discard',
          'exception.resolve',
        ]);
        expect(k1.length + k2.length).toBe(2);
      });

      test('Replay reads events by seq, time and type and re-enqueues them without doubling live deliveries', async () => {
        await subscribe(['crm', ['order.']], ['late', ['order.']]);
        const a = committedSeqs(
          await store.commit({ events: [event('o1', 'order.accepted.v1', '2025-01-01T00:00:00.000Z')] }),
        );
        const b = committedSeqs(
          await store.commit({ events: [event('o1', 'shipment.milestone.v1', '2025-01-02T00:00:00+02:00')] }),
        );
        const c = committedSeqs(
          await store.commit({
            events: [event('o2', 'order.status_changed.v1', '2025-01-03T00:00:00.000Z')],
          }),
        );
        const all = await store.readEvents({ limit: 10 });
        expect(all.map((e) => e.seq)).toEqual([...a, ...b, ...c]);
        expect(all[1]?.event.type).toBe('shipment.milestone.v1');
        expect((await store.readEvents({ fromSeq: b[0]!, limit: 10 })).map((e) => e.seq)).toEqual([
          ...b,
          ...c,
        ]);
        expect((await store.readEvents({ limit: 1 })).map((e) => e.seq)).toEqual(a);
        expect(
          (
            await store.readEvents({
              fromTime: '2025-01-01T12:00:00Z',
              toTime: '2025-01-02T23:00:00Z',
              limit: 10,
            })
          ).map((e) => e.seq),
        ).toEqual(b);
        expect((await store.readEvents({ types: ['order.status_'], limit: 10 })).map((e) => e.seq)).toEqual(
          c,
        );
        const batch = await claim(store, 'crm', 10);
        await store.completeDeliveries(batch.map((d) => d.id));
        expect(await store.enqueueDeliveries('crm', [...a, ...b, ...c])).toBe(3);
        expect(await store.enqueueDeliveries('late', [...a, ...c])).toBe(0);
        expect((await claim(store, 'crm', 10)).map((d) => d.eventSeq)).toEqual([...a, ...b, ...c]);
        await expectKind(store.enqueueDeliveries('nope', a), 'data_quality');
      });

      test('Concurrent claimers never get the same delivery and every key is delivered in order', async () => {
        await subscribe(['crm', []]);
        for (let i = 0; i < 10; i++) {
          await store.commit({
            events: Array.from({ length: 20 }, (_, j) => event(`k${(i * 20 + j) % 13}`)),
          });
        }
        const peer = await withPeer();
        const delivered: Delivery[] = [];
        const seen = new Set<string>();
        const worker = async (s: Store, owner: string) => {
          for (let idle = 0; idle < 5; ) {
            const batch = await s.claimDeliveries('crm', { limit: 7, leaseMs: 60_000, now: later(5), owner });
            if (batch.length === 0) {
              idle++;
              await new Promise((r) => setTimeout(r, 2));
              continue;
            }
            idle = 0;
            for (const d of batch) {
              expect(seen.has(d.id)).toBe(false);
              seen.add(d.id);
              delivered.push(d);
            }
            await s.completeDeliveries(batch.map((d) => d.id));
          }
        };
        await Promise.all([worker(store, 'a'), worker(peer, 'b'), worker(store, 'c'), worker(peer, 'd')]);
        expect(delivered).toHaveLength(200);
        const lastByKey = new Map<string, number>();
        for (const d of delivered) {
          expect(d.eventSeq).toBeGreaterThan(lastByKey.get(d.key) ?? 0);
          lastByKey.set(d.key, d.eventSeq);
        }
        expect((await store.subscriptionStats())[0]).toMatchObject({ pending: 0, delivered: 200 });
      });

      test('Any sequence of claims, completions, failures and releases delivers each key in seq order', async () => {
        type Action =
          | { kind: 'claim'; limit: number; owner: number }
          | { kind: 'complete' | 'release'; pick: number }
          | { kind: 'fail'; pick: number; park: boolean; delayMs: number }
          | { kind: 'tick'; ms: number }
          | { kind: 'retry' };
        const action: fc.Arbitrary<Action> = fc.oneof(
          fc.record({
            kind: fc.constant('claim' as const),
            limit: fc.integer({ min: 1, max: 6 }),
            owner: fc.integer({ min: 0, max: 2 }),
          }),
          fc.record({ kind: fc.constantFrom('complete' as const, 'release' as const), pick: fc.nat() }),
          fc.record({
            kind: fc.constant('fail' as const),
            pick: fc.nat(),
            park: fc.boolean(),
            delayMs: fc.integer({ min: 0, max: 3_000 }),
          }),
          fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
          fc.record({ kind: fc.constant('retry' as const) }),
        );
        const scenario = fc.record({
          keys: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 12 }),
          ordering: fc.constantFrom('strict' as const, 'skip_parked' as const),
          actions: fc.array(action, { minLength: 1, maxLength: 30 }),
        });
        let first = true;
        await fc.assert(
          fc.asyncProperty(scenario, async ({ keys, ordering, actions }) => {
            const s = first ? store : await harness.open();
            first = false;
            try {
              await s.putSubscriptions([{ name: 'sub', types: [], ordering, active: true }]);
              const seqs = committedSeqs(await s.commit({ events: keys.map((k) => event(`k${k}`)) }));
              const keyOf = new Map(seqs.map((q, i) => [q, `k${keys[i]}`]));
              let now = Date.now() + 10;
              const held = new Map<string, Delivery>();
              const done = new Set<number>();
              const parked = new Set<number>();
              let exceptionN = 0;
              const pickHeld = (n: number) => [...held.values()][n % held.size];
              for (const a of actions) {
                if (a.kind === 'tick') now += a.ms;
                else if (a.kind === 'claim') {
                  const batch = await s.claimDeliveries('sub', {
                    limit: a.limit,
                    leaseMs: 30_000,
                    now: new Date(now),
                    owner: `o${a.owner}`,
                  });
                  for (const d of batch) {
                    // every earlier undelivered delivery of the key is in this batch, before it
                    for (const q of seqs) {
                      if (q >= d.eventSeq || keyOf.get(q) !== d.key || done.has(q)) continue;
                      if (ordering === 'skip_parked' && parked.has(q)) continue;
                      expect(batch.some((b) => b.eventSeq === q && batch.indexOf(b) < batch.indexOf(d))).toBe(
                        true,
                      );
                    }
                    held.set(d.id, d);
                  }
                } else if (a.kind === 'retry') {
                  const open = await s.listExceptions({ status: 'open' });
                  if (open[0]) {
                    await s.actOnException(open[0].id, 'retry', audit('exception.retry', open[0].id));
                    parked.delete(Number(open[0].eventId));
                  }
                } else if (held.size > 0) {
                  const d = pickHeld(a.pick)!;
                  held.delete(d.id);
                  if (a.kind === 'complete') {
                    await s.completeDeliveries([d.id]);
                    done.add(d.eventSeq);
                  } else if (a.kind === 'release') {
                    await s.releaseDeliveries([d.id]);
                  } else if (a.kind === 'fail' && a.park) {
                    exceptionN++;
                    await s.failDeliveries([
                      {
                        id: d.id,
                        error: { n: exceptionN },
                        nextAttemptAt: null,
                        exception: {
                          ...deliveryException(`x${exceptionN}`, d.id, 'sub'),
                          eventId: String(d.eventSeq),
                        },
                      },
                    ]);
                    parked.add(d.eventSeq);
                  } else if (a.kind === 'fail') {
                    await s.failDeliveries([
                      { id: d.id, error: {}, nextAttemptAt: new Date(now + a.delayMs) },
                    ]);
                  }
                }
              }
            } finally {
              if (s !== store) await s.close();
            }
          }),
          { numRuns: harness.propertyRuns ?? 40 },
        );
      });
    });

    describe('retention', () => {
      const soon = () => new Date(Date.now() + 60_000);
      const pause = (ms = 5) => new Promise((r) => setTimeout(r, ms));

      test('Idempotency records older than their window are pruned in batches, younger ones kept, and a pruned key can be used again', async () => {
        const old = '2025-01-01T00:00:00.000Z';
        const young = '2025-03-01T00:00:00.000Z';
        for (const key of ['a', 'b', 'c']) {
          await store.commit({ idempotency: idempotencyRecord(key, { createdAt: old }) });
        }
        await store.commit({ idempotency: idempotencyRecord('d', { createdAt: young }) });
        const seen: number[] = [];
        const dry = await store.prune({ before: { idempotency: new Date('2025-02-01') }, dryRun: true });
        expect(dry.idempotency).toBe(3);
        expect(await store.getIdempotency('k1', 'a')).not.toBeNull();
        const counts = await store.prune({
          before: { idempotency: new Date('2025-02-01') },
          batchSize: 2,
          onProgress: (table, n) => {
            if (table === 'idempotency') seen.push(n);
          },
        });
        expect(counts).toEqual({
          idempotency: 3,
          inbound_messages: 0,
          outbox: 0,
          exceptions: 0,
          audit_log: 0,
        });
        expect(seen).toEqual([2, 3]);
        expect(await store.getIdempotency('k1', 'a')).toBeNull();
        expect(await store.getIdempotency('k1', 'd')).not.toBeNull();
        // The key is free again: a new record under it commits instead of conflicting.
        const again = await store.commit({
          idempotency: idempotencyRecord('a', { createdAt: young, responseStatus: 202 }),
        });
        expect(again.status).toBe('committed');
        expect((await store.getIdempotency('k1', 'a'))?.responseStatus).toBe(202);
      });

      test('Inbound dedupe records older than their window are pruned; a younger one still reports duplicates', async () => {
        await store.commit({ inbound: { source: 'wms', id: 'm1' } });
        await pause();
        const mid = new Date();
        await pause();
        await store.commit({ inbound: { source: 'wms', id: 'm2' } });
        const counts = await store.prune({ before: { inbound_messages: mid } });
        expect(counts.inbound_messages).toBe(1);
        expect((await store.commit({ inbound: { source: 'wms', id: 'm2' } })).status).toBe('duplicate');
        // m1's record is gone: the same message id is applied as new.
        expect((await store.commit({ inbound: { source: 'wms', id: 'm1' } })).status).toBe('committed');
      });

      test('Resolved and discarded exceptions older than their window are archived, then deleted; open and retried ones stay', async () => {
        const input = (id: string) => ({
          ...deliveryException(id, `no-delivery-${id}`, 'crm'),
          deliveryId: null,
        });
        await store.commit({ exceptions: ['r1', 'd1', 'r2', 'open1', 't1'].map(input) });
        await store.actOnException('r1', 'resolve', audit('exception.resolve', 'r1'), 'fixed');
        await store.actOnException('d1', 'discard', audit('exception.discard', 'd1'));
        await store.actOnException('t1', 'retry', audit('exception.retry', 't1'));
        await pause();
        const mid = new Date();
        await pause();
        await store.actOnException('r2', 'resolve', audit('exception.resolve', 'r2'));
        const archived: Record<string, unknown>[] = [];
        const counts = await store.prune({
          before: { exceptions: mid },
          batchSize: 1,
          archive: async (table, rows) => {
            expect(table).toBe('exceptions');
            // Archived before the delete: the rows are still in the store when handed over.
            for (const r of rows) expect(await store.getException(String(r.id))).not.toBeNull();
            archived.push(...rows);
          },
        });
        expect(counts.exceptions).toBe(2);
        expect(archived.map((r) => r.id).sort()).toEqual(['d1', 'r1']);
        expect(archived.find((r) => r.id === 'r1')).toMatchObject({
          status: 'resolved',
          note: 'fixed',
          kind: 'data_quality',
          owner: 'integration',
          subscription: 'crm',
        });
        expect(await store.getException('r1')).toBeNull();
        expect(await store.getException('d1')).toBeNull();
        for (const id of ['r2', 'open1', 't1']) expect(await store.getException(id)).not.toBeNull();
        // An open exception is never pruned, however old.
        const all = await store.prune({ before: { exceptions: soon() } });
        expect(all.exceptions).toBe(1);
        expect((await store.getException('open1'))?.status).toBe('open');
        expect((await store.getException('t1'))?.status).toBe('retried');
      });

      test('Audit entries older than their window go only after the archive took them; a failing archive deletes nothing', async () => {
        await store.commit({
          audit: [
            { ...audit('a.old1', 't'), at: '2024-01-01T00:00:00.000Z' },
            { ...audit('a.old2', 't'), at: '2024-02-01T00:00:00.000Z' },
            { ...audit('a.old3', 't'), at: '2024-03-01T00:00:00.000Z' },
            { ...audit('a.new', 't'), at: '2025-06-01T00:00:00.000Z' },
          ],
        });
        const before = { audit_log: new Date('2025-01-01') };
        const failing = store.prune({
          before,
          archive: async () => {
            throw new Error('disk full');
          },
        });
        await expect(failing).rejects.toThrow('disk full');
        expect(await store.listAudit(10)).toHaveLength(4);

        const batches: string[][] = [];
        const counts = await store.prune({
          before,
          batchSize: 2,
          archive: async (table, rows) => {
            expect(table).toBe('audit_log');
            batches.push(rows.map((r) => String(r.action)));
          },
        });
        expect(counts.audit_log).toBe(3);
        expect(batches).toEqual([['a.old1', 'a.old2'], ['a.old3']]);
        expect((await store.listAudit(10)).map((a) => a.action)).toEqual(['a.new']);
      });

      test('A dry run counts per table what a real run then removes, and removes nothing', async () => {
        await subscribe(['crm', []]);
        await emit('k1', 3);
        const batch = await claim(store, 'crm');
        await store.completeDeliveries(batch.map((d) => d.id));
        await store.commit({
          idempotency: idempotencyRecord('x', { createdAt: '2024-01-01T00:00:00.000Z' }),
          audit: [{ ...audit('a.old', 't'), at: '2024-01-01T00:00:00.000Z' }],
        });
        const before = { idempotency: soon(), outbox: soon(), audit_log: soon(), exceptions: soon() };
        const dry = await store.prune({ before, dryRun: true, batchSize: 2 });
        expect(dry).toEqual({ idempotency: 1, inbound_messages: 0, outbox: 3, exceptions: 0, audit_log: 1 });
        expect(await store.readEvents({ limit: 10 })).toHaveLength(3);
        expect(await store.listAudit(10)).toHaveLength(1);
        expect(await store.prune({ before, batchSize: 2 })).toEqual(dry);
        expect(await store.readEvents({ limit: 10 })).toEqual([]);
      });

      test('A pending, leased, retrying or parked event is never pruned, and delivery continues after a prune', async () => {
        // Pruned from a second connection where the backend has one: `crossdock prune` beside a hub.
        const pruner = await withPeer();
        await subscribe(['crm', []], ['notify', [], 'skip_parked']);
        const [done1] = await emit('k1');
        const [done2] = await emit('k2');
        const [parked] = await emit('k3');
        const [retrying] = await emit('k4');
        const [leased] = await emit('k5');
        const young = event('k7', 'order.status_changed.v1', new Date().toISOString());
        const crm = await claim(store, 'crm');
        const id = (seq: number | undefined) => crm.find((d) => d.eventSeq === seq)!.id;
        await store.completeDeliveries([id(done1), id(done2)]);
        await store.failDeliveries([
          {
            id: id(parked),
            error: { m: 'refused' },
            nextAttemptAt: null,
            exception: deliveryException('xp', id(parked), 'crm'),
          },
          { id: id(retrying), error: { m: 'timeout' }, nextAttemptAt: later(60_000) },
        ]);
        const notify = await claim(store, 'notify');
        await store.completeDeliveries(notify.map((d) => d.id));
        const [pending] = await emit('k6'); // past both cursors: owed to both
        const [fresh] = committedSeqs(await store.commit({ events: [young] })); // too young
        const before = { outbox: new Date(Date.now() - 60_000) };

        expect((await pruner.prune({ before, dryRun: true })).outbox).toBe(2);
        expect((await pruner.prune({ before, batchSize: 2 })).outbox).toBe(2);
        const left = (await store.readEvents({ limit: 100 })).map((e) => e.seq);
        expect(left).toEqual([parked, retrying, leased, pending, fresh]);
        expect(await store.getException('xp')).not.toBeNull();

        // Delivery carries on: the lease completes, the retry and the new events are handed out,
        // the parked one comes back when an operator retries it.
        await store.completeDeliveries([id(leased)]);
        const next = await claim(store, 'crm', 100, 'w1', later(120_000));
        expect(next.map((d) => d.eventSeq).sort((a, b) => a - b)).toEqual([retrying, pending, fresh]);
        expect(next.every((d) => d.event !== null && d.event.subject !== undefined)).toBe(true);
        await store.completeDeliveries(next.map((d) => d.id));
        await store.actOnException('xp', 'retry', audit('exception.retry', 'xp'));
        const retried = await claim(store, 'crm', 100, 'w1', later(120_000));
        expect(retried.map((d) => d.eventSeq)).toEqual([parked]);
        await store.completeDeliveries(retried.map((d) => d.id));
        const rest = await claim(store, 'notify', 100, 'w1', later(120_000));
        expect(rest.map((d) => d.eventSeq)).toEqual([pending, fresh]);
        await store.completeDeliveries(rest.map((d) => d.id));

        // Everything old is delivered now: all of it goes, and the outbox can be empty.
        expect((await pruner.prune({ before: { outbox: soon() } })).outbox).toBe(5);
        expect(await store.readEvents({ limit: 100 })).toEqual([]);
        // Seqs are never reused and the cursors still work on an empty outbox.
        const [after] = await emit('k8');
        expect(after).toBeGreaterThan(fresh!);
        const c = await claim(store, 'crm', 100, 'w1', later(120_000));
        const n = await claim(store, 'notify', 100, 'w1', later(120_000));
        expect(c.map((d) => [d.eventSeq, d.event.subject])).toEqual([[after, 'k8']]);
        expect(n.map((d) => d.eventSeq)).toEqual([after]);
        await store.completeDeliveries([...c, ...n].map((d) => d.id));
        for (const s of await store.subscriptionStats()) {
          expect(s).toMatchObject({ pending: 0, leased: 0, parked: 0 });
        }
      });

      test('An event an inactive subscription still has a row for is kept; events it never got do not hold the prune', async () => {
        await subscribe(['crm', []], ['old', []]);
        const [a] = await emit('k1');
        // Deactivated before claiming: what it had not claimed stays owed to it as rows.
        await subscribe(['old', [], 'strict', false]);
        const [b] = await emit('k2');
        const batch = await claim(store, 'crm');
        await store.completeDeliveries(batch.map((d) => d.id));
        expect((await store.prune({ before: { outbox: soon() } })).outbox).toBe(1);
        expect((await store.readEvents({ limit: 10 })).map((e) => e.seq)).toEqual([a]);
        expect(b).toBeGreaterThan(a!);
      });

      test('A replay racing a prune of the same events never leaves a delivery without its event', async () => {
        const peer = await withPeer();
        await subscribe(['crm', []]);
        for (let round = 0; round < 4; round++) {
          const seqs = await emit(`race-${round}`, 20);
          const batch = await claim(store, 'crm', 100, 'w1', later(1_000_000));
          await store.completeDeliveries(batch.map((d) => d.id));
          // A replay of events being pruned: each event is either kept (its new row holds it) or
          // gone with no row left behind.
          await Promise.all([
            store.enqueueDeliveries('crm', seqs),
            peer.prune({ before: { outbox: soon() }, batchSize: 5 }),
          ]);
          const kept = new Set((await store.readEvents({ limit: 1000 })).map((e) => e.seq));
          const again = await claim(store, 'crm', 1000, 'w1', later(1_000_000));
          for (const d of again) expect(kept.has(d.eventSeq)).toBe(true);
          await store.completeDeliveries(again.map((d) => d.id));
          expect((await store.subscriptionStats())[0]).toMatchObject({ pending: 0, leased: 0, parked: 0 });
        }
      });
    });
  });
}
