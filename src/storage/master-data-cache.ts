/**
 * A read-through cache of the hub's master data (products, customers, contract prices) in
 * front of any Store.
 *
 * Why: every order reads its customer, its products and its contract prices; those change a few
 * times a day and are tiny (thousands of rows), yet the reads were ~25 % of the API thread's CPU
 * at 1,800 orders/s (profile in docs/PERFORMANCE.md). Writes through this same store drop the
 * affected entries at once; writes by another process become visible within `ttlMs`, which is
 * the freshness bound for master data in a multi-process (PostgreSQL) deployment. Inventory is
 * deliberately not cached: availability changes with every order and reservations are checked
 * in the commit.
 */
import type { Customer, PriceAgreement, Product } from '../domain/index.js';
import type { Clock, CommitUnit, Store } from '../ports/index.js';
import { systemClock } from '../ports/index.js';

interface Entry<T> {
  value: T;
  at: number;
}

export interface MasterDataCacheOptions {
  /** How long an entry is trusted without a local write invalidating it. */
  ttlMs: number;
  clock?: Clock;
  /** Contract prices held at most over all cached price lists (default 500,000). */
  maxCachedPrices?: number;
}

/**
 * Default bound on contract prices held over all cached price lists; past it the price-list
 * cache starts over. ~300 bytes each: ~150 MB at the bound, for a tenant with many large lists.
 */
const defaultMaxCachedPrices = 500_000;

/** Wraps `store`; every method not about master data passes straight through. */
export function withMasterDataCache(store: Store, options: MasterDataCacheOptions): Store {
  const clock = options.clock ?? systemClock;
  const products = new Map<string, Entry<Product | null>>();
  const customers = new Map<string, Entry<Customer | null>>();
  const byExternal = new Map<string, Entry<Customer | null>>();
  const agreements = new Map<string, Entry<Map<string, PriceAgreement[]>> & { size: number }>();
  let cachedAgreements = 0;
  const maxCachedAgreements = options.maxCachedPrices ?? defaultMaxCachedPrices;
  const fresh = (e: { at: number } | undefined, now: number): boolean =>
    e !== undefined && now - e.at < options.ttlMs;

  const dropCustomers = () => {
    customers.clear();
    byExternal.clear();
  };

  const overrides: Partial<Store> = {
    async getProducts(skus) {
      const now = clock.now().getTime();
      const out = new Map<string, Product>();
      const missing: string[] = [];
      for (const sku of skus) {
        const e = products.get(sku);
        if (fresh(e, now)) {
          if (e!.value) out.set(sku, e!.value);
        } else missing.push(sku);
      }
      if (missing.length > 0) {
        const loaded = await store.getProducts(missing);
        for (const sku of missing) {
          const p = loaded.get(sku) ?? null;
          products.set(sku, { value: p, at: now });
          if (p) out.set(sku, p);
        }
      }
      return out;
    },
    async getCustomer(id) {
      const now = clock.now().getTime();
      const e = customers.get(id);
      if (fresh(e, now)) return e!.value;
      const c = await store.getCustomer(id);
      customers.set(id, { value: c, at: now });
      return c;
    },
    async findCustomerByExternalId(system, externalId) {
      const key = `${system}\u0000${externalId}`;
      const now = clock.now().getTime();
      const e = byExternal.get(key);
      if (fresh(e, now)) return e!.value;
      const c = await store.findCustomerByExternalId(system, externalId);
      byExternal.set(key, { value: c, at: now });
      return c;
    },
    async getPriceAgreements(customerId, skus, onDate) {
      // A customer's whole price list is loaded once per date and TTL: caching per (customer,
      // sku) missed on most lookups (200 customers × 1,000 SKUs in the demo, a new pair nearly
      // every order line), so each order still paid a SQLite read (~30 µs) on the event loop.
      const key = `${customerId}\u0000${onDate}`;
      const now = clock.now().getTime();
      let e = agreements.get(key);
      if (!fresh(e, now)) {
        const list = await store.getCustomerPriceAgreements(customerId, onDate);
        const bySku = new Map<string, PriceAgreement[]>();
        for (const a of list) {
          const mine = bySku.get(a.sku);
          if (mine) mine.push(a);
          else bySku.set(a.sku, [a]);
        }
        // Bounded by the prices held: past the bound the cache starts over with this list.
        if (e !== undefined) cachedAgreements -= e.size;
        if (cachedAgreements + list.length > maxCachedAgreements) {
          agreements.clear();
          cachedAgreements = 0;
        }
        e = { value: bySku, at: now, size: list.length };
        agreements.set(key, e);
        cachedAgreements += list.length;
      }
      const out: PriceAgreement[] = [];
      for (const sku of skus) {
        const mine = e!.value.get(sku);
        if (mine) out.push(...mine);
      }
      return out;
    },
    async upsertProducts(list) {
      await store.upsertProducts(list);
      for (const p of list) products.delete(p.sku);
    },
    async upsertCustomers(list) {
      await store.upsertCustomers(list);
      dropCustomers();
    },
    async upsertPriceAgreements(list) {
      await store.upsertPriceAgreements(list);
      agreements.clear();
      cachedAgreements = 0;
    },
    async commit(unit: CommitUnit) {
      try {
        return await store.commit(unit);
      } finally {
        if (unit.customers && unit.customers.length > 0) dropCustomers();
      }
    },
  };

  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop as keyof Store];
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      let fn = bound.get(prop);
      if (!fn) {
        fn = (value as (...a: unknown[]) => unknown).bind(target);
        bound.set(prop, fn);
      }
      return fn;
    },
  });
}
