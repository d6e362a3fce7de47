/**
 * Builders of valid domain records for the storage contract suite (and storage benchmarks), so
 * each test states only what it is about.
 */
import type {
  CloudEvent,
  Customer,
  Hold,
  InventoryPosition,
  PriceAgreement,
  Product,
  SalesOrder,
} from '../../domain/index.js';
import type { ExceptionInput, IdempotencyRecord, TimelineInput } from '../../ports/index.js';

const t0 = '2025-01-15T10:00:00.000Z';

/** A customer with a CRM and an ERP cross-reference. */
export function customer(id: string, overrides: Partial<Customer> = {}): Customer {
  return {
    id,
    accountNumber: `ACC-${id}`,
    name: `Customer ${id}`,
    status: 'active',
    segment: 'standard',
    contacts: [],
    addresses: [],
    currency: 'USD',
    creditLimit: 10_000,
    paymentTerms: 'NET30',
    taxStatus: 'taxable',
    exemptionCertificates: [],
    externalIds: { crm: `crm-${id}`, erp: `erp-${id}` },
    updatedAt: t0,
    ...overrides,
  };
}

/** A plain parcel product. */
export function product(sku: string, overrides: Partial<Product> = {}): Product {
  return {
    sku,
    name: `Product ${sku}`,
    uom: 'EA',
    weightKg: 1,
    hazmat: null,
    shippingClass: 'parcel',
    taxClass: 'standard',
    listPrice: 10,
    active: true,
    externalIds: {},
    updatedAt: t0,
    ...overrides,
  };
}

/** A contract price valid through 2025. */
export function agreement(
  id: string,
  customerId: string,
  sku: string,
  overrides: Partial<PriceAgreement> = {},
): PriceAgreement {
  return {
    id,
    customerId,
    sku,
    unitPrice: 9,
    currency: 'USD',
    validFrom: '2025-01-01',
    validTo: '2025-12-31',
    tolerancePct: 0.5,
    ...overrides,
  };
}

/** A stock position as the WMS reports it (reserved/available are the hub's and are ignored). */
export function position(sku: string, warehouseId: string, onHand: number, allocated = 0): InventoryPosition {
  return {
    sku,
    warehouseId,
    onHand,
    allocated,
    reserved: 0,
    available: Math.max(0, onHand - allocated),
    inbound: [{ quantity: 5, eta: '2025-02-01' }],
    asOf: t0,
  };
}

/** A received order; `createdAt` can be set to control list order. */
export function order(id: string, overrides: Partial<SalesOrder> = {}): SalesOrder {
  return {
    id,
    version: 1,
    source: { system: 'crm', ref: `q-${id}` },
    customerId: 'c1',
    currency: 'USD',
    shipTo: { kind: 'shipping', line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
    shippingMethod: 'ground',
    lines: [
      {
        lineNo: 1,
        sku: 'SKU-1',
        quantity: 2,
        uom: 'EA',
        unitPrice: 9,
        agreedPrice: 9,
        allocations: [],
        backorderedQuantity: 0,
        promiseDate: null,
      },
    ],
    total: 18,
    state: 'received',
    customerStatus: 'Processing',
    milestones: [],
    holds: [],
    rejection: null,
    fulfillmentPlan: null,
    externalIds: {},
    shipments: [],
    invoices: [],
    correlationId: `corr-${id}`,
    createdAt: t0,
    updatedAt: t0,
    ...overrides,
  };
}

let eventCounter = 0;

/** A CloudEvent about `subject`; ids are unique per process. */
export function event(subject: string, type = 'order.status_changed.v1', time = t0): CloudEvent {
  eventCounter += 1;
  return {
    specversion: '1.0',
    id: `evt-${process.pid}-${Date.now()}-${eventCounter}`,
    source: 'crossdock',
    type,
    time,
    subject,
    datacontenttype: 'application/json',
    data: { orderId: subject, n: eventCounter },
  };
}

/** A timeline entry of an order. */
export function timeline(orderId: string, name: string): TimelineInput {
  return {
    orderId,
    at: t0,
    kind: 'step',
    name,
    system: 'hub',
    outcome: 'ok',
    durationMs: 3,
    summary: { name },
    correlationId: `corr-${orderId}`,
  };
}

/** An exception for a parked delivery. */
export function deliveryException(id: string, deliveryId: string, subscription: string): ExceptionInput {
  return {
    id,
    kind: 'data_quality',
    owner: 'integration',
    source: `subscription:${subscription}`,
    subscription,
    deliveryId,
    eventId: null,
    orderId: null,
    error: { message: 'rejected by destination' },
    attempts: 1,
  };
}

/** An Idempotency-Key record of client `k1` (request hash `h`, 201 with an empty body). */
export function idempotencyRecord(
  key: string,
  overrides: Partial<IdempotencyRecord> = {},
): IdempotencyRecord {
  return {
    scope: 'k1',
    key,
    requestHash: 'h',
    responseStatus: 201,
    responseBody: {},
    createdAt: t0,
    ...overrides,
  };
}

/** An open hold of that reason, owned by the team of the same name. */
export function hold(reason: Hold['reason'], detail: string): Hold {
  return { reason, owner: reason, detail, data: {}, openedAt: t0, resolvedAt: null };
}
