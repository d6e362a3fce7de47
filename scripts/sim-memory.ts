/**
 * Heap held by the in-process simulators after N orders, with and without the record bound:
 * `node --expose-gc --import tsx scripts/sim-memory.ts [--orders 100000] [--max-records 50000]
 * [--max-keys N]` (`--max-records 0` = unbounded; `--max-keys` default 4 × max-records). Prints one
 * JSON line.
 *
 * Why it drives the simulators directly instead of a hub: the question is what the simulated
 * estate keeps, not the hub's own memory. Each order does what the hub's flow does to the
 * estate: ERP create + confirm (and a shipment), a CRM status upsert and timeline activity, a
 * customer notification, a WMS release (with its milestones) and a TMS booking with one
 * tracking scan.
 */
import { parseArgs } from 'node:util';
import { createSimulators } from '../src/simulators/index.js';

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '100000' },
    'max-records': { type: 'string', default: '50000' },
    'max-keys': { type: 'string' },
  },
});
const orders = Number(values.orders);
const bound = Number(values['max-records']);
const maxKeys = values['max-keys'] === undefined ? undefined : Number(values['max-keys']);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function heapMb(): number {
  gc!();
  gc!();
  return Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10;
}

const clock = { now: () => new Date('2025-06-15T12:00:00Z') };
const sims = createSimulators({
  seed: 42,
  clock,
  ...(bound > 0 ? { maxRecords: bound } : { maxRecords: Number.MAX_SAFE_INTEGER }),
  ...(maxKeys === undefined ? {} : { maxKeys }),
});
const { customer, lines } = sims.picks.inPolicy;
const erpCustomerId = customer.externalIds['erp']!;
sims.erp.setCreditLimit(erpCustomerId, 1e15);
const shipTo = customer.addresses.find((a) => a.kind === 'shipping') ?? customer.addresses[0]!;
const line = lines[0]!;

const before = heapMb();
const started = performance.now();
for (let i = 0; i < orders; i++) {
  // Hub order ids are ULID-like: 26 characters after the prefix.
  const id = `ORD-01J${String(i).padStart(23, '0')}`;
  const ref = await sims.erp.createSalesOrder({
    idempotencyKey: id,
    hubOrderId: id,
    erpCustomerId,
    currency: 'USD',
    shipTo,
    lines: lines.slice(0, 2).map((l) => ({ sku: l.sku, quantity: 0.001, unitPrice: l.unitPrice })),
  });
  await sims.erp.confirmSalesOrder(ref.erpOrderId);
  await sims.crm.upsertOrderStatus({
    hubOrderId: id,
    status: 'Confirmed',
    state: 'accepted',
    sequence: 2,
    idempotencyKey: `${id}:2`,
    erpOrderNumber: ref.erpOrderNumber,
  });
  await sims.crm.addActivity({
    hubOrderId: id,
    subject: 'Order accepted',
    body: `ERP order ${ref.erpOrderNumber}`,
    occurredAt: clock.now().toISOString(),
    idempotencyKey: `${id}:activity:accepted`,
  });
  await sims.notifications.send({
    idempotencyKey: `${id}:notify:accepted`,
    customerId: customer.id,
    orderId: id,
    template: 'order_confirmation',
    data: { erpOrderNumber: ref.erpOrderNumber },
  });
  await sims.wms.releaseOrder({
    idempotencyKey: `${id}:release`,
    hubOrderId: id,
    warehouseId: line.warehouseId,
    shipTo,
    shippingMethod: 'ground',
    lines: [{ sku: line.sku, quantity: 0.001 }],
  });
  const booked = await sims.tms.bookShipment({
    idempotencyKey: `${id}:booking`,
    hubOrderId: id,
    shipmentId: `SHP-${i}`,
    shippingMethod: 'ground',
    weightKg: 3,
    hazmat: false,
    destinationCountry: 'US',
  });
  sims.tms.track(booked.trackingNumber, 'in_transit');
}
const seconds = (performance.now() - started) / 1000;
const after = heapMb();
process.stdout.write(
  `${JSON.stringify({
    orders,
    maxRecords: bound > 0 ? bound : 'unbounded',
    maxKeys: maxKeys ?? (bound > 0 ? 4 * bound : 'unbounded'),
    heapBeforeMb: before,
    heapAfterMb: after,
    heldMb: Math.round((after - before) * 10) / 10,
    bytesPerOrder: Math.round(((after - before) * 1048576) / orders),
    keptErpOrders: sims.erp.listOrders(0, 0).total,
    evictedErpOrders: sims.erp.evictedCounts.orders,
    ordersPerSecond: Math.round(orders / seconds),
  })}\n`,
);
