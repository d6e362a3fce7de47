import { describe, expect, test } from 'vitest';
import { CrossdockError, InventoryPosition, ShipmentEvent } from '../domain/index.js';
import type { CrmOrderStatusUpdate, TmsBookingInput, WmsReleaseInput } from '../ports/index.js';
import { createSimulators } from './index.js';
import type { WmsMilestone } from './wms-simulator.js';

const clock = { now: () => new Date('2025-06-15T12:00:00Z') };
const setup = () => createSimulators({ seed: 42, clock });

describe('CRM simulator', () => {
  test('accounts are readable by their 18- and 15-character ids', async () => {
    const { crm, picks } = setup();
    const id = picks.inPolicy.customer.externalIds['crm']!;
    const account = await crm.getAccount(id);
    expect(account?.name).toBe(picks.inPolicy.customer.name);
    expect((await crm.getAccount(id.slice(0, 15)))?.crmId).toBe(id);
    expect(await crm.getAccount('001000000000000AAA')).toBeNull();
    expect((await crm.getAccount(picks.inactive.externalIds['crm']!))?.active).toBe(false);
  });

  test('an order-status update older than the stored one is ignored, a newer one applied', async () => {
    const { crm } = setup();
    const u = (sequence: number, status: string): CrmOrderStatusUpdate => ({
      hubOrderId: 'ORD-1',
      status,
      state: status,
      sequence,
      idempotencyKey: `ORD-1:${sequence}`,
    });
    const created = await crm.upsertOrderStatus(u(3, 'accepted'));
    expect(created.applied).toBe(true);
    const late = await crm.upsertOrderStatus(u(2, 'received'));
    expect(late).toEqual({ crmRecordId: created.crmRecordId, applied: false });
    const replay = await crm.upsertOrderStatus(u(3, 'accepted'));
    expect(replay.applied).toBe(false);
    const newer = await crm.upsertOrderStatus(u(5, 'shipped'));
    expect(newer).toEqual({ crmRecordId: created.crmRecordId, applied: true });
    expect(crm.orderStatus('ORD-1')).toMatchObject({ status: 'shipped', sequence: 5, revision: 2 });
    expect(crm.faults.effects).toBe(2);
  });

  test('activities are deduplicated by idempotency key', async () => {
    const { crm } = setup();
    const a = {
      hubOrderId: 'ORD-2',
      subject: 'Shipped',
      body: '1Z…',
      occurredAt: clock.now().toISOString(),
      idempotencyKey: 'a1',
    };
    const first = await crm.addActivity(a);
    const again = await crm.addActivity(a);
    expect(again).toEqual({ crmRecordId: first.crmRecordId, duplicate: true });
    expect(crm.activityCount).toBe(1);
    expect(crm.activities('ORD-2')).toHaveLength(1);
  });
});

describe('WMS simulator', () => {
  const release = (
    sims: ReturnType<typeof setup>,
    key: string,
    quantity: number,
    sku?: string,
  ): WmsReleaseInput => {
    const line = sims.picks.inPolicy.lines[0]!;
    return {
      idempotencyKey: key,
      hubOrderId: `ORD-${key}`,
      warehouseId: line.warehouseId,
      shipTo: sims.picks.inPolicy.customer.addresses[1]!,
      shippingMethod: 'ground',
      lines: [{ sku: sku ?? line.sku, quantity }],
    };
  };

  test('inventory positions are canonical and filterable by sku', async () => {
    const sims = setup();
    const all = await sims.wms.getInventory();
    expect(all).toHaveLength(sims.data.inventory.length);
    for (const p of all.slice(0, 50)) expect(InventoryPosition.safeParse(p).success).toBe(true);
    const one = await sims.wms.getInventory([sims.picks.singleWarehouse.product.sku]);
    expect(one.map((p) => p.warehouseId)).toEqual([sims.picks.singleWarehouse.warehouseId]);
  });

  test('a repeated release returns the first warehouse order and allocates stock once', async () => {
    const sims = setup();
    const line = sims.picks.inPolicy.lines[0]!;
    const before = (await sims.wms.getInventory([line.sku])).find((p) => p.warehouseId === line.warehouseId)!;
    const first = await sims.wms.releaseOrder(release(sims, 'r1', 5));
    const second = await sims.wms.releaseOrder(release(sims, 'r1', 5));
    expect(second).toEqual({ wmsOrderId: first.wmsOrderId, duplicate: true });
    const after = (await sims.wms.getInventory([line.sku])).find((p) => p.warehouseId === line.warehouseId)!;
    expect(after.allocated).toBe(before.allocated + 5);
    expect(after.available).toBe(before.available - 5);
    expect(sims.wms.orderCount).toBe(1);
    expect(sims.faults.wms.effects).toBe(1);
  });

  test('milestones flow in order to the log and to listeners, and shipping issues stock', async () => {
    const sims = setup();
    const seen: WmsMilestone[] = [];
    sims.wms.onMilestone((m) => seen.push(m));
    const { wmsOrderId } = await sims.wms.releaseOrder(release(sims, 'r2', 4));
    sims.wms.advance(wmsOrderId, 'picked');
    sims.wms.advance(wmsOrderId, 'packed');
    sims.wms.advance(wmsOrderId, 'shipped');
    expect(seen.map((m) => m.type)).toEqual(['released', 'allocated', 'picked', 'packed', 'shipped']);
    for (const m of seen) expect(ShipmentEvent.safeParse(m).success).toBe(true);
    expect(sims.wms.milestoneLog(2).map((m) => m.type)).toEqual(['picked', 'packed', 'shipped']);
    expect(() => sims.wms.advance(wmsOrderId, 'packed')).toThrow(CrossdockError);
    const late = sims.wms.replayMilestone(3);
    expect(late).toMatchObject({ type: 'picked', seq: 6 });
  });

  test('releasing more than is free allocates what there is and reports a backorder', async () => {
    const sims = setup();
    const sku = sims.picks.outOfStock.sku;
    const input = release(sims, 'r3', 10, sku);
    input.warehouseId = 'WH-EAST';
    const { wmsOrderId } = await sims.wms.releaseOrder(input);
    expect(sims.wms.order(wmsOrderId)?.lines[0]).toMatchObject({ allocated: 0, backordered: 10 });
    expect(sims.wms.milestoneLog(0).map((m) => m.type)).toContain('backordered');
  });
});

