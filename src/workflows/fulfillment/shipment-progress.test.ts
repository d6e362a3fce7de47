/**
 * `fulfillmentProgress` and `customerStatusOf` on hand-built orders: which shipments count, what
 * a shipment without lines carries, cancelled quantities, and the counts the customer reads.
 */
import { describe, expect, test } from 'vitest';
import { customerStatusOf, type OrderLine, type Shipment } from '../../domain/index.js';
import { fulfillmentProgress } from './shipment-progress.js';

function line(sku: string, quantity: number, allocations: [string, number][], extra: object = {}): OrderLine {
  return {
    lineNo: 1,
    sku,
    quantity,
    uom: 'EA',
    unitPrice: 1,
    agreedPrice: 1,
    allocations: allocations.map(([warehouseId, q]) => ({ warehouseId, quantity: q })),
    backorderedQuantity: 0,
    promiseDate: null,
    ...extra,
  };
}

function shipment(
  id: string,
  warehouseId: string,
  status: Shipment['status'],
  lines: [string, number][] = [],
  source: 'wms' | 'erp' | 'tms' = 'wms',
): Shipment {
  return {
    id: source === 'erp' ? `erp:${id}` : id,
    orderId: 'o',
    warehouseId,
    lines: lines.map(([sku, quantity]) => ({ sku, quantity })),
    status,
    events: [],
    externalIds: { [source]: id },
  };
}

describe('fulfillmentProgress', () => {
  const split = { lines: [line('A', 2, [['E', 2]]), line('B', 3, [['W', 3]])] };

  test('a split order is fully shipped only when both warehouses shipped; the second planned warehouse counts before it reports', () => {
    const one = fulfillmentProgress(split, [shipment('WO-1', 'E', 'shipped', [['A', 2]])]);
    expect(one).toMatchObject({ total: 2, shipped: 1, delivered: 0, fullyShipped: false });
    const both = fulfillmentProgress(split, [
      shipment('WO-1', 'E', 'delivered', [['A', 2]]),
      shipment('WO-2', 'W', 'shipped', [['B', 3]]),
    ]);
    expect(both).toMatchObject({
      total: 2,
      shipped: 2,
      delivered: 1,
      fullyShipped: true,
      fullyDelivered: false,
    });
    expect(customerStatusOf('shipped', both)).toBe('Partially delivered (1 of 2)');
    expect(customerStatusOf('partially_shipped', one)).toBe('Partially shipped (1 of 2)');
  });

  test("the ERP's record of the same goods is not counted beside the warehouse's", () => {
    const p = fulfillmentProgress(split, [
      shipment(
        'S1',
        'E',
        'planned',
        [
          ['A', 2],
          ['B', 3],
        ],
        'erp',
      ),
      shipment('WO-1', 'E', 'shipped', [['A', 2]]),
    ]);
    expect(p).toMatchObject({ total: 2, shipped: 1, fullyShipped: false, overShipped: [] });
    // With only the ERP's shipments (an ERP that runs the warehouse), those count.
    const erpOnly = fulfillmentProgress(split, [
      shipment(
        'S1',
        'E',
        'shipped',
        [
          ['A', 2],
          ['B', 3],
        ],
        'erp',
      ),
    ]);
    expect(erpOnly).toMatchObject({ total: 1, fullyShipped: true });
  });

  test('a shipment reported without lines carries its warehouse allocation, else the rest of the order', () => {
    expect(fulfillmentProgress(split, [shipment('WO-1', 'E', 'shipped')])).toMatchObject({
      fullyShipped: false,
      total: 2,
    });
    const single = { lines: [line('A', 2, [])] };
    expect(fulfillmentProgress(single, [shipment('WO-1', 'carrier', 'delivered', [], 'tms')])).toMatchObject({
      fullyShipped: true,
      fullyDelivered: true,
      total: 1,
    });
  });

  test('a short pick leaves a remainder: one more shipment expected; more shipped than ordered is reported per SKU', () => {
    const order = { lines: [line('A', 4, [['E', 4]])] };
    expect(fulfillmentProgress(order, [shipment('WO-1', 'E', 'shipped', [['A', 1]])])).toMatchObject({
      total: 2,
      shipped: 1,
      fullyShipped: false,
    });
    expect(
      fulfillmentProgress(order, [
        shipment('WO-1', 'E', 'shipped', [
          ['A', 5],
          ['Z', 1],
        ]),
      ]).overShipped,
    ).toEqual([
      { sku: 'A', ordered: 4, shipped: 5 },
      { sku: 'Z', ordered: 0, shipped: 1 },
    ]);
  });

  test('a cancelled remainder no longer has to ship, and its warehouse order is no longer counted', () => {
    const order = { lines: [line('A', 4, [['E', 4]], { cancelledQuantity: 3 })] };
    expect(fulfillmentProgress(order, [shipment('WO-1', 'E', 'shipped', [['A', 1]])])).toMatchObject({
      fullyShipped: true,
      overShipped: [],
      total: 1,
    });
    const split2 = { lines: [line('A', 2, [['E', 2]]), line('B', 3, [['W', 3]], { cancelledQuantity: 3 })] };
    const p = fulfillmentProgress(split2, [
      shipment('WO-1', 'E', 'delivered', [['A', 2]]),
      shipment('WO-2', 'W', 'allocated', [['B', 3]]),
    ]);
    expect(p).toMatchObject({ total: 1, shipped: 1, delivered: 1, fullyShipped: true, fullyDelivered: true });
    expect(customerStatusOf('delivered', p)).toBe('Delivered');
  });
});
