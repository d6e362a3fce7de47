/**
 * `crossdock bench events`: outbox → subscriber delivery throughput and lag.
 *
 * Modes: `in-process` (a handler that records the event: the backbone's own ceiling) and
 * `webhook` (an HTTP POST per event to a sink on 127.0.0.1 through an undici keep-alive pool).
 * With `ratePerSecond` the producer paces commits (lag measurement); without, it commits as fast
 * as it can while the dispatcher drains concurrently.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { CrossdockError } from '../domain/index.js';
import { type DeliveryHandler, Dispatcher } from '../events/index.js';
import { type BenchResult, BenchSink, benchEvents, benchStore, percentile, rssMb } from './events-common.js';

/** Options of {@link runEventsBench}. */
export interface EventsBenchOptions {
  backend?: 'sqlite' | 'postgres';
  url?: string;
  count?: number;
  mode?: 'in-process' | 'webhook';
  /** Paced production (events/s); absent = as fast as possible. */
  ratePerSecond?: number;
  /** Events per commit (a workflow commits one to a few; the outbox is written per unit). */
  eventsPerCommit?: number;
  keys?: number;
}

/** Runs the events scenario and returns the CONTRACT.md JSON fields (plus mode details). */
export async function runEventsBench(opts: EventsBenchOptions = {}): Promise<BenchResult> {
  const backend = opts.backend ?? 'sqlite';
  const count = opts.count ?? 50_000;
  const mode = opts.mode ?? 'in-process';
  const perCommit = opts.eventsPerCommit ?? 50;
  const keys = opts.keys ?? 1_000;
  const { store, dispose } = await benchStore(backend, opts.url);
  const sink = new BenchSink();
  let errors = 0;
  let server: ReturnType<typeof createServer> | undefined;
  let pool: Pool | undefined;
  let handler: DeliveryHandler = async (event) => sink.record(event);
  if (mode === 'webhook') {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(204);
        res.end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    pool = new Pool(`http://127.0.0.1:${port}`, { connections: 32, pipelining: 1 });
    const p = pool;
    handler = async (event, ctx) => {
      const r = await p.request({
        method: 'POST',
        path: '/hook',
        headers: { 'content-type': 'application/cloudevents+json', 'idempotency-key': ctx.idempotencyKey },
        body: JSON.stringify(event),
      });
      await r.body.dump();
      if (r.statusCode >= 300) throw CrossdockError.transient(`sink answered ${r.statusCode}`);
      sink.record(event);
    };
  }
  const dispatcher = new Dispatcher({
    store,
    owner: 'bench',
    idleMs: 5,
    onLoopError: () => {
      errors++;
    },
  }).register({
    name: 'bench-sink',
    policy: {
      batchSize: 1_000,
      concurrency: mode === 'webhook' ? 32 : 256,
      timeoutMs: Number.POSITIVE_INFINITY,
    },
    handler,
  });
  await dispatcher.start();
  const t0 = performance.now();
  const interval = opts.ratePerSecond ? (perCommit / opts.ratePerSecond) * 1000 : 0;
  for (let i = 0; i < count; i += perCommit) {
    const due = t0 + (i / perCommit) * interval;
    if (interval > 0) {
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await store.commit({ events: benchEvents(i, Math.min(perCommit, count - i), keys) });
    dispatcher.notify();
  }
  const deadline = Date.now() + 600_000;
  while (sink.seen.size < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  const seconds = (performance.now() - t0) / 1000;
  await dispatcher.stop();
  await pool?.close();
  server?.close();
  await dispose();
  return {
    scenario: 'events',
    backend,
    count,
    seconds: Math.round(seconds * 1000) / 1000,
    perSecond: Math.round(sink.seen.size / seconds),
    p50Ms: percentile(sink.lags, 50),
    p99Ms: percentile(sink.lags, 99),
    errors,
    lost: count - sink.seen.size,
    duplicates: sink.duplicates,
    rssMb: rssMb(),
    mode,
    ratePerSecond: opts.ratePerSecond ?? null,
  };
}
