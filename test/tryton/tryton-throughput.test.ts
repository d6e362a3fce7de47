import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErpOrderInput } from '../../src/ports/erp.js';
import { makeTrytonHarness, type TrytonHarness } from './tryton-harness.js';

// Measures what docs/connectors/tryton.md quotes: sales/s and create+quote+confirm latency on
// a real trytond (SQLite backend), through the connector with its default concurrency limit.
let h: TrytonHarness;
beforeAll(async () => {
  h = await makeTrytonHarness();
});
afterAll(async () => {
  await h?.dispose();
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

describe('Tryton throughput', () => {
  it('creates and confirms a burst of sales through the concurrency limit without losing or doubling any', async () => {
    const total = 30;
    const inputs: ErpOrderInput[] = Array.from({ length: total }, (_, i) => ({
      idempotencyKey: `perf-${Date.now().toString(36)}-${i}`,
      hubOrderId: `perf-${i}`,
      erpCustomerId: h.inCreditCustomer.erpId,
      currency: h.currency,
      shipTo: h.shipTo,
      lines: [
        { sku: h.skusInStock[0] as string, quantity: 1, unitPrice: 12.5 },
        { sku: h.skusInStock[1] as string, quantity: 2, unitPrice: 8 },
      ],
    }));
    // Warm-up: login and caches.
    await h.port.getProducts(h.skusInStock);
    const sequential: number[] = [];
    for (const input of inputs.slice(0, 5)) {
      const t0 = performance.now();
      const ref = await h.port.createSalesOrder(input);
      await h.port.confirmSalesOrder(ref.erpOrderId);
      sequential.push(performance.now() - t0);
    }
    const latencies: number[] = [];
    const started = performance.now();
    const refs = await Promise.all(
      inputs.slice(5).map(async (input) => {
        const t0 = performance.now();
        const ref = await h.port.createSalesOrder(input);
        const status = await h.port.confirmSalesOrder(ref.erpOrderId);
        latencies.push(performance.now() - t0);
        return status;
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    sequential.sort((a, b) => a - b);
    latencies.sort((a, b) => a - b);
    const report = {
      sequential: {
        n: sequential.length,
        p50Ms: Math.round(percentile(sequential, 50)),
        maxMs: Math.round(percentile(sequential, 100)),
      },
      burst: {
        n: refs.length,
        salesPerSecond: Number((refs.length / seconds).toFixed(2)),
        p50Ms: Math.round(percentile(latencies, 50)),
        p99Ms: Math.round(percentile(latencies, 99)),
      },
    };
    console.log(`TRYTON_THROUGHPUT ${JSON.stringify(report)}`);
    expect(new Set(refs.map((r) => r.erpOrderId)).size).toBe(refs.length);
    for (const r of refs) expect(['confirmed', 'processing']).toContain(r.state);
    expect(report.burst.salesPerSecond).toBeGreaterThan(0.5);
  }, 120_000);
});