describe('TMS simulator', () => {
  const booking = (over: Partial<TmsBookingInput> = {}): TmsBookingInput => ({
    idempotencyKey: 'b1',
    hubOrderId: 'ORD-1',
    shipmentId: 'SHP-1',
    shippingMethod: 'ground',
    weightKg: 12,
    hazmat: false,
    destinationCountry: 'US',
    ...over,
  });

  test('a repeated booking returns the same tracking number and books once', async () => {
    const { tms } = setup();
    const a = await tms.bookShipment(booking());
    const b = await tms.bookShipment(booking());
    expect(a.duplicate).toBe(false);
    expect(b).toEqual({ ...a, duplicate: true });
    expect(a.trackingNumber).toMatch(/^1Z[0-9A-Z]{16}$/);
    expect(tms.bookingCount).toBe(1);
  });

  test('hazmat by air is refused as a policy violation owned by logistics, by ground it is booked', async () => {
    const { tms } = setup();
    const err = await tms
      .bookShipment(booking({ idempotencyKey: 'h1', hazmat: true, shippingMethod: 'air' }))
      .catch((e) => e);
    expect(err).toBeInstanceOf(CrossdockError);
    expect(err).toMatchObject({ kind: 'policy_violation', owner: 'logistics' });
    expect(tms.bookingCount).toBe(0);
    const ok = await tms.bookShipment(
      booking({ idempotencyKey: 'h2', hazmat: true, shippingMethod: 'ground' }),
    );
    expect(ok.duplicate).toBe(false);
  });

  test('tracking milestones are recorded against the booking', async () => {
    const { tms } = setup();
    const { trackingNumber } = await tms.bookShipment(
      booking({ shippingMethod: 'freight', idempotencyKey: 'f1' }),
    );
    expect(trackingNumber).toMatch(/^PRO\d+$/);
    tms.track(trackingNumber, 'in_transit');
    tms.track(trackingNumber, 'delivered');
    expect(tms.milestoneLog(0).map((m) => m.type)).toEqual(['in_transit', 'delivered']);
    expect(tms.booking(trackingNumber)?.status).toBe('delivered');
  });
});

describe('notification simulator', () => {
  test('a notification sent twice with one key reaches the customer once', async () => {
    const { notifications } = setup();
    const n = {
      idempotencyKey: 'n1',
      customerId: 'CUST-00001',
      orderId: 'ORD-1',
      template: 'order_shipped',
      data: { tracking: '1Z' },
    };
    const a = await notifications.send(n);
    const b = await notifications.send(n);
    expect(b).toEqual({ notificationId: a.notificationId, duplicate: true });
    expect(notifications.effectCount).toBe(1);
    expect(notifications.delivered).toHaveLength(1);
    expect(notifications.duplicateAttempts).toBe(1);
    expect(notifications.deliveredTo('CUST-00001', 'ORD-1')).toHaveLength(1);
    expect(notifications.repeatedContent()).toEqual([]);
  });
});
