/**
 * `crossdock bench replay`: drain a backlog after an outage. `count` events are committed
 * while the subscriber is down (no dispatcher running), then one dispatcher drains them; the
 * figure is the drain rate, with duplicates and losses counted by event id.
 */
import { Dispatcher } from '../events/index.js';
import { type BenchResult, BenchSink, benchEvents, benchStore, percentile, rssMb } from './events-common.js';

/** Options of {@link runReplayBench}. */
export interface ReplayBenchOptions {
  backend?: 'sqlite' | 'postgres';
  url?: string;
  count?: number;
  keys?: number;
}

/** Runs the replay (backlog drain) scenario and returns the CONTRACT.md JSON fields. */
export async function runReplayBench(opts: ReplayBenchOptions = {}): Promise<BenchResult> {
  const backend = opts.backend ?? 'sqlite';
  const count = opts.count ?? 100_000;
  const keys = opts.keys ?? 5_000;
  const { store, dispose } = await benchStore(backend, opts.url);
  const sink = new BenchSink();
  let errors = 0;
  const dispatcher = new Dispatcher({
    store,
    owner: 'bench',
    idleMs: 5,
    onLoopError: () => {
      errors++;
    },
  }).register({
    name: 'bench-backlog',
    policy: { batchSize: 2_000, concurrency: 256, timeoutMs: Number.POSITIVE_INFINITY },
    handler: async (event) => sink.record(event),
  });
  await dispatcher.init();
  const fillStart = performance.now();
  for (let i = 0; i < count; i += 500)
    await store.commit({ events: benchEvents(i, Math.min(500, count - i), keys) });
  const fillSeconds = (performance.now() - fillStart) / 1000;
  const latencies: number[] = [];
  const t0 = performance.now();
  for (;;) {
    const c0 = performance.now();
    const r = await dispatcher.drainOnce();
    if (r.claimed > 0) latencies.push(performance.now() - c0);
    if (r.claimed === 0 && sink.seen.size >= count) break;
    if (r.claimed === 0) await new Promise((res) => setTimeout(res, 5));
    if (performance.now() - t0 > 600_000) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  await dispose();
  return {
    scenario: 'replay',
    backend,
    count,
    seconds: Math.round(seconds * 1000) / 1000,
    perSecond: Math.round(sink.seen.size / seconds),
    // Per claimed batch (2,000 deliveries): claim + handlers + complete.
    p50Ms: Math.round(percentile(latencies, 50) * 10) / 10,
    p99Ms: Math.round(percentile(latencies, 99) * 10) / 10,
    errors,
    lost: count - sink.seen.size,
    duplicates: sink.duplicates,
    rssMb: rssMb(),
    backlogFillSeconds: Math.round(fillSeconds * 1000) / 1000,
  };
}
