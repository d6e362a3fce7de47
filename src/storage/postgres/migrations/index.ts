/** PostgreSQL migrations in version order; add a file and append it here, never edit an applied one. */
import type { Migration } from '../../core/migration.js';
import { migration0001 } from './0001-init.js';
import { migration0002 } from './0002-cursors.js';
import { migration0003 } from './0003-order-counts.js';
import { migration0004 } from './0004-cursor-fanout.js';
import { migration0005 } from './0005-retention.js';
import { migration0006 } from './0006-order-keys.js';
import { migration0007 } from './0007-api-key-customer.js';
import { migration0008 } from './0008-po-lookup-index.js';

/** Every PostgreSQL migration, ascending. */
export const postgresMigrations: readonly Migration[] = [
  migration0001,
  migration0002,
  migration0003,
  migration0004,
  migration0005,
  migration0006,
  migration0007,
  migration0008,
];
