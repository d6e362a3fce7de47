import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { storeContract } from '../contract/store-contract.js';
import { createStore } from '../index.js';
import { SqliteStore } from './sqlite-store.js';

storeContract('SQLite in memory', {
  open: () => createStore({ url: ':memory:' }),
  propertyRuns: 60,
});

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

storeContract('SQLite file (WAL, synchronous=NORMAL, two connections)', {
  open: () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'crossdock-sqlite-'));
    dirs.push(dataDir);
    return createStore({ dataDir, synchronous: 'NORMAL' });
  },
  openPeer: async (store) => {
    const filename = (store as SqliteStore).filename;
    return new SqliteStore({ filename, synchronous: 'NORMAL' });
  },
  propertyRuns: 25,
});
