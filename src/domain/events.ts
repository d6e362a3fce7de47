/**
 * CloudEvents 1.0 envelope and the versioned event catalogue.
 *
 * Why versioned types (`order.accepted.v1`): subscribers outlive releases. A breaking change to
 * an event's data adds `…v2` next to `…v1` instead of silently changing what a CRM receives.
 */
import { z } from 'zod';
import { CrossdockError } from './errors.js';
import { HoldReason, OrderState } from './order-state.js';
import { randomHex, uuidv7 } from './random.js';
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

/** Where events made by the hub say they come from (CloudEvents `source`) unless told otherwise. */
export const hubEventSource = 'urn:crossdock:hub';

export interface NewEventOptions {
  /** CloudEvents `source`: the component that decided; {@link hubEventSource} by default. */
  source?: string;
  /** Event time; pass the injected Clock's `now()` so tests are deterministic. */
  time?: Date;
  /** W3C trace context of the request or step that caused the event; a new root when absent or invalid. */
  traceparent?: string;
  /** Event id; a random UUID by default. Give one when the id must be derived (inbound mapping). */
  id?: string;
}

const traceparentPattern = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Whether a string is a syntactically valid W3C `traceparent` (all-zero ids are invalid). */
export function isTraceparent(value: string): boolean {
  if (!traceparentPattern.test(value)) return false;
  const [, traceId, spanId] = value.split('-');
  return !/^0+$/.test(traceId ?? '') && !/^0+$/.test(spanId ?? '');
}

/** A fresh W3C `traceparent` (version 00, sampled) for events with no causing request. */
export function newTraceparent(): string {
  return `00-${randomHex(16)}-${randomHex(8)}-01`;
}

/**
 * Validates an event payload of a (possibly untrusted) type against the catalogue. Unknown type
 * or schema failure → `data_quality` naming the offending fields.
 */
export function validateEventData(type: string, data: unknown): Record<string, unknown> {
  if (!isEventType(type)) {
    throw CrossdockError.dataQuality(`unknown event type ${type}`, {
      details: { type, known: Object.keys(eventCatalogue) },
    });
  }
  const result = eventCatalogue[type].safeParse(data);
  if (!result.success) {
    throw CrossdockError.dataQuality(`event data does not match ${type}`, {
      details: {
        type,
        issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      },
    });
  }
  return result.data as Record<string, unknown>;
}

/**
 * Build a catalogue event, validating its data against the type's schema: the outbox is a public
 * contract (every subscriber and every replay reads it), so an event that does not match its
 * published schema is refused where it is made, inside the transaction that would commit it.
 */
export function newEvent<T extends EventType>(
  type: T,
  subject: string,
  data: EventData<T>,
  options: NewEventOptions = {},
): CloudEvent {
  return {
    specversion: '1.0',
    id: options.id ?? uuidv7(),
    source: options.source ?? hubEventSource,
    type,
    time: (options.time ?? new Date()).toISOString(),
    subject,
    datacontenttype: 'application/json',
    traceparent:
      options.traceparent !== undefined && isTraceparent(options.traceparent)
        ? options.traceparent
        : newTraceparent(),
    data: validateEventData(type, data),
  };
}
