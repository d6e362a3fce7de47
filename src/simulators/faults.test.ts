import { describe, expect, test } from 'vitest';
import { CrossdockError } from '../domain/index.js';
import { FaultInjector, FaultPatch } from './faults.js';
import { createSimulators } from './index.js';
import { mulberry32 } from './random.js';

const clock = { now: () => new Date('2025-06-15T12:00:00Z') };
const small = () => createSimulators({ seed: 1, clock, customerCount: 60, productCount: 200 });

async function outcome(p: Promise<unknown>): Promise<CrossdockError | 'ok'> {
  return p.then(
    () => 'ok' as const,
    (e: unknown) => {
      if (!(e instanceof CrossdockError)) throw e;
      return e;
    },
  );
}

describe('fault injection', () => {
  test('a healthy injector answers synchronously without creating a promise', () => {
    const f = new FaultInjector('erp');
    expect(f.before('op')).toBeUndefined();
    expect(f.calls).toBe(1);
  });

  test('a system marked down fails every port call with downstream_outage and makes no effect', async () => {
    const sims = small();
    sims.faults.erp.configure({ down: true });
    const key = { idempotencyKey: 'n1', customerId: 'c', orderId: 'o', template: 't', data: {} };
    sims.faults.notifications.configure({ down: true });
    const err = await outcome(sims.erp.getProducts());
    expect(err).toBeInstanceOf(CrossdockError);
    expect((err as CrossdockError).kind).toBe('downstream_outage');
    expect((err as CrossdockError).retryable).toBe(true);
    expect(((await outcome(sims.notifications.send(key))) as CrossdockError).kind).toBe('downstream_outage');
    expect(sims.notifications.effectCount).toBe(0);
    sims.faults.notifications.reset();
    expect(await outcome(sims.notifications.send(key))).toBe('ok');
    expect(sims.notifications.effectCount).toBe(1);
  });

  test('an error rate fails about that share of calls with transient errors, reproducibly from the seed', async () => {
    const run = async () => {
      const f = new FaultInjector('crm', mulberry32(99));
      f.configure({ errorRate: 0.3 });
      const results: string[] = [];
      for (let i = 0; i < 1000; i++) {
        try {
          f.before('op');
          results.push('ok');
        } catch (e) {
          results.push((e as CrossdockError).kind);
        }
      }
      return results;
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    const failed = a.filter((r) => r === 'transient').length;
    expect(failed).toBeGreaterThan(240);
    expect(failed).toBeLessThan(360);
  });

  test('a 429 is a transient error carrying retryAfterMs from retryAfterSeconds', async () => {
    const sims = small();
    sims.faults.crm.configure({ rateLimit: { status429Rate: 1, retryAfterSeconds: 7 } });
    const err = (await outcome(sims.crm.getAccount('x'))) as CrossdockError;
    expect(err.kind).toBe('transient');
    expect(err.retryAfterMs).toBe(7000);
    expect(err.details['status']).toBe(429);
    expect(sims.faults.crm.stats().injected.rateLimited).toBe(1);
  });

  test('latency delays each call by the configured time', async () => {
    const sims = small();
    sims.faults.wms.configure({ latencyMs: 40 });
    const t0 = performance.now();
    await sims.wms.getInventory([sims.picks.hazmat.sku]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(35);
    sims.faults.wms.reset();
    const t1 = performance.now();
    await sims.wms.getInventory([sims.picks.hazmat.sku]);
    expect(performance.now() - t1).toBeLessThan(35);
  });

  test('latency and an outage combine: the call waits, then fails', async () => {
    const f = new FaultInjector('tms');
    f.configure({ latencyMs: 20, down: true });
    const t0 = performance.now();
    await expect(f.before('op')).rejects.toMatchObject({ kind: 'downstream_outage' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
  });

  test('calls are counted per operation even when they fail, effects only when state changed', async () => {
    const sims = small();
    sims.faults.tms.configure({ errorRate: 1 });
    const booking = {
      idempotencyKey: 'b1',
      hubOrderId: 'o1',
      shipmentId: 's1',
      shippingMethod: 'ground',
      weightKg: 3,
      hazmat: false,
      destinationCountry: 'US',
    };
    await outcome(sims.tms.bookShipment(booking));
    sims.faults.tms.reset();
    await sims.tms.bookShipment(booking);
    await sims.tms.bookShipment(booking);
    const stats = sims.faults.tms.stats();
    expect(stats.calls).toBe(3);
    expect(stats.callsByOperation).toEqual({ bookShipment: 3 });
    expect(stats.effects).toBe(1);
    expect(stats.injected.error).toBe(1);
  });

  test('the fault patch schema refuses out-of-range and unknown fields', () => {
    expect(FaultPatch.safeParse({ errorRate: 1.5 }).success).toBe(false);
    expect(FaultPatch.safeParse({ downn: true }).success).toBe(false);
    expect(FaultPatch.safeParse({ rateLimit: { status429Rate: 0.2 } }).success).toBe(true);
  });
});
