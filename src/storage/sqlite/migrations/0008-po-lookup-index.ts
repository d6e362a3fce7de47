/**
 * Schema v8: the duplicate-PO lookup reads one index range. The lookup asks for a customer's
 * orders with a PO number, oldest first (`ORDER BY created_at, id`); with `orders_po` on
 * (customer_id, po_number) only, SQLite's planner preferred `orders_customer`, which matches the
 * ORDER BY, and walked every order of the customer on each new order (0.3 ms a lookup at 10,000
 * orders of one customer, the largest single cost of `bench orders`). With the order columns in
 * the PO index the range is exact and already sorted.
 */
import type { Migration } from '../../core/migration.js';

/** Replaces `orders_po` by one that also orders by creation. */
export const migration0008: Migration = {
  version: 8,
  name: 'po-lookup-index',
  sql: `
DROP INDEX IF EXISTS orders_po;
CREATE INDEX orders_po ON orders (customer_id, po_number, created_at, id) WHERE po_number IS NOT NULL;
`,
};
