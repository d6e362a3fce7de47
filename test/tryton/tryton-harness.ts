/**
 * Builds the ErpPort contract harness over a real trytond (see src/connectors/tryton/test-server).
 *
 * Why per file: each test file gets its own trytond on a free port from a fresh copy of the
 * prepared database, so files can run in parallel forks without sharing state.
 */
import { createServer } from 'node:net';
import type { ErpContractHarness, FaultyErp } from '../../src/connectors/contract/index.js';
import {
  createTrytonErp,
  startTrytonServer,
  type TrytonErp,
  TrytonFulfillment,
  type TrytonServerHandle,
} from '../../src/connectors/tryton/index.js';
import { startFaultProxy } from './fault-proxy.js';

/** The contract harness plus the server, for Tryton-specific tests. */
export interface TrytonHarness extends ErpContractHarness {
  server: TrytonServerHandle;
  port: TrytonErp;
  fulfillment: TrytonFulfillment;
}

/** Starts trytond and wires the connector and the guarded warehouse operations to it. */
export async function makeTrytonHarness(): Promise<TrytonHarness> {
  const server = await startTrytonServer();
  const port = createTrytonErp(server.erpConfig());
  const fulfillment = new TrytonFulfillment(port.client);
  const m = server.manifest;
  const inStock = m.products.filter((p) => p.onHand > 0).map((p) => p.sku);
  return {
    server,
    port,
    fulfillment,
    inCreditCustomer: { erpId: String(m.customers.inCredit.id), externalId: m.customers.inCredit.code },
    overLimitCustomer: { erpId: String(m.customers.overLimit.id) },
    skusInStock: inStock.slice(0, 2),
    warehouseId: m.warehouse.code,
    currency: m.company.currency,
    shipTo: {
      kind: 'shipping',
      line1: '1 Main Street',
      city: 'Springfield',
      postalCode: '62701',
      country: 'US',
    },
    advanceFulfillment: (erpOrderId) => fulfillment.advanceShipments(erpOrderId, 'done'),
    issueInvoices: (erpOrderId) => fulfillment.postInvoices(erpOrderId),
    timingOutPort: async (): Promise<FaultyErp> => {
      const proxy = await startFaultProxy(server.port);
      proxy.fault = { mode: 'stall' };
      const faulty = createTrytonErp(
        server.erpConfig({
          url: proxy.url,
          timeoutMs: 500,
          retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
        }),
      );
      return {
        port: faulty,
        dispose: async () => {
          await faulty.close();
          await proxy.close();
        },
      };
    },
    refusingPort: async (): Promise<FaultyErp> => {
      const closedPort = await new Promise<number>((resolve) => {
        const s = createServer();
        s.listen(0, '127.0.0.1', () => {
          const a = s.address();
          s.close(() => resolve(typeof a === 'object' && a ? a.port : 1));
        });
      });
      const faulty = createTrytonErp(
        server.erpConfig({
          url: `http://127.0.0.1:${closedPort}`,
          retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
        }),
      );
      return { port: faulty, dispose: () => faulty.close() };
    },
    dispose: async () => {
      await port.close();
      await server.stop();
    },
  };
}
