/**
 * PostgreSQL schema v6: one live order per quote, and the customer's PO number as a column, as
 * on SQLite (see `sqlite/migrations/0006-order-keys.ts` for why).
 *
 * Two transactions inserting the same quote at once: the second waits on the first's index entry
 * and, once the first commits, inserts nothing (`ON CONFLICT DO NOTHING` in `commitUnit`), so the
 * loser learns which order won in its own transaction.
 */
import type { Migration } from '../../core/migration.js';

/** Adds `source_key` (unique among live orders) and `po_number` to `orders`, filled from the documents. */
export const migration0006: Migration = {
  version: 6,
  name: 'order-keys',
  sql: `
ALTER TABLE orders ADD COLUMN source_key TEXT;
ALTER TABLE orders ADD COLUMN po_number TEXT;
UPDATE orders SET
  source_key = CASE WHEN (doc::json #>> '{source,ref}') = id THEN NULL
    ELSE (doc::json #>> '{source,system}') || ':' || (doc::json #>> '{source,ref}') END,
  po_number = doc::json ->> 'poNumber';
UPDATE orders SET source_key = NULL
  WHERE source_key IS NOT NULL AND state NOT IN ('rejected', 'cancelled') AND EXISTS (
    SELECT 1 FROM orders o2 WHERE o2.source_key = orders.source_key
      AND o2.state NOT IN ('rejected', 'cancelled') AND (o2.created_at, o2.id) < (orders.created_at, orders.id));
CREATE UNIQUE INDEX orders_source_live ON orders (source_key)
  WHERE source_key IS NOT NULL AND state NOT IN ('rejected', 'cancelled');
CREATE INDEX orders_po ON orders (customer_id, po_number) WHERE po_number IS NOT NULL;
`,
};
