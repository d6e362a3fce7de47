import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossdockError } from '../../domain/index.js';
import { systemClock } from '../../ports/index.js';
import { createSimulators, type Simulators } from '../../simulators/index.js';
import { type SimulatorServer, startSimulatorServer } from '../../simulators/port-server.js';
import { connectRemoteSimulators, type RemoteSimulators } from './index.js';

let server: SimulatorServer;
let sims: Simulators;
let remote: RemoteSimulators;

beforeAll(async () => {
  sims = createSimulators({ seed: 7, clock: systemClock });
  server = await startSimulatorServer({ sims });
  remote = await connectRemoteSimulators({ url: server.url, timeoutMs: 500 });
});

afterAll(async () => {
  await remote?.close();
  await server?.close();
});

async function thrown(p: Promise<unknown>): Promise<CrossdockError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CrossdockError);
    return err as CrossdockError;
  }
  throw new Error('expected a CrossdockError');
}

describe('remote simulators over HTTP', () => {
  test('The server describes its estate and serves the very data set it was seeded with.', async () => {
    expect(remote.info.seed).toBe(7);
    expect(remote.info.systems.erp).toBe(sims.erp.system);
    const data = (await remote.fetchDataSet()) as typeof sims.data;
    expect(data).toEqual(JSON.parse(JSON.stringify(sims.data)));
  });

  test('A sales order created twice with one idempotency key over HTTP is one ERP order.', async () => {
    const { customer, lines } = sims.picks.inPolicy;
    const erpCustomer = sims.data.erpCustomers.find((c) => c.externalId === customer.id)!;
    const input = {
      idempotencyKey: 'remote-key-1',
      hubOrderId: 'ord-remote-1',
      erpCustomerId: erpCustomer.erpId,
      currency: 'USD',
      shipTo: customer.addresses[0]!,
      lines: lines.slice(0, 1).map((l) => ({ sku: l.sku, quantity: 1, unitPrice: l.unitPrice })),
    };
    const before = sims.erp.orderCount;
    const first = await remote.erp.createSalesOrder(input);
    const second = await remote.erp.createSalesOrder(input);
    expect(first.created).toBe(true);
    expect(second).toEqual({ ...first, created: false });
    expect(sims.erp.orderCount).toBe(before + 1);
    const page = await remote.erp.changesSince(null);
    expect(page.changes.length).toBeGreaterThan(0);
  });

  test('A notification sent twice with one key reaches the customer once.', async () => {
    const n = { idempotencyKey: 'n-1', customerId: 'c', orderId: 'o', template: 't', data: { a: 1 } };
    const a = await remote.notifications.send(n);
    const b = await remote.notifications.send(n);
    expect(b).toEqual({ notificationId: a.notificationId, duplicate: true });
    expect(sims.notifications.delivered.filter((d) => d.idempotencyKey === 'n-1')).toHaveLength(1);
  });

  test('The remote error kind, owner and details survive the wire.', async () => {
    const e = await thrown(remote.erp.getCreditExposure('C-NOPE'));
    expect(e.kind).toBe('data_quality');
    expect(e.details).toMatchObject({ erpCustomerId: 'C-NOPE' });
    sims.faults.crm.configure({ down: true });
    try {
      const down = await thrown(remote.crm.getAccount('001'));
      expect(down.kind).toBe('downstream_outage');
      expect(down.retryable).toBe(true);
    } finally {
      sims.faults.crm.reset();
    }
    sims.faults.wms.configure({ rateLimit: { status429Rate: 1, retryAfterSeconds: 2 } });
    try {
      const limited = await thrown(remote.wms.getInventory(['X']));
      expect(limited.kind).toBe('transient');
      expect(limited.retryAfterMs).toBe(2000);
    } finally {
      sims.faults.wms.reset();
    }
  });

  test('A call slower than the client timeout is a transient failure.', async () => {
    sims.faults.erp.configure({ latencyMs: 1500 });
    try {
      const e = await thrown(remote.erp.getProducts(['X']));
      expect(e.kind).toBe('transient');
      expect(e.details).toMatchObject({ ambiguous: true });
    } finally {
      sims.faults.erp.reset();
    }
  });

  test('A refused connection is a downstream outage, and connecting to no server fails fast.', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const e = await thrown(connectRemoteSimulators({ url: `http://127.0.0.1:${port}`, timeoutMs: 500 }));
    expect(e.kind).toBe('downstream_outage');
  });
});
