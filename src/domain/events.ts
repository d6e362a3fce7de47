/**
 * CloudEvents 1.0 envelope and the versioned event catalogue.
 *
 * Why versioned types (`order.accepted.v1`): subscribers outlive releases. A breaking change to
 * an event's data adds `…v2` next to `…v1` instead of silently changing what a CRM receives.
 */
import { z } from 'zod';
import { HoldReason, OrderState } from './order-state.js';
import { ShipmentEventType } from './schemas.js';

export const CloudEvent = z
  .object({
    specversion: z.literal('1.0'),
    id: z.string().min(1),
    source: z.string().min(1),
    type: z.string().min(1),
    time: z.iso.datetime({ offset: true }),
    /** The business key (order id, customer id): delivery is ordered per subject. */
    subject: z.string().min(1),
    datacontenttype: z.literal('application/json').default('application/json'),
    traceparent: z.string().optional(),
    data: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'CloudEvent' });
export type CloudEvent = z.infer<typeof CloudEvent>;

const orderRef = {
  orderId: z.string(),
  customerId: z.string().nullable(),
  state: OrderState,
  customerStatus: z.string(),
};

/** The event catalogue: one zod schema per versioned type. */
export const eventCatalogue = {
  'order.accepted.v1': z.object({
    ...orderRef,
    erpOrderNumber: z.string().nullable(),
    total: z.number(),
    currency: z.string(),
    lines: z.array(z.object({ sku: z.string(), quantity: z.number(), backorderedQuantity: z.number() })),
  }),
  'order.held.v1': z.object({
    ...orderRef,
    holds: z.array(z.object({ reason: HoldReason, owner: z.string(), detail: z.string() })),
  }),
  'order.rejected.v1': z.object({ ...orderRef, code: z.string(), detail: z.string() }),
  'order.status_changed.v1': z.object({ ...orderRef, previousState: OrderState }),
  'order.cancelled.v1': z.object({ ...orderRef, reason: z.string() }),
  'shipment.milestone.v1': z.object({
    ...orderRef,
    shipmentId: z.string(),
    milestone: ShipmentEventType,
    trackingNumber: z.string().optional(),
    carrier: z.string().optional(),
  }),
  'invoice.issued.v1': z.object({
    ...orderRef,
    invoiceId: z.string(),
    number: z.string(),
    amount: z.number(),
    currency: z.string(),
  }),
} as const;

export type EventType = keyof typeof eventCatalogue;
export const eventTypes = Object.keys(eventCatalogue) as EventType[];
export type EventData<T extends EventType> = z.infer<(typeof eventCatalogue)[T]>;

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(eventCatalogue, type);
}

export interface NewEventOptions {
  /** CloudEvents `source`: the component that decided (e.g. `/crossdock/quote-to-order`). */
  source: string;
  time: Date;
  traceparent?: string;
  id?: string;
}

/**
 * Build a catalogue event, validating its data against the type's schema: an event that does
 * not match its published schema is a bug and must never reach a subscriber.
 */
export function newEvent<T extends EventType>(
  type: T,
  subject: string,
  data: EventData<T>,
  options: NewEventOptions,
): CloudEvent {
  const parsed = eventCatalogue[type].parse(data) as Record<string, unknown>;
  const event: CloudEvent = {
    specversion: '1.0',
    id: options.id ?? crypto.randomUUID(),
    source: options.source,
    type,
    time: options.time.toISOString(),
    subject,
    datacontenttype: 'application/json',
    data: parsed,
  };
  if (options.traceparent) event.traceparent = options.traceparent;
  return event;
}
