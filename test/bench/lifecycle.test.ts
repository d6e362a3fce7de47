/**
 * `crossdock bench lifecycle` at a tiny size: it runs both phases to the end, prints one line of
 * JSON last on stdout with CONTRACT.md's fields, the propagation figures and the machine's facts,
 * draws its progress on stderr only, and counts what it applied and delivered (no timing goals
 * here: speed is for the benchmark itself).
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { runBench } from '../../src/bench/index.js';
import { runLifecycleBench } from '../../src/bench/lifecycle.js';

const positive = expect.any(Number);

describe('bench lifecycle', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  test('applies every milestone once, propagates every shipped order to the CRM once, and reports the figures', async () => {
    const progress: string[] = [];
    const stream = Object.assign(
      {
        write: (chunk: string) => {
          progress.push(chunk);
          return true;
        },
      },
      { isTTY: false },
    ) as unknown as NodeJS.WritableStream;
    const r = await runLifecycleBench({
      backend: 'sqlite',
      count: 40,
      rate: 200,
      duration: 0.25,
      progress: stream,
    });
    expect(r).toMatchObject({
      scenario: 'lifecycle',
      backend: 'sqlite',
      count: 120,
      orders: 40,
      milestonesPerOrder: 3,
      errors: 0,
      lost: 0,
      duplicates: 0,
      batched: { count: 120, errors: 0 },
      propagation: { offeredPerSecond: 200, orders: 50, lost: 0, duplicates: 0, errors: 0 },
      goals: { milestonesPerSecond: 5_000, propagationP99Ms: 2_000 },
      machine: { cpus: positive, cpuModel: expect.any(String), node: process.version },
    });
    for (const v of [
      r.seconds,
      r.perSecond,
      r.p50Ms,
      r.p99Ms,
      r.rssMb,
      r.batched.perSecond,
      r.batched.seconds,
    ])
      expect(v).toBeGreaterThan(0);
    const p = r.propagation;
    expect(p.appliedPerSecond).toBeGreaterThan(0);
    expect(p.p50Ms).toBeGreaterThanOrEqual(0);
    expect(p.p95Ms).toBeGreaterThanOrEqual(p.p50Ms);
    expect(p.p99Ms).toBeGreaterThanOrEqual(p.p95Ms);
    expect(p.maxMs).toBeGreaterThanOrEqual(p.p99Ms);
    expect(p.maxMs).toBeGreaterThan(0);
    expect(p.fromOffered.p99Ms).toBeGreaterThanOrEqual(p.fromOffered.p50Ms);
    // Progress and the summary lines went to the stream given, ending with both figures.
    const text = progress.join('');
    expect(text).toContain('lifecycle (a):');
    expect(text).toMatch(/lifecycle \(b\): WMS shipped → CRM at 200\/s offered: p50 [\d.]+ ms/);
  }, 60_000);

  test('`bench lifecycle --json` prints one JSON line last on stdout and its progress on stderr', async () => {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err.push(String(chunk));
      return true;
    });
    await runBench('lifecycle', { backend: 'sqlite', json: true, count: 20, duration: 0.05 });
    vi.restoreAllMocks();
    const lines = out.join('').trimEnd().split('\n');
    const last = JSON.parse(lines.at(-1)!);
    for (const field of [
      'scenario',
      'backend',
      'count',
      'seconds',
      'perSecond',
      'p50Ms',
      'p99Ms',
      'errors',
      'lost',
      'duplicates',
      'rssMb',
    ])
      expect(last).toHaveProperty(field);
    expect(last).toMatchObject({
      scenario: 'lifecycle',
      count: 60,
      lost: 0,
      duplicates: 0,
      propagation: { orders: 50, lost: 0 },
    });
    expect(err.join('')).toContain('lifecycle (b):');
  }, 60_000);
});
