/** PostgreSQL schema v2: change-feed watermarks, advanced inside `commit` with the changes they cover. */
import type { Migration } from '../../core/migration.js';

/** Adds the `cursors` table (name → opaque watermark). */
export const migration0002: Migration = {
  version: 2,
  name: 'cursors',
  sql: `
CREATE TABLE cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL);
`,
};
