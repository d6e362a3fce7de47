/**
 * Test support for workflow suites that run on both stores: a SQLite file and PostgreSQL (a fresh
 * schema), each with a second connection standing for another process, and the seeded
 * simulators' master data loaded. Never mocks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadDemoMasterData } from '../../src/app/master-data.js';
import type { OrderSubmission } from '../../src/domain/index.js';
import type { Clock, Store } from '../../src/ports/index.js';
import { createSimulators, type Simulators } from '../../src/simulators/index.js';
import { createStore } from '../../src/storage/index.js';
import { pgUrl } from '../events/support.js';

export type WorkflowBackend = 'SQLite file' | 'PostgreSQL';
export const workflowBackends: WorkflowBackend[] = ['SQLite file', 'PostgreSQL'];

/** A store, a second connection to it, the simulators over the same seed, and disposal. */
export interface WorkflowWorld {
  store: Store;
  peer: Store;
  sims: Simulators;
  dispose(): Promise<void>;
}

export async function openWorld(backend: WorkflowBackend, clock: Clock): Promise<WorkflowWorld> {
  let store: Store;
  let peer: Store;
  let drop: () => Promise<void>;
  if (backend === 'SQLite file') {
    const dir = mkdtempSync(join(tmpdir(), 'crossdock-wf-'));
    store = await createStore({ dataDir: dir, synchronous: 'NORMAL', clock });
    peer = await createStore({ dataDir: dir, synchronous: 'NORMAL', clock });
    drop = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const schema = `cd_wf_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    store = await createStore({ url: pgUrl, schema, poolSize: 4, clock });
    peer = await createStore({ url: pgUrl, schema, poolSize: 4, clock });
    drop = async () => {
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await c.end();
      }
    };
  }
  const sims = createSimulators({ seed: 42, clock });
  await loadDemoMasterData(store, sims.data);
  return {
    store,
    peer,
    sims,
    async dispose() {
      await peer.close();
      await store.close();
      await drop();
    },
  };
}

/** An in-policy order of the seeded data (one line, quantity 1), over `partial`. */
export function inPolicySubmission(
  sims: Simulators,
  partial: Partial<OrderSubmission> = {},
): OrderSubmission {
  const { customer, lines } = sims.picks.inPolicy;
  return {
    customer: { id: customer.id },
    shipTo: customer.addresses.find((a) => a.kind === 'shipping')!,
    shippingMethod: 'ground',
    currency: 'USD',
    lines: lines.slice(0, 1).map((l) => ({ sku: l.sku, quantity: 1, unitPrice: l.unitPrice })),
    ...partial,
  };
}

/** A clock tests move by hand, starting at the real time (the demo data's dates are today's). */
export class ManualClock implements Clock {
  private ms = Date.now();
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
