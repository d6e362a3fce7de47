/**
 * SQLite schema v4: fan-out by cursor instead of a delivery row per (subscription, event).
 *
 * Why: every event used to write one `deliveries` row per matching subscription at commit, and
 * each row was then leased by a claim and deleted on completion: ~18 rows per order all-in-one,
 * three B-tree writes each, on the one writer thread. Now a subscription reads the outbox past its
 * `cursor_seq`; what a claim hands out is one `delivery_blocks` row (the claimed seqs, leased),
 * and a `deliveries` row exists only for a delivery that failed, was released, waits behind an
 * earlier delivery of its key, or was replayed. SQLite has one writer, so outbox seqs become
 * visible in order and a cursor never steps over a seq that commits later.
 */
import type { Migration } from '../../core/migration.js';

/** Adds the cursor column, the blocks table and the key index the claim uses. */
export const migration0004: Migration = {
  version: 4,
  name: 'cursor-fanout',
  sql: `
ALTER TABLE subscriptions ADD COLUMN cursor_seq INTEGER NOT NULL DEFAULT 0;
-- Events committed before this migration already have their delivery rows.
UPDATE subscriptions SET cursor_seq = (SELECT COALESCE(MAX(seq), 0) FROM outbox);
CREATE TABLE delivery_blocks (
  id INTEGER PRIMARY KEY AUTOINCREMENT, subscription TEXT NOT NULL, seqs TEXT NOT NULL,
  lease_owner TEXT NOT NULL, lease_until INTEGER NOT NULL, created_at TEXT NOT NULL
);
CREATE INDEX delivery_blocks_subscription ON delivery_blocks (subscription, id);
-- Row ids must never be reused: a claimer whose lease ran out may still complete, fail or release
-- "its" id late, and with plain rowids the id of a deleted last row goes to the next row (another
-- event's delivery). Rows are rare with the cursor, so the table is often empty and reuse would be
-- the normal case. SQLite cannot add AUTOINCREMENT to a table: rebuild it.
CREATE TABLE deliveries_v4 (
  id INTEGER PRIMARY KEY AUTOINCREMENT, subscription TEXT NOT NULL, event_seq INTEGER NOT NULL, key TEXT NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,
  lease_owner TEXT, lease_until INTEGER, first_error TEXT, last_error TEXT, created_at TEXT NOT NULL,
  UNIQUE (subscription, event_seq)
);
-- Copying the live rows with their ids starts the sequence at the highest of them.
INSERT INTO deliveries_v4 SELECT id, subscription, event_seq, key, status, attempts, next_attempt_at,
  lease_owner, lease_until, first_error, last_error, created_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v4 RENAME TO deliveries;
CREATE INDEX deliveries_key ON deliveries (subscription, key, event_seq);
`,
};
