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
}

/** Wraps `store`; every method not about master data passes straight through. */
export function withMasterDataCache(store: Store, options: MasterDataCacheOptions): Store {
  const clock = options.clock ?? systemClock;
  const products = new Map<string, Entry<Product | null>>();
  const customers = new Map<string, Entry<Customer | null>>();
  const byExternal = new Map<string, Entry<Customer | null>>();
  const agreements = new Map<string, Entry<PriceAgreement[]>>();
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
      const now = clock.now().getTime();
      const out: PriceAgreement[] = [];
      const missing: string[] = [];
      for (const sku of skus) {
        const e = agreements.get(`${customerId}\u0000${onDate}\u0000${sku}`);
        if (fresh(e, now)) out.push(...e!.value);
        else missing.push(sku);
      }
      if (missing.length > 0) {
        const loaded = await store.getPriceAgreements(customerId, missing, onDate);
        for (const sku of missing) {
          const mine = loaded.filter((a) => a.sku === sku);
          agreements.set(`${customerId}\u0000${onDate}\u0000${sku}`, { value: mine, at: now });
          out.push(...mine);
        }
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
