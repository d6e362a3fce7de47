/**
 * Schema v7: an API key may be bound to one customer (a customer portal's key, `portal:read`).
 *
 * Additive: a nullable column, NULL for every existing key (system and staff keys stay as they
 * were). The binding lives with the key, so a key lookup (`findApiKeyByHash`) returns it in the
 * same row and the auth cache holds it with the scopes.
 */
import type { Migration } from '../../core/migration.js';

/** Adds `api_keys.customer_id`. */
export const migration0007: Migration = {
  version: 7,
  name: 'api-key-customer',
  sql: `
ALTER TABLE api_keys ADD COLUMN customer_id TEXT;
`,
};
