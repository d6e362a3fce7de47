import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrytonErp, type TrytonErp, TrytonRpcClient } from '../../src/connectors/tryton/index.js';
import { CrossdockError } from '../../src/domain/errors.js';
import type { ErpOrderInput } from '../../src/ports/erp.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';
import { makeTrytonHarness, type TrytonHarness } from './tryton-harness.js';

let h: TrytonHarness;
let proxy: FaultProxy;
let direct: TrytonRpcClient;
const viaProxy: TrytonErp[] = [];

beforeAll(async () => {
  h = await makeTrytonHarness();
  proxy = await startFaultProxy(h.server.port);
  direct = new TrytonRpcClient(h.server.erpConfig());
});

afterAll(async () => {
  for (const p of viaProxy) await p.close();
  await direct?.close();
  await proxy?.close();
  await h?.dispose();
});

function proxiedPort(overrides: Parameters<TrytonHarness['server']['erpConfig']>[0] = {}): TrytonErp {
  const port = createTrytonErp(h.server.erpConfig({ url: proxy.url, ...overrides }));
  viaProxy.push(port);
  return port;
}

let n = 0;
function orderInput(sku = h.skusInStock[0] as string): ErpOrderInput {
  n += 1;
  const hubOrderId = `fail-${Date.now().toString(36)}-${n}`;
  return {
    idempotencyKey: `${hubOrderId}:create`,
    hubOrderId,
    erpCustomerId: h.inCreditCustomer.erpId,
    currency: h.currency,
    shipTo: h.shipTo,
    lines: [{ sku, quantity: 1, unitPrice: 12.5 }],
  };
}

async function salesWithKey(key: string): Promise<number> {
  const rows = await direct.searchRead('sale.sale', [['description', '=', `crossdock:${key}`]], ['id']);
  return rows.length;
}

describe('Tryton connector under failure', () => {
  it('creates exactly one sale when the connection drops after Tryton answered the create, and the retry returns it', async () => {
    const port = proxiedPort({ retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 50 } });
    const input = orderInput();
    proxy.fault = { mode: 'drop-after-response', marker: 'model.sale.sale.create', times: 1 };
    const dropped = proxy.dropped;
    const ref = await port.createSalesOrder(input);
    expect(proxy.dropped).toBe(dropped + 1);
    expect(ref.created).toBe(false);
    expect(await salesWithKey(input.idempotencyKey)).toBe(1);
    const again = await port.createSalesOrder(input);
    expect(again.erpOrderId).toBe(ref.erpOrderId);
    expect(await salesWithKey(input.idempotencyKey)).toBe(1);
    expect((await port.getSalesOrder(ref.erpOrderId)).state).toBe('quotation');
  });

  it('creates exactly one sale when the connection drops while Tryton is still creating it', async () => {
    const port = proxiedPort({ retry: { attempts: 3, baseDelayMs: 0, maxDelayMs: 1 }, settleMs: 3000 });
    const input = orderInput();
    proxy.fault = { mode: 'drop-after-send', marker: 'model.sale.sale.create', times: 1 };
    const ref = await port.createSalesOrder(input);
    expect(await salesWithKey(input.idempotencyKey)).toBe(1);
    expect((await port.getSalesOrder(ref.erpOrderId)).hubOrderId).toBe(input.hubOrderId);
  });

  it('reports the dropped create as a retryable transient error when retries are off, and the caller retry finds the sale', async () => {
    const port = proxiedPort({ retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 } });
    const input = orderInput();
    proxy.fault = { mode: 'drop-after-response', marker: 'model.sale.sale.create', times: 1 };
    const err = await port.createSalesOrder(input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrossdockError);
    expect((err as CrossdockError).kind).toBe('transient');
    expect((err as CrossdockError).details['ambiguous']).toBe(true);
    const ref = await port.createSalesOrder(input);
    expect(ref.created).toBe(false);
    expect(await salesWithKey(input.idempotencyKey)).toBe(1);
  });

  it('drops a confirm answer and still confirms once, without reporting a refused sale as accepted', async () => {
    const port = proxiedPort({ retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 50 } });
    const ref = await port.createSalesOrder(orderInput());
    proxy.fault = { mode: 'drop-after-response', marker: 'model.sale.sale.confirm', times: 1 };
    const status = await port.confirmSalesOrder(ref.erpOrderId);
    expect(['confirmed', 'processing']).toContain(status.state);
    expect(status.shipments).toHaveLength(1);

    const refused = await port.createSalesOrder({
      ...orderInput(),
      erpCustomerId: h.overLimitCustomer.erpId,
    });
    proxy.fault = { mode: 'drop-after-response', marker: 'model.sale.sale.confirm', times: 1 };
    const err = await port.confirmSalesOrder(refused.erpOrderId).catch((e: unknown) => e);
    expect((err as CrossdockError).kind).toBe('policy_violation');
    expect((await port.getSalesOrder(refused.erpOrderId)).state).toBe('quotation');
  });

  it('never picks a shipment that could not be assigned (no stock): it stays waiting and stock never goes negative', async () => {
    const outOfStock = h.server.manifest.products.find((p) => p.onHand === 0);
    expect(outOfStock).toBeDefined();
    const ref = await h.port.createSalesOrder(orderInput(outOfStock?.sku));
    await h.port.confirmSalesOrder(ref.erpOrderId);
    const err = await h.fulfillment.advanceShipments(ref.erpOrderId, 'done').catch((e: unknown) => e);
    expect((err as CrossdockError).kind).toBe('policy_violation');
    expect((err as CrossdockError).owner).toBe('inventory');
    const status = await h.port.getSalesOrder(ref.erpOrderId);
    expect(status.shipments.map((s) => s.state)).toEqual(['waiting']);
    const stock = await h.port.getStock([outOfStock?.sku as string]);
    expect(stock[0]?.onHand).toBe(0);
  });

  it('logs in again after the server forgets its sessions (HTTP 401) and carries on', async () => {
    const port = createTrytonErp(
      h.server.erpConfig({ retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 50 } }),
    );
    viaProxy.push(port);
    expect(await port.findCustomerByExternalId(h.inCreditCustomer.externalId)).not.toBeNull();
    await h.server.reset();
    expect((await port.findCustomerByExternalId(h.inCreditCustomer.externalId))?.erpId).toBe(
      h.inCreditCustomer.erpId,
    );
  });
});

describe('Tryton credit-limit ownership', () => {
  it('ignores a hub credit limit by default and refuses it as policy_violation when the hub claims ownership', async () => {
    const created = await h.port.createCustomer({
      externalId: `credit-owner-${Date.now().toString(36)}`,
      name: 'Credit Owner Test',
      addresses: [h.shipTo],
      creditLimit: 5000,
    });
    expect(created.creditLimit).toBe(0);
    const hubOwned = createTrytonErp(h.server.erpConfig({ creditLimitOwner: 'hub' }));
    viaProxy.push(hubOwned);
    const err = await hubOwned.updateCustomer(created.erpId, { creditLimit: 10 }).catch((e: unknown) => e);
    expect((err as CrossdockError).kind).toBe('policy_violation');
    expect((err as CrossdockError).owner).toBe('credit');
  });
});
