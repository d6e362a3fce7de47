/**
 * Building CloudEvents from the versioned catalogue.
 *
 * Why a factory instead of object literals at each call site: the outbox is a public contract
 * (every subscriber, every replay reads it), so an event whose `data` does not match its
 * catalogue schema must be refused where it is made, inside the transaction that would have
 * committed it, not discovered by a CRM weeks later.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  type CloudEvent,
  CrossdockError,
  type EventData,
  type EventType,
  eventCatalogue,
  isEventType,
} from '../domain/index.js';

/** Where events made by the hub say they come from (CloudEvents `source`). */
export const hubEventSource = 'urn:crossdock:hub';

/** Options of {@link makeEvent}; all optional so tests and workflows pass only what they know. */
export interface MakeEventOptions {
  /** W3C trace context of the request or step that caused the event; a new root when absent. */
  traceparent?: string;
  /** CloudEvents `source`; defaults to {@link hubEventSource}. */
  source?: string;
  /** Event time; pass the injected Clock's `now()` so tests are deterministic. */
  now?: Date;
  /** Event id; a random UUID by default. Give one when the id must be derived (inbound mapping). */
  id?: string;
}

const traceparentPattern = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** A fresh W3C `traceparent` (version 00, sampled) for events with no causing request. */
export function newTraceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

/** Whether a string is a syntactically valid W3C `traceparent` (all-zero ids are invalid). */
export function isTraceparent(value: string): boolean {
  if (!traceparentPattern.test(value)) return false;
  const [, traceId, spanId] = value.split('-');
  return !/^0+$/.test(traceId ?? '') && !/^0+$/.test(spanId ?? '');
}

/**
 * Validates `data` against `type`'s catalogue schema and wraps it in a CloudEvents 1.0 envelope.
 * Throws a `data_quality` CrossdockError naming the offending fields when it does not match.
 */
export function makeEvent<T extends EventType>(
  type: T,
  subject: string,
  data: EventData<T>,
  options: MakeEventOptions = {},
): CloudEvent {
  const parsed = validateEventData(type, data);
  const traceparent =
    options.traceparent !== undefined && isTraceparent(options.traceparent)
      ? options.traceparent
      : newTraceparent();
  return {
    specversion: '1.0',
    id: options.id ?? randomUUID(),
    source: options.source ?? hubEventSource,
    type,
    time: (options.now ?? new Date()).toISOString(),
    subject,
    datacontenttype: 'application/json',
    traceparent,
    data: parsed,
  };
}

/**
 * Validates an event payload of a (possibly untrusted) type against the catalogue; used by the
 * factory and by inbound webhook parsing. Unknown type or schema failure → `data_quality`.
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
