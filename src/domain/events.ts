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

/** Invoice and credit-memo detail (`invoice.issued.v1`, `credit_memo.issued.v1`). */
const documentDetail = {
  kind: z.enum(['invoice', 'credit_memo']).optional(),
  erpInvoiceId: z.string().optional(),
  issuedAt: z.string().optional(),
  dueOn: z.string().nullable().optional(),
  paymentTerms: z.string().optional(),
  lines: z
    .array(z.object({ sku: z.string(), quantity: z.number(), unitPrice: z.number(), amount: z.number() }))
    .optional(),
};

/** What every return event says about the return. */
const returnRef = {
  returnId: z.string(),
  returnState: z.enum([
    'requested',
    'authorized',
    'received',
    'inspected',
    'credited',
    'rejected',
    'cancelled',
  ]),
  returnStatus: z.string(),
  caseId: z.string().nullable(),
  lines: z.array(
    z.object({
      sku: z.string(),
      quantity: z.number(),
      reason: z.string(),
      acceptedQuantity: z.number().optional(),
      rejectedQuantity: z.number().optional(),
      rejectionReason: z.string().optional(),
    }),
  ),
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
  /**
   * A hold's owner released (approved) it: who (API key name) and why. `holds` are the holds
   * still open; without any, the order is being decided again (`state` validating, or already
   * its new outcome when that came in the same commit: held again, rejected).
   */
  'order.hold_released.v1': z.object({
    ...orderRef,
    reason: HoldReason,
    owner: z.string(),
    by: z.string(),
    note: z.string(),
    holds: z.array(z.object({ reason: HoldReason, owner: z.string(), detail: z.string() })),
  }),
  'order.status_changed.v1': z.object({ ...orderRef, previousState: OrderState }),
  /**
   * The order was cancelled (`partial` absent or false), or the unshipped remainder of a partly
   * shipped order was (`partial: true`; `state` is then where the order stands, e.g. shipped).
   * `lines` are the quantities cancelled; `by` and `note` who asked and why.
   */
  'order.cancelled.v1': z.object({
    ...orderRef,
    reason: z.string(),
    partial: z.boolean().optional(),
    lines: z.array(z.object({ sku: z.string(), quantity: z.number() })).optional(),
    by: z.string().optional(),
    note: z.string().optional(),
  }),
  /**
   * The order's backorder changed: what is backordered per line and when it is promised, and why
   * (`decision`: accepted with a backorder; `short_allocation`: the warehouse could not allocate
   * all it was released; `released`: stock arrived and the backordered quantity went to the
   * warehouse). One event per revision, so the customer is told once per revision.
   */
  'order.backordered.v1': z.object({
    ...orderRef,
    reason: z.enum(['decision', 'short_allocation', 'released']),
    lines: z.array(
      z.object({ sku: z.string(), backorderedQuantity: z.number(), promiseDate: z.string().nullable() }),
    ),
    /** The latest promise date of a backordered line; null when nothing is backordered any more. */
    promiseDate: z.string().nullable(),
    /** A follow-up for the account's sales owner in the CRM, when the revision needs one. */
    salesTask: z
      .object({ accountCrmId: z.string().nullable(), subject: z.string(), dueOn: z.string().nullable() })
      .optional(),
  }),
  'shipment.milestone.v1': z.object({
    ...orderRef,
    shipmentId: z.string(),
    milestone: ShipmentEventType,
    trackingNumber: z.string().optional(),
    carrier: z.string().optional(),
    /** `exception`: why (see `ShipmentEvent.reason`), so a delay notice can say it. */
    reason: z.string().optional(),
  }),
  /** Stock arrived at a warehouse (on hand grew between two reads of the warehouse's positions). */
  'inventory.received.v1': z.object({
    sku: z.string(),
    warehouseId: z.string(),
    quantity: z.number(),
    onHand: z.number(),
    asOf: z.string(),
  }),
  /**
   * The ERP posted an invoice of the order. The detail fields (kind onwards) were added after
   * the first release: optional, so events already in outboxes still validate.
   */
  'invoice.issued.v1': z.object({
    ...orderRef,
    invoiceId: z.string(),
    number: z.string(),
    amount: z.number(),
    currency: z.string(),
    ...documentDetail,
  }),
  /**
   * The ERP posted a credit memo for the order: what it credits (`creditsInvoiceId`, the hub's
   * invoice id) and, for a return, which (`returnId`). `amount` is positive: what it takes off.
   */
  'credit_memo.issued.v1': z.object({
    ...orderRef,
    invoiceId: z.string(),
    number: z.string(),
    amount: z.number(),
    currency: z.string(),
    ...documentDetail,
    creditsInvoiceId: z.string().nullable(),
    returnId: z.string().nullable(),
  }),
  /** A return (RMA) was asked for (CRM case or API); the hub asks the ERP to authorize it. */
  'return.requested.v1': z.object({ ...orderRef, ...returnRef }),
  /** The ERP authorized the return: the customer may send the goods back with `rmaNumber`. */
  'return.authorized.v1': z.object({ ...orderRef, ...returnRef, rmaNumber: z.string() }),
  /** The warehouse received the goods and inspected them (per line: accepted, rejected, why). */
  'return.received.v1': z.object({ ...orderRef, ...returnRef }),
  /** The ERP credited the accepted goods (the credit memo's own event is `credit_memo.issued.v1`). */
  'return.credited.v1': z.object({
    ...orderRef,
    ...returnRef,
    creditMemoId: z.string(),
    creditAmount: z.number(),
    currency: z.string(),
  }),
  /** Refused by the ERP, or nothing was accepted at inspection: `code` and `detail` say why. */
  'return.rejected.v1': z.object({ ...orderRef, ...returnRef, code: z.string(), detail: z.string() }),
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

/**
 * Inbound webhooks: what each source system may tell the hub, in its own terms.
 *
 * Why a catalogue of its own rather than the outbound one: an outbound event is the hub's
 * decision (it carries the hub's `state` and `customerStatus`), and accepting one from outside
 * let a sender forge the hub's effects (a second WMS release and customer confirmation from a
 * replayed `order.accepted.v1`). A WMS, TMS or ERP reports facts about the fulfillment of an
 * order the hub owns; the hub applies them through its own state machine and publishes its own
 * events. So the allow-list per source is exactly the keys below: a type that is not there (any
 * `order.*` above all) is refused, whoever signs it.
 *
 * Every inbound body is a CloudEvents 1.0 envelope whose `subject` is the hub's order id. Its
 * `source` is never trusted: the route that received it names the sender.
 */
const inboundText = (max: number) => z.string().min(1).max(max);
const inboundLines = z
  .array(z.object({ sku: inboundText(100), quantity: z.number().finite().nonnegative() }))
  .max(1000);
const inboundAt = z.iso.datetime({ offset: true });

/** Warehouse milestones a WMS may report (ShipmentEventType less the carrier's). */
export const wmsInboundMilestones = [
  'allocated',
  'backordered',
  'released',
  'picked',
  'packed',
  'shipped',
] as const;
/** Carrier milestones a TMS may report. */
export const tmsInboundMilestones = ['in_transit', 'out_for_delivery', 'delivered', 'exception'] as const;

/** The inbound catalogue: per source, the CloudEvent types it may send and their data schemas. */
export const inboundCatalogue = {
  crm: {
    /**
     * A user asked the CRM to cancel the order (the subject): until shipment the whole order,
     * after a partial shipment its unshipped remainder. The hub records the request at once and
     * carries it out behind (ERP, warehouse, reservations); what it cannot do (shipped, invoiced)
     * stays an exception for customer service.
     */
    'crm.order_cancel_requested.v1': z.object({
      /** Why, as a short code (`customer_request`, `duplicate`, `pricing`, …). */
      reason: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a lower-case code such as customer_request'),
      note: z.string().max(2000).optional(),
      /** Who asked, as the CRM names them (a user name or id). */
      requestedBy: inboundText(200).optional(),
      at: inboundAt.optional(),
    }),
    /**
     * A customer asked, in a CRM case, to send goods of the order (the subject) back. The case id
     * is the request's identity: a second request with the same case is the same return.
     */
    'crm.return_requested.v1': z.object({
      caseId: inboundText(100),
      lines: z
        .array(
          z.object({
            sku: inboundText(64),
            quantity: z.number().finite().positive().max(1_000_000),
            reason: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a lower-case code such as damaged'),
          }),
        )
        .min(1)
        .max(500),
      note: z.string().max(2000).optional(),
      requestedBy: inboundText(200).optional(),
      at: inboundAt.optional(),
    }),
  },
  wms: {
    /** A warehouse milestone of a warehouse order (the hub's shipment id for WMS shipments). */
    'wms.milestone.v1': z.object({
      /** Names the milestone itself: the same on every re-send (recorded once on the shipment). */
      milestoneId: inboundText(200),
      shipmentId: inboundText(200),
      warehouseId: inboundText(100),
      milestone: z.enum(wmsInboundMilestones),
      /** When it happened; the envelope's `time` when absent. */
      at: inboundAt.optional(),
      detail: z.string().max(2000).optional(),
      /** `allocated`: quantity allocated per SKU (0 when none could be); otherwise the lines. */
      lines: inboundLines.optional(),
    }),
  },
  tms: {
    /** A carrier scan of a booked shipment. */
    'tms.milestone.v1': z.object({
      milestoneId: inboundText(200),
      shipmentId: inboundText(200),
      carrier: inboundText(100),
      trackingNumber: inboundText(200),
      milestone: z.enum(tmsInboundMilestones),
      at: inboundAt.optional(),
      warehouseId: inboundText(100).optional(),
      location: z.string().max(500).optional(),
      detail: z.string().max(2000).optional(),
      /** `exception`: why, as a short code (`return_to_sender`, `failure`, the carrier's own). */
      reason: inboundText(100).optional(),
    }),
  },
  erp: {
    /** A delivery record of the ERP sales order changed state. */
    'erp.shipment.v1': z.object({
      erpOrderId: inboundText(200),
      shipmentId: inboundText(200),
      status: z.enum(['waiting', 'assigned', 'picked', 'packed', 'done', 'cancelled']),
      at: inboundAt.optional(),
      warehouseId: inboundText(100).optional(),
      lines: inboundLines.optional(),
    }),
    /** An invoice of the ERP sales order was posted or paid. */
    'erp.invoice.v1': z.object({
      erpOrderId: inboundText(200),
      invoiceId: inboundText(200),
      status: z.enum(['posted', 'paid']),
      at: inboundAt.optional(),
      number: inboundText(100).optional(),
      amount: z.number().finite().optional(),
      currency: z.string().length(3).optional(),
    }),
  },
} as const;

/** A system that may post webhooks (`POST /api/v1/webhooks/<source>`). */
export type InboundSource = keyof typeof inboundCatalogue;
export const inboundSources = Object.keys(inboundCatalogue) as InboundSource[];
/** Every inbound type, across sources. */
export type InboundType = {
  [S in InboundSource]: keyof (typeof inboundCatalogue)[S];
}[InboundSource];
/** The data of one inbound type. */
export type InboundData<T extends InboundType> = z.infer<
  {
    [S in InboundSource]: T extends keyof (typeof inboundCatalogue)[S]
      ? (typeof inboundCatalogue)[S][T]
      : never;
  }[InboundSource]
>;

/** A verified, allowed inbound event: the envelope with its type narrowed and data validated. */
export type InboundEvent = {
  [S in InboundSource]: {
    [T in keyof (typeof inboundCatalogue)[S] & string]: Omit<CloudEvent, 'type' | 'data'> & {
      sender: S;
      type: T;
      data: InboundData<T & InboundType>;
    };
  }[keyof (typeof inboundCatalogue)[S] & string];
}[InboundSource];

/** Whether `source` is a system that may post webhooks. */
export function isInboundSource(source: string): source is InboundSource {
  return Object.hasOwn(inboundCatalogue, source);
}

/** The types a source may send (its allow-list); empty for an unknown source. */
export function inboundTypesFor(source: string): string[] {
  return isInboundSource(source) ? Object.keys(inboundCatalogue[source]) : [];
}

/** The CloudEvents `source` the hub records for a webhook received on `/webhooks/<source>`. */
export function inboundEventSource(source: string): string {
  return `urn:${source}`;
}

/**
 * Checks an inbound event against its source's allow-list and schema, and returns it typed with
 * `source` replaced by the route's. Refusals are `data_quality` with `details.reason`
 * (`type_not_allowed` | `schema`) and `details.field` naming the first offending field
 * (`type`, `data.milestone`), so the HTTP layer answers a 422 that names it.
 */
export function validateInboundEvent(source: string, envelope: CloudEvent): InboundEvent {
  const allowed = inboundTypesFor(source);
  if (!allowed.includes(envelope.type)) {
    throw CrossdockError.dataQuality(`${source} may not send events of type ${envelope.type}`, {
      owner: 'integration',
      details: { reason: 'type_not_allowed', field: 'type', type: envelope.type, allowed },
    });
  }
  const schemas = inboundCatalogue[source as InboundSource] as Record<string, z.ZodType>;
  const result = schemas[envelope.type]!.safeParse(envelope.data);
  if (!result.success) {
    // At most 20 issues: the refusal is stored, and a 1,000-line body can have thousands.
    const issues = result.error.issues.slice(0, 20).map((i) => ({
      path: ['data', ...i.path.map(String)].join('.'),
      message: i.message,
    }));
    throw CrossdockError.dataQuality(
      `event data does not match ${envelope.type}: ${issues[0]?.path} ${issues[0]?.message}`,
      { details: { reason: 'schema', field: issues[0]?.path ?? 'data', type: envelope.type, issues } },
    );
  }
  return {
    ...envelope,
    source: inboundEventSource(source),
    sender: source,
    data: result.data,
  } as InboundEvent;
}
