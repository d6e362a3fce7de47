/**
 * Orders and their lifecycle events for the backbone's integration tests: each step is one
 * commit of the order's new state together with the event describing it, as workflows do.
 */
import type {
  CloudEvent,
  CustomerStatus,
  EventType,
  OrderState,
  SalesOrder,
} from '../../src/domain/index.js';
import { makeEvent } from '../../src/events/index.js';
import type { Clock, Store } from '../../src/ports/index.js';
import { mulberry32 } from '../../src/simulators/index.js';

/** One lifecycle step: the state reached and the event type announcing it. */
export interface Step {
  state: OrderState;
  customerStatus: CustomerStatus;
  type: EventType;
  milestone?: 'shipped' | 'delivered';
}

/** accepted → allocated → shipped → delivered → invoiced. */
export const lifecycle: Step[] = [
  { state: 'accepted', customerStatus: 'Confirmed', type: 'order.accepted.v1' },
  { state: 'allocated', customerStatus: 'Preparing', type: 'order.status_changed.v1' },
  { state: 'shipped', customerStatus: 'Shipped', type: 'shipment.milestone.v1', milestone: 'shipped' },
  { state: 'delivered', customerStatus: 'Delivered', type: 'shipment.milestone.v1', milestone: 'delivered' },
  { state: 'invoiced', customerStatus: 'Delivered', type: 'invoice.issued.v1' },
];

/** A minimal accepted order allocated from one warehouse. */
export function makeOrder(
  id: string,
  customerId: string,
  sku: string,
  warehouseId: string,
  now: Date,
): SalesOrder {
  const at = now.toISOString();
  return {
    id,
    version: 1,
    source: { system: 'crm', ref: `OPP-${id}` },
    customerId,
    currency: 'USD',
    shipTo: { kind: 'shipping', line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
    shippingMethod: 'ground',
    lines: [
      {
        lineNo: 1,
        sku,
        quantity: 1,
        uom: 'EA',
        unitPrice: 10,
        agreedPrice: null,
        allocations: [{ warehouseId, quantity: 1 }],
        backorderedQuantity: 0,
        promiseDate: null,
      },
    ],
    total: 10,
    state: 'accepted',
    customerStatus: 'Confirmed',
    milestones: [],
    holds: [],
    rejection: null,
    fulfillmentPlan: null,
    externalIds: {},
    shipments: [],
    invoices: [],
    correlationId: `corr-${id}`,
    createdAt: at,
    updatedAt: at,
  };
}

/** The event of step `i` of an order. */
export function stepEvent(order: SalesOrder, i: number, now: Date): CloudEvent {
  const step = lifecycle[i]!;
  const ref = {
    orderId: order.id,
    customerId: order.customerId,
    state: step.state,
    customerStatus: step.customerStatus,
  };
  const opts = { now, source: '/crossdock/test' };
  switch (step.type) {
    case 'order.accepted.v1':
      return makeEvent(
        'order.accepted.v1',
        order.id,
        {
          ...ref,
          erpOrderNumber: `SO-${order.id}`,
          total: order.total,
          currency: 'USD',
          lines: order.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, backorderedQuantity: 0 })),
        },
        opts,
      );
    case 'order.status_changed.v1':
      return makeEvent(
        'order.status_changed.v1',
        order.id,
        { ...ref, previousState: lifecycle[i - 1]!.state },
        opts,
      );
    case 'shipment.milestone.v1':
      return makeEvent(
        'shipment.milestone.v1',
        order.id,
        { ...ref, shipmentId: `SH-${order.id}`, milestone: step.milestone ?? 'shipped' },
        opts,
      );
    default:
      return makeEvent(
        'invoice.issued.v1',
        order.id,
        { ...ref, invoiceId: `INV-${order.id}`, number: `I-${order.id}`, amount: 10, currency: 'USD' },
        opts,
      );
  }
}

/** Commits step `i` of an order (insert at step 0, versioned update after) with its event. */
export async function commitStep(
  store: Store,
  clock: Clock,
  base: SalesOrder,
  i: number,
): Promise<CloudEvent> {
  const now = clock.now();
  const step = lifecycle[i]!;
  const next: SalesOrder = {
    ...base,
    version: i + 1,
    state: step.state,
    customerStatus: step.customerStatus,
    updatedAt: now.toISOString(),
  };
  const event = stepEvent(next, i, now);
  const r = await store.commit({ order: { next, expectedVersion: i === 0 ? null : i }, events: [event] });
  if (r.status !== 'committed') throw new Error('step not committed');
  return event;
}

/** A deterministic PRNG for interleavings and jitter (the simulators' mulberry32). */
export const seeded = mulberry32;

/** Commits `steps` lifecycle steps of each order in a random interleaving (per-order order kept). */
export async function commitInterleaved(
  store: Store,
  clock: Clock,
  orders: SalesOrder[],
  steps: number,
  random: () => number,
  between?: () => Promise<void>,
): Promise<CloudEvent[]> {
  const nextStep = new Map(orders.map((o) => [o.id, 0]));
  const events: CloudEvent[] = [];
  let open = orders.slice();
  while (open.length > 0) {
    const o = open[Math.floor(random() * open.length)]!;
    const i = nextStep.get(o.id)!;
    events.push(await commitStep(store, clock, o, i));
    nextStep.set(o.id, i + 1);
    if (i + 1 >= steps) open = open.filter((x) => x.id !== o.id);
    if (between) await between();
  }
  return events;
}
