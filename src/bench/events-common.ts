/**
 * Shared pieces of the event backbone benchmarks: a store per backend, a producer committing
 * events in units, and a subscriber that measures lag and counts duplicates and losses.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { CloudEvent } from '../domain/index.js';
import { makeEvent } from '../events/index.js';
import type { Store } from '../ports/index.js';
import { createStore } from '../storage/index.js';

export type { BenchResult } from './report.js';

/** Opens a fresh store for a benchmark and returns how to dispose of it. */
export async function benchStore(
  backend: 'sqlite' | 'postgres',
  url?: string,
): Promise<{ store: Store; dispose: () => Promise<void> }> {
  if (backend === 'postgres') {
    const pgUrl = url ?? process.env.CROSSDOCK_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
    const schema = `bench_${process.pid}_${Date.now().toString(36)}`;
    const store = await createStore({ url: pgUrl, schema, poolSize: 8 });
    return {
      store,
      dispose: async () => {
        await store.close();
        const c = new pg.Client({ connectionString: pgUrl });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await c.end();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'crossdock-bench-'));
  const store = await createStore({ dataDir: dir });
  return {
    store,
    dispose: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `n` events over `keys` order ids, created now (their `time` is the lag's start). */
export function benchEvents(from: number, n: number, keys: number): CloudEvent[] {
  const now = new Date();
  const out: CloudEvent[] = [];
  for (let i = from; i < from + n; i++) {
    const key = `ord-${i % keys}`;
    out.push(
      makeEvent(
        'order.status_changed.v1',
        key,
        {
          orderId: key,
          customerId: 'c1',
          state: 'allocated',
          customerStatus: 'Preparing',
          previousState: 'accepted',
        },
        { now, id: `bench-${i}`, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      ),
    );
  }
  return out;
}

/** Counts deliveries by event id and records lag (event time → handler call). */
export class BenchSink {
  readonly seen = new Map<string, number>();
  readonly lags: number[] = [];
  duplicates = 0;

  record(event: CloudEvent): void {
    const n = this.seen.get(event.id) ?? 0;
    if (n > 0) this.duplicates++;
    this.seen.set(event.id, n + 1);
    this.lags.push(Date.now() - Date.parse(event.time));
  }
}

/** The p-th percentile (0..100) of values, in their unit. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Resident set size now, in MB. */
export function rssMb(): number {
  return Math.round((process.memoryUsage().rss / 1_048_576) * 10) / 10;
}
