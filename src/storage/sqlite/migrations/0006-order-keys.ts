/**
 * SQLite schema v6: one live order per quote, and the customer's PO number as a column.
 *
 * Why in the schema: the same CRM quote posted twice (a retry without an Idempotency-Key, a
 * double click, two workers of an integration platform) must make one order, also when the two
 * posts race in different processes. A check before the commit cannot see a post that commits in
 * between; a unique index is checked in the very transaction that commits the decision. The key is
 * `<system>:<ref>` of the order's `source`; orders posted without a quote reference (their ref is
 * their own id) get none. Rejected and cancelled orders leave the index, so a corrected quote can be
 * posted again (docs: "No duplicate conversion").
 *
 * `po_number` (with `customer_id`) answers "does this customer have another order with this PO?"
 * from an index instead of parsing every order document of the customer.
 *
 * Orders stored before this migration can already hold duplicates (the bug this fixes): the oldest
 * live order of a quote keeps the key, later ones get none, so the index can be built; they stay
 * as they are otherwise.
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
  source_key = CASE WHEN json_extract(doc, '$.source.ref') = id THEN NULL
    ELSE json_extract(doc, '$.source.system') || ':' || json_extract(doc, '$.source.ref') END,
  po_number = json_extract(doc, '$.poNumber');
UPDATE orders SET source_key = NULL
  WHERE source_key IS NOT NULL AND state NOT IN ('rejected', 'cancelled') AND EXISTS (
    SELECT 1 FROM orders o2 WHERE o2.source_key = orders.source_key
      AND o2.state NOT IN ('rejected', 'cancelled') AND (o2.created_at, o2.id) < (orders.created_at, orders.id));
CREATE UNIQUE INDEX orders_source_live ON orders (source_key)
  WHERE source_key IS NOT NULL AND state NOT IN ('rejected', 'cancelled');
CREATE INDEX orders_po ON orders (customer_id, po_number) WHERE po_number IS NOT NULL;
`,
};
