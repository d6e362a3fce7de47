/**
 * Building CloudEvents from the versioned catalogue.
 *
 * Why a factory instead of object literals at each call site: the outbox is a public contract
 * (every subscriber, every replay reads it), so an event whose `data` does not match its
 * catalogue schema must be refused where it is made, inside the transaction that would have
 * committed it, not discovered by a CRM weeks later.
 */
import {
  type CloudEvent,
  type EventData,
  type EventType,
  hubEventSource,
  isTraceparent,
  newEvent,
  newTraceparent,
  validateEventData,
} from '../domain/index.js';

export { hubEventSource, isTraceparent, newTraceparent, validateEventData };

/** Options of {@link makeEvent}; all optional so tests and handlers pass only what they know. */
export interface MakeEventOptions {
  traceparent?: string;
  source?: string;
  /** Event time; pass the injected Clock's `now()` so tests are deterministic. */
  now?: Date;
  id?: string;
}

/** The domain's `newEvent` with the events layer's option names (one implementation, two callers). */
export function makeEvent<T extends EventType>(
  type: T,
  subject: string,
  data: EventData<T>,
  options: MakeEventOptions = {},
): CloudEvent {
  const { now, ...rest } = options;
  return newEvent(type, subject, data, now ? { ...rest, time: now } : rest);
}
