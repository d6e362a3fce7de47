/**
 * PostgreSQL schema v5: the indexes retention's age scans walk (`core/retention.ts`), as on SQLite.
 *
 * Why: each prune batch takes the oldest rows due; without an index on the age column every batch
 * would scan the whole table (idempotency records and inbound dedupe records grow with traffic).
 * The outbox needs none: its prune walks the primary key. Cost: one more index entry per
 * idempotency record and inbound message written; exceptions and audit entries are rare.
 */
import type { Migration } from '../../core/migration.js';

/** Adds the age indexes of the pruned tables. */
export const migration0005: Migration = {
  version: 5,
  name: 'retention',
  sql: `
CREATE INDEX idempotency_created ON idempotency (created_at);
CREATE INDEX inbound_messages_received ON inbound_messages (received_at);
CREATE INDEX exceptions_closed ON exceptions (status, updated_at);
CREATE INDEX audit_log_at ON audit_log (at);
`,
};
