import { describe, expect, test } from 'vitest';
import { CrossdockError } from '../domain/index.js';
import type { WmsReleaseInput } from '../ports/index.js';
import { createSimulators } from './index.js';

const clock = { now: () => new Date('2025-06-15T12:00:00Z') };
const setup = () => createSimulators({ seed: 42, clock });

function release(
  sims: ReturnType<typeof setup>,
  key: string,
  quantity: number,
  sku?: string,
): WmsReleaseInput {
  const line = sims.picks.inPolicy.lines[0]!;
  return {
    idempotencyKey: key,
    hubOrderId: `ORD-${key}`,
    warehouseId: line.warehouseId,
    shipTo: sims.picks.inPolicy.customer.addresses[0]!,
    shippingMethod: 'ground',
    lines: [{ sku: sku ?? line.sku, quantity }],
  };
}

describe('WMS milestone feed', () => {
  test('the feed pages milestones behind a watermark and a page resumes exactly after the last one', async () => {
    const sims = setup();
    const { wmsOrderId } = await sims.wms.releaseOrder(release(sims, 'f1', 3));
    sims.wms.advance(wmsOrderId, 'picked');
    sims.wms.advance(wmsOrderId, 'packed');
    const first = await sims.wms.milestonesSince(null, 2);
    expect(first.milestones.map((m) => m.type)).toEqual(['released', 'allocated']);
    expect(first.watermark).toBe('2');
    const rest = await sims.wms.milestonesSince(first.watermark);
    expect(rest.milestones.map((m) => m.type)).toEqual(['picked', 'packed']);
    expect(rest.watermark).toBe('4');
    const empty = await sims.wms.milestonesSince(rest.watermark);
    expect(empty).toEqual({ milestones: [], watermark: '4' });
    for (const m of [...first.milestones, ...rest.milestones]) {
      expect(m).toMatchObject({
        hubOrderId: 'ORD-f1',
        shipmentId: wmsOrderId,
        warehouseId: expect.any(String),
      });
    }
  });

  test('an allocated milestone says how much of each SKU was allocated, including nothing', async () => {
    const sims = setup();
    await sims.wms.releaseOrder(release(sims, 'f2', 4));
    const out = release(sims, 'f3', 10, sims.picks.outOfStock.sku);
    out.warehouseId = 'WH-EAST';
    await sims.wms.releaseOrder(out);
    const { milestones } = await sims.wms.milestonesSince(null);
    const allocated = milestones.filter((m) => m.type === 'allocated');
    expect(allocated[0]?.lines).toEqual([{ sku: sims.picks.inPolicy.lines[0]!.sku, quantity: 4 }]);
    expect(allocated[1]?.lines).toEqual([{ sku: sims.picks.outOfStock.sku, quantity: 0 }]);
    expect(milestones.map((m) => m.type)).toContain('backordered');
  });

  test('a replayed milestone keeps its milestone id but is a new delivery', async () => {
    const sims = setup();
    const { wmsOrderId } = await sims.wms.releaseOrder(release(sims, 'f4', 1));
    const picked = sims.wms.advance(wmsOrderId, 'picked');
    sims.wms.replayMilestone(picked.seq);
    const { milestones } = await sims.wms.milestonesSince(String(picked.seq - 1));
    expect(milestones).toHaveLength(2);
    expect(milestones[0]!.id).toBe(milestones[1]!.id);
    expect(milestones[0]!.deliveryId).not.toBe(milestones[1]!.deliveryId);
  });

  test('a malformed watermark is refused as a data-quality error', async () => {
    const sims = setup();
    const err = await sims.wms.milestonesSince('abc').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrossdockError);
    expect(err).toMatchObject({ kind: 'data_quality' });
  });
});

describe('TMS milestone feed', () => {
  test('carrier milestones carry the carrier, tracking number and shipment, and page behind a watermark', async () => {
    const { tms } = setup();
    const booked = await tms.bookShipment({
      idempotencyKey: 't1',
      hubOrderId: 'ORD-t1',
      shipmentId: 'WO-000001',
      shippingMethod: 'ground',
      weightKg: 3,
      hazmat: false,
      destinationCountry: 'US',
    });
    tms.track(booked.trackingNumber, 'in_transit', undefined, 'Memphis, TN');
    const first = await tms.milestonesSince(null);
    expect(first.milestones).toEqual([
      expect.objectContaining({
        hubOrderId: 'ORD-t1',
        shipmentId: 'WO-000001',
        carrier: booked.carrier,
        trackingNumber: booked.trackingNumber,
        type: 'in_transit',
        location: 'Memphis, TN',
        deliveryId: '1',
      }),
    ]);
    tms.track(booked.trackingNumber, 'delivered');
    tms.replayMilestone(2);
    const next = await tms.milestonesSince(first.watermark);
    expect(next.milestones.map((m) => m.type)).toEqual(['delivered', 'delivered']);
    expect(next.milestones[0]!.id).toBe(next.milestones[1]!.id);
    expect(next.watermark).toBe('3');
  });
});
