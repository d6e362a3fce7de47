/**
 * SQLite schema v1. JSON documents are TEXT; internal instants (next_attempt_at, lease_until,
 * time_ms) are epoch milliseconds so due-checks compare integers; business timestamps stay ISO
 * text as the domain gives them.
 */
import type { Migration } from '../../core/migration.js';

/** Initial schema: master data, orders, journal, timeline, outbox, deliveries, governance. */
export const migration0001: Migration = {
  version: 1,
  name: 'init',
  sql: `
CREATE TABLE customers (id TEXT PRIMARY KEY, doc TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE customer_external_ids (
  system TEXT NOT NULL, external_id TEXT NOT NULL, customer_id TEXT NOT NULL,
  PRIMARY KEY (system, external_id)
) WITHOUT ROWID;
CREATE INDEX customer_external_ids_customer ON customer_external_ids (customer_id);
CREATE TABLE products (sku TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE price_agreements (
  id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, sku TEXT NOT NULL,
  valid_from TEXT NOT NULL, valid_to TEXT NOT NULL, doc TEXT NOT NULL
);
CREATE INDEX price_agreements_lookup ON price_agreements (customer_id, sku, valid_from);
CREATE TABLE inventory_positions (
  sku TEXT NOT NULL, warehouse_id TEXT NOT NULL, on_hand REAL NOT NULL, allocated REAL NOT NULL,
  reserved REAL NOT NULL DEFAULT 0, inbound TEXT NOT NULL, as_of TEXT NOT NULL,
  PRIMARY KEY (sku, warehouse_id)
) WITHOUT ROWID;
CREATE TABLE orders (
  id TEXT PRIMARY KEY, version INTEGER NOT NULL, state TEXT NOT NULL, customer_id TEXT,
  hold_reason TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, doc TEXT NOT NULL
);
CREATE INDEX orders_created ON orders (created_at, id);
CREATE INDEX orders_state ON orders (state, created_at, id);
CREATE INDEX orders_customer ON orders (customer_id, created_at, id);
CREATE INDEX orders_hold ON orders (hold_reason, created_at, id) WHERE hold_reason IS NOT NULL;
CREATE TABLE step_journal (
  id INTEGER PRIMARY KEY, order_id TEXT NOT NULL, step TEXT NOT NULL, status TEXT NOT NULL,
  attempt INTEGER NOT NULL, output TEXT NOT NULL, error TEXT, at TEXT NOT NULL, duration_ms REAL NOT NULL
);
CREATE INDEX step_journal_order ON step_journal (order_id, id);
CREATE TABLE timeline (
  order_id TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
  system TEXT NOT NULL, outcome TEXT NOT NULL, duration_ms REAL, summary TEXT NOT NULL,
  correlation_id TEXT NOT NULL, PRIMARY KEY (order_id, seq)
) WITHOUT ROWID;
CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
  subject TEXT NOT NULL, time TEXT NOT NULL, time_ms INTEGER NOT NULL, payload TEXT NOT NULL
);
CREATE INDEX outbox_time ON outbox (time_ms);
CREATE TABLE subscriptions (
  name TEXT PRIMARY KEY, types TEXT NOT NULL, ordering TEXT NOT NULL, active INTEGER NOT NULL,
  delivered_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE deliveries (
  id INTEGER PRIMARY KEY, subscription TEXT NOT NULL, event_seq INTEGER NOT NULL, key TEXT NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,
  lease_owner TEXT, lease_until INTEGER, first_error TEXT, last_error TEXT, created_at TEXT NOT NULL,
  UNIQUE (subscription, event_seq)
);
CREATE TABLE exceptions (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, owner TEXT NOT NULL, source TEXT NOT NULL, subscription TEXT,
  delivery_id TEXT, event_id TEXT, order_id TEXT, status TEXT NOT NULL, attempts INTEGER NOT NULL,
  first_error TEXT NOT NULL, last_error TEXT NOT NULL, note TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX exceptions_status ON exceptions (status, created_at);
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
  detail TEXT NOT NULL, at TEXT NOT NULL
);
CREATE TABLE inbound_messages (
  source TEXT NOT NULL, id TEXT NOT NULL, received_at TEXT NOT NULL, PRIMARY KEY (source, id)
) WITHOUT ROWID;
CREATE TABLE idempotency (
  scope TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL, response_status INTEGER NOT NULL,
  response_body TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_hash TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL,
  rate_limit INTEGER NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT
);
`,
};
