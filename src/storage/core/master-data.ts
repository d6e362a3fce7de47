/**
 * Master data: the hub's copies of customers, products, price agreements and inventory positions.
 *
 * Documents are stored as JSON text next to the columns that are queried; `reserved` on an
 * inventory position belongs to the hub (soft reservations of accepted orders) and survives every
 * sync from the WMS/ERP, which only owns on-hand, allocated and inbound.
 */
import type { Customer, InventoryPosition, PriceAgreement, Product } from '../../domain/index.js';
import { all, type Dialect, get, num, parseJson, type Row, run, type Txn } from './sql.js';

/** Writes customers and re-points their external-id cross-references (last writer wins). */
export function* upsertCustomers(customers: readonly Customer[]): Txn<void> {
  for (const c of customers) {
    yield* run(
      'INSERT INTO customers (id, doc, updated_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at',
      [c.id, JSON.stringify(c), c.updatedAt],
    );
    yield* run('DELETE FROM customer_external_ids WHERE customer_id = ?', [c.id]);
    for (const [system, externalId] of Object.entries(c.externalIds ?? {})) {
      yield* run(
        'INSERT INTO customer_external_ids (system, external_id, customer_id) VALUES (?, ?, ?) ON CONFLICT (system, external_id) DO UPDATE SET customer_id = excluded.customer_id',
        [system, externalId, c.id],
      );
    }
  }
}

/** One customer by hub id. */
export function* getCustomer(id: string): Txn<Customer | null> {
  const row = yield* get('SELECT doc FROM customers WHERE id = ?', [id]);
  return row ? parseJson<Customer>(row.doc) : null;
}

/** One customer by the id another system (CRM, ERP) knows it by. */
export function* findCustomerByExternalId(system: string, externalId: string): Txn<Customer | null> {
  const row = yield* get(
    'SELECT c.doc FROM customer_external_ids x JOIN customers c ON c.id = x.customer_id WHERE x.system = ? AND x.external_id = ?',
    [system, externalId],
  );
  return row ? parseJson<Customer>(row.doc) : null;
}

/** Writes products by sku. */
export function* upsertProducts(products: readonly Product[]): Txn<void> {
  for (const p of products) {
    yield* run(
      'INSERT INTO products (sku, doc) VALUES (?, ?) ON CONFLICT (sku) DO UPDATE SET doc = excluded.doc',
      [p.sku, JSON.stringify(p)],
    );
  }
}

/** Products by sku (missing skus are simply absent from the map). */
export function* getProducts(d: Dialect, skus: readonly string[]): Txn<Map<string, Product>> {
  const out = new Map<string, Product>();
  if (skus.length === 0) return out;
  const rows = yield* all(`SELECT doc FROM products WHERE ${d.inList('sku')}`, [d.list(skus)]);
  for (const r of rows) {
    const p = parseJson<Product>(r.doc);
    out.set(p.sku, p);
  }
  return out;
}

/** Writes price agreements by id. */
export function* upsertPriceAgreements(agreements: readonly PriceAgreement[]): Txn<void> {
  for (const a of agreements) {
    yield* run(
      'INSERT INTO price_agreements (id, customer_id, sku, valid_from, valid_to, doc) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, sku = excluded.sku, valid_from = excluded.valid_from, valid_to = excluded.valid_to, doc = excluded.doc',
      [a.id, a.customerId, a.sku, a.validFrom, a.validTo, JSON.stringify(a)],
    );
  }
}

/** Agreements valid on a date (ISO dates compare correctly as text). */
export function* getPriceAgreements(
  d: Dialect,
  customerId: string,
  skus: readonly string[],
  onDate: string,
): Txn<PriceAgreement[]> {
  if (skus.length === 0) return [];
  const rows = yield* all(
    `SELECT doc FROM price_agreements WHERE customer_id = ? AND ${d.inList('sku')} AND valid_from <= ? AND valid_to >= ? ORDER BY sku, valid_from, id`,
    [customerId, d.list(skus), onDate, onDate],
  );
  return rows.map((r) => parseJson<PriceAgreement>(r.doc));
}

/** A customer's whole price list on a date (the `(customer_id, sku, valid_from)` index serves it). */
export function* getCustomerPriceAgreements(customerId: string, onDate: string): Txn<PriceAgreement[]> {
  const rows = yield* all(
    'SELECT doc FROM price_agreements WHERE customer_id = ? AND valid_from <= ? AND valid_to >= ? ORDER BY sku, valid_from, id',
    [customerId, onDate, onDate],
  );
  return rows.map((r) => parseJson<PriceAgreement>(r.doc));
}

/** Replaces what the WMS/ERP owns; inserts new positions with `reserved = 0`, keeps it otherwise. */
export function* upsertInventoryPositions(positions: readonly InventoryPosition[]): Txn<void> {
  for (const p of positions) {
    yield* run(
      'INSERT INTO inventory_positions (sku, warehouse_id, on_hand, allocated, reserved, inbound, as_of) VALUES (?, ?, ?, ?, 0, ?, ?) ON CONFLICT (sku, warehouse_id) DO UPDATE SET on_hand = excluded.on_hand, allocated = excluded.allocated, inbound = excluded.inbound, as_of = excluded.as_of',
      [p.sku, p.warehouseId, p.onHand, p.allocated, JSON.stringify(p.inbound ?? []), p.asOf],
    );
  }
}

/** Maps a position row; `available` is computed, so it can never disagree with its parts. */
export function inventoryFromRow(r: Row): InventoryPosition {
  const onHand = num(r.on_hand);
  const allocated = num(r.allocated);
  const reserved = num(r.reserved);
  return {
    sku: String(r.sku),
    warehouseId: String(r.warehouse_id),
    onHand,
    allocated,
    reserved,
    available: Math.max(0, onHand - allocated - reserved),
    inbound: parseJson<InventoryPosition['inbound']>(r.inbound),
    asOf: String(r.as_of),
  };
}

/** Positions of those skus in every warehouse. */
export function* getInventory(d: Dialect, skus: readonly string[]): Txn<InventoryPosition[]> {
  if (skus.length === 0) return [];
  const rows = yield* all(
    `SELECT sku, warehouse_id, on_hand, allocated, reserved, inbound, as_of FROM inventory_positions WHERE ${d.inList('sku')} ORDER BY sku, warehouse_id`,
    [d.list(skus)],
  );
  return rows.map(inventoryFromRow);
}
