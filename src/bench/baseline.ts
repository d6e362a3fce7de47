/**
 * `crossdock bench baseline`: the reference figure of issue 2 measured on THIS machine, so the
 * orders benchmark can be read against it. Issue 2 quotes, for "a machine of this kind", a bare
 * Fastify + zod route committing one 15-row SQLite transaction per order at about 6,000
 * orders/s with synchronous=NORMAL and 2,850/s with FULL. Machines of the same kind differ (we
 * measured the same commit benchmark 2× apart on two days), so we run that route here, with the
 * same load generator, bodies and connections as `bench orders`.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions } from './index.js';
import { benchOrderBodies, runLoad, spawnServer } from './load.js';

export interface BaselineVariant {
  synchronous: 'FULL' | 'NORMAL';
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export interface BaselineResult {
  scenario: 'baseline';
  connections: number;
  seconds: number;
  variants: BaselineVariant[];
}

export async function runBaselineBench(opts: BenchOptions): Promise<BaselineResult> {
  const duration = opts.duration ?? 10;
  const connections = opts.connections ?? 32;
  const nextBody = benchOrderBodies();
  const next = () => ({ headers: {}, body: nextBody() });
  const variants: BaselineVariant[] = [];
  for (const synchronous of ['NORMAL', 'FULL'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'crossdock-baseline-'));
    const { child, url } = await startServer(join(dir, 'baseline.db'), synchronous);
    try {
      process.stderr.write(`baseline (Fastify + zod + one 15-row SQLite transaction, ${synchronous})\n`);
      await runLoad(url, '/api/v1/orders', next, { connections, duration: 3 });
      const r = await runLoad(url, '/api/v1/orders', next, { connections, duration });
      variants.push({
        synchronous,
        perSecond: Math.round(r.perSecond),
        p50Ms: r.p50,
        p99Ms: r.p99,
        errors: r.errors + r.non2xx,
      });
      process.stderr.write(
        `  ${Math.round(r.perSecond).toLocaleString('en-US')} orders/s, p99 ${r.p99} ms\n`,
      );
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { scenario: 'baseline', connections, seconds: duration, variants };
}

function startServer(file: string, synchronous: string): Promise<{ child: ChildProcess; url: string }> {
  const entry = fileURLToPath(new URL('./baseline-server.js', import.meta.url));
  return spawnServer([entry, file, synchronous], 'baseline server', 30_000);
}
