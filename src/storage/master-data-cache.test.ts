import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { Customer, PriceAgreement, Product } from '../domain/index.js';
import type { Store } from '../ports/index.js';
import { createStore } from './index.js';
import { withMasterDataCache } from './master-data-cache.js';

const now = '2026-11-28T00:00:00.000Z';
const product = (sku: string, listPrice: number): Product => ({
  sku,
  name: sku,
  uom: 'EA',
  weightKg: 1,
  hazmat: null,
  shippingClass: 'parcel',
  taxClass: 'standard',
  listPrice,
  active: true,
  externalIds: {},
  updatedAt: now,
});
const customer = (id: string, name: string): Customer => ({
  id,
  accountNumber: `A-${id}`,
  name,
  status: 'active',
  segment: 'standard',
  contacts: [],
  addresses: [],
  currency: 'USD',
  creditLimit: 1000,
  paymentTerms: 'NET30',
  taxStatus: 'taxable',
  exemptionCertificates: [],
  externalIds: { crm: `crm-${id}` },
  updatedAt: now,
});
const agreement = (sku: string, unitPrice: number): PriceAgreement => ({
  id: `pa-${sku}`,
  customerId: 'c1',
  sku,
  unitPrice,
  currency: 'USD',
  validFrom: '2026-01-01',
  validTo: '2026-12-31',
  tolerancePct: 1,
});

let raw: Store;
let t = 0;
const clock = { now: () => new Date(t) };

beforeEach(async () => {
  raw = await createStore({ url: ':memory:' });
  t = 1_000_000;
});
afterEach(async () => {
  await raw.close();
});

describe('master-data cache', () => {
  test('a write through the cached store is visible at once; a write behind its back within the TTL is not, and after it is', async () => {
    const cached = withMasterDataCache(raw, { ttlMs: 5000, clock });
    await cached.upsertProducts([product('A', 10)]);
    expect((await cached.getProducts(['A'])).get('A')?.listPrice).toBe(10);
    await cached.upsertProducts([product('A', 11)]);
    expect((await cached.getProducts(['A'])).get('A')?.listPrice).toBe(11);
    await raw.upsertProducts([product('A', 12)]); // another process
    expect((await cached.getProducts(['A'])).get('A')?.listPrice).toBe(11);
    t += 5001;
    expect((await cached.getProducts(['A'])).get('A')?.listPrice).toBe(12);
  });

  test('unknown products are remembered as unknown until the TTL or a local upsert', async () => {
    const cached = withMasterDataCache(raw, { ttlMs: 5000, clock });
    expect((await cached.getProducts(['NEW'])).has('NEW')).toBe(false);
    await cached.upsertProducts([product('NEW', 1)]);
    expect((await cached.getProducts(['NEW'])).has('NEW')).toBe(true);
  });

  test('customers written by a commit unit, by id or external id, are re-read', async () => {
    const cached = withMasterDataCache(raw, { ttlMs: 60_000, clock });
    await cached.upsertCustomers([customer('c1', 'Old name')]);
    expect((await cached.findCustomerByExternalId('crm', 'crm-c1'))?.name).toBe('Old name');
    expect((await cached.getCustomer('c1'))?.name).toBe('Old name');
    await cached.commit({ customers: [customer('c1', 'New name')] });
    expect((await cached.getCustomer('c1'))?.name).toBe('New name');
    expect((await cached.findCustomerByExternalId('crm', 'crm-c1'))?.name).toBe('New name');
  });

  test('contract prices are cached per customer and date, and dropped on a local upsert', async () => {
    const cached = withMasterDataCache(raw, { ttlMs: 60_000, clock });
    await cached.upsertPriceAgreements([agreement('A', 5), agreement('B', 6)]);
    expect(
      (await cached.getPriceAgreements('c1', ['A', 'B'], '2026-06-01')).map((a) => a.unitPrice).sort(),
    ).toEqual([5, 6]);
    await cached.upsertPriceAgreements([agreement('A', 7)]);
    expect((await cached.getPriceAgreements('c1', ['A'], '2026-06-01'))[0]?.unitPrice).toBe(7);
    expect(await cached.getPriceAgreements('c1', ['A'], '2027-06-01')).toEqual([]);
  });

  test("a customer's price list is read once per date and TTL, whatever skus the orders name", async () => {
    let reads = 0;
    const counting = new Proxy(raw, {
      get(target, prop, receiver) {
        if (prop === 'getCustomerPriceAgreements') {
          return (...args: [string, string]) => {
            reads++;
            return target.getCustomerPriceAgreements(...args);
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const cached = withMasterDataCache(counting, { ttlMs: 60_000, clock });
    await raw.upsertPriceAgreements([agreement('A', 5), agreement('B', 6)]);
    expect((await cached.getPriceAgreements('c1', ['A'], '2026-06-01')).map((a) => a.unitPrice)).toEqual([5]);
    expect((await cached.getPriceAgreements('c1', ['B', 'Z'], '2026-06-01')).map((a) => a.unitPrice)).toEqual(
      [6],
    );
    expect(await cached.getPriceAgreements('c1', ['Z'], '2026-06-01')).toEqual([]);
    expect(reads).toBe(1);
    await cached.getPriceAgreements('c1', ['A'], '2026-06-02');
    expect(reads).toBe(2);

    // Bounded by prices held: with room for 3, the second 2-price list starts the cache over.
    reads = 0;
    const small = withMasterDataCache(counting, { ttlMs: 60_000, clock, maxCachedPrices: 3 });
    await small.getPriceAgreements('c1', ['A'], '2026-06-01');
    await small.getPriceAgreements('c1', ['A'], '2026-06-02');
    expect(reads).toBe(2);
    await small.getPriceAgreements('c1', ['B'], '2026-06-02');
    expect(reads).toBe(2);
    await small.getPriceAgreements('c1', ['A'], '2026-06-01');
    expect(reads).toBe(3);
  });

  test('everything else passes through to the store', async () => {
    const cached = withMasterDataCache(raw, { ttlMs: 1000, clock });
    expect(cached.backend).toBe('sqlite');
    expect((await cached.ready()).ok).toBe(true);
    expect(await cached.countApiKeys()).toBe(0);
  });
});
