/** Order documents in given states for the experience-view suites (holds, shipments, invoices, returns). */
import type { Hold, HoldReason, Invoice, SalesOrder, Shipment } from '../../src/domain/index.js';
import { holdOwners } from '../../src/domain/index.js';
import { order } from '../../src/storage/contract/fixtures.js';

/** An order on hold with these holds (open unless `resolvedAt`), each with internal detail and credit-like data. */
export function held(
  id: string,
  holds: { reason: HoldReason; openedAt: string; resolvedAt?: string }[],
  overrides: Partial<SalesOrder> = {},
): SalesOrder {
  return order(id, {
    state: 'on_hold',
    customerStatus: 'On hold',
    holds: holds.map(
      (h): Hold => ({
        reason: h.reason,
        owner: holdOwners[h.reason],
        detail: `INTERNAL ${h.reason} detail: exposure 98765.43 over limit 87654.32`,
        data: { limit: 87654.32, exposure: 98765.43 },
        openedAt: h.openedAt,
        resolvedAt: h.resolvedAt ?? null,
      }),
    ),
    ...overrides,
  });
}

/** A shipment of the order at `status`, with carrier, tracking number and the events to get there. */
export function shipment(orderId: string, status: Shipment['status'], n = 1): Shipment {
  const path: Shipment['status'][] = ['shipped', 'in_transit', 'delivered'];
  const reached = path.slice(0, path.indexOf(status) + 1);
  return {
    id: `WMS-SHP-${orderId}-${n}`,
    orderId,
    warehouseId: 'WH-EAST',
    carrier: 'ups',
    trackingNumber: `1Z${orderId.toUpperCase()}${n}`,
    lines: [{ sku: 'SKU-1', quantity: 2 }],
    status,
    events: reached.map((type, i) => ({
      id: `ev-${orderId}-${n}-${type}`,
      shipmentId: `WMS-SHP-${orderId}-${n}`,
      type: type as 'shipped',
      at: `2026-12-0${i + 1}T10:00:00.000Z`,
      source: 'wms' as const,
    })),
    externalIds: { wms: `WMS-INTERNAL-${orderId}` },
  };
}

/** An invoice of the order with lines and the ERP's internal id. */
export function invoice(
  orderId: string,
  status: Invoice['status'],
  kind: Invoice['kind'] = 'invoice',
): Invoice {
  return {
    id: `erp:INV-INTERNAL-${orderId}-${kind}`,
    orderId,
    number: `${kind === 'invoice' ? 'INV' : 'CM'}-${orderId}`,
    kind,
    amount: 18,
    currency: 'USD',
    issuedAt: '2026-12-03T10:00:00.000Z',
    dueOn: '2027-01-02',
    status,
    externalIds: { erp: `ERP-INTERNAL-${orderId}` },
    ...({
      lines: [{ sku: 'SKU-1', quantity: 2, unitPrice: 9, amount: 18 }],
      paymentTerms: 'NET30',
    } as object),
  };
}

/** A return on the order document, shaped as the returns feature keeps it. */
export function returnOf(orderId: string): Record<string, unknown> {
  return {
    id: `${orderId}-R1`,
    orderId,
    state: 'authorized',
    customerStatus: 'Return authorized',
    source: { system: 'crm', caseId: 'CASE-INTERNAL-1', by: 'crm-app' },
    lines: [{ sku: 'SKU-1', quantity: 1, reason: 'damaged' }],
    rmaNumber: `RMA-${orderId}`,
    note: 'INTERNAL return note',
    history: [{ state: 'requested', at: '2026-12-04T10:00:00.000Z' }],
    externalIds: { erp: 'ERP-RMA-INTERNAL' },
    createdAt: '2026-12-04T10:00:00.000Z',
    updatedAt: '2026-12-04T11:00:00.000Z',
  };
}
