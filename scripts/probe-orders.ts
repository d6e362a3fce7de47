/**
 * In-process probe of the quote-to-order path without HTTP: N orders through the workflow of a
 * real hub (file SQLite, writer thread, simulators), `--inflight` at a time, each with an
 * Idempotency-Key. Prints orders/s, event-loop busy µs per order, bytes written per order (all
 * threads, from /proc/self/io: WAL plus checkpoints) and the mean commit latency. Used in
 * docs/PERFORMANCE.md to see the writer/event-loop interplay without the load generator's noise.
 *
 *   npx tsx scripts/probe-orders.ts [--orders 20000] [--inflight 128] [--workers]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../src/app/config.js';
import { DemoOrderGenerator } from '../src/app/demo-orders.js';
import { createHub } from '../src/app/hub.js';
import { timeOrderedId } from '../src/domain/index.js';
import type { Store } from '../src/ports/index.js';

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '20000' },
    inflight: { type: 'string', default: '128' },
    workers: { type: 'boolean', default: false },
  },
});
const total = Number(values.orders);
const inflight = Number(values.inflight);

function bytesWritten(): number {
  const m = /write_bytes: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'));
  return m ? Number(m[1]) : 0;
}

const dir = mkdtempSync(join(tmpdir(), 'crossdock-probe-'));
const config = await loadConfig({
  env: {},
  overrides: { dataDir: dir, logLevel: 'silent', workers: values.workers },
});
const hub = await createHub(config, { logger: pino({ level: 'silent' }) });
try {
  const orders = new DemoOrderGenerator(hub.sims!.data, { seed: 11, holdShare: 0 });
  // Commit latency as the workflow sees it: wrap the store it was built with.
  const store = hub.store;
  let commits = 0;
  let commitMs = 0;
  const timed: Store = new Proxy(store, {
    get(target, prop) {
      if (prop !== 'commit') return Reflect.get(target, prop);
      return async (unit: Parameters<Store['commit']>[0]) => {
        const t = performance.now();
        try {
          return await target.commit(unit);
        } finally {
          commits++;
          commitMs += performance.now() - t;
        }
      };
    },
  });
  const deps = (hub.workflow as unknown as { deps: { store: Store } }).deps;
  deps.store = timed;

  await new Promise((r) => setTimeout(r, 1000));
  const written0 = bytesWritten();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  const progress = setInterval(() => process.stderr.write(`\r${done} / ${total} orders`), 1000);
  await Promise.all(
    Array.from({ length: Math.min(inflight, total) }, async () => {
      while (next < total) {
        next++;
        const id = timeOrderedId('ord');
        await hub.workflow.submit({
          orderId: id,
          correlationId: id,
          submission: orders.next(),
          idempotency: { scope: 'probe', key: crypto.randomUUID(), requestHash: 'probe' },
        });
        done++;
      }
    }),
  );
  clearInterval(progress);
  const seconds = (performance.now() - t0) / 1000;
  const elu = performance.eventLoopUtilization(elu0);
  // Let the checkpointer copy this run's WAL pages, so their second write is counted too.
  await new Promise((r) => setTimeout(r, 1500));
  process.stderr.write('\n');
  console.log(
    JSON.stringify({
      orders: total,
      inflight,
      workers: values.workers,
      perSecond: Math.round(total / seconds),
      eventLoopBusyUsPerOrder: Math.round((elu.active * 1000) / total),
      eventLoopUtilization: Math.round(elu.utilization * 100) / 100,
      kbWrittenPerOrder: Math.round(((bytesWritten() - written0) / total / 1024) * 10) / 10,
      commitMsMean: Math.round((commitMs / commits) * 100) / 100,
    }),
  );
} finally {
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
}
