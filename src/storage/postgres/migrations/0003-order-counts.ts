/**
 * PostgreSQL schema v3: an index that answers orders by state and hold reason with an
 * index-only scan. (SQLite keeps a trigger-maintained count table instead; on PostgreSQL a
 * counter row would serialise every commit that changes an order's state, and the count query
 * runs off the event loop anyway.)
 */
import type { Migration } from '../../core/migration.js';

/** Adds the covering index behind the orders gauge. */
export const migration0003: Migration = {
  version: 3,
  name: 'order-counts',
  sql: `
CREATE INDEX orders_state_hold ON orders (state, hold_reason);
`,
};
