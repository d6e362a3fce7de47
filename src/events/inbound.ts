/**
 * Inbound webhooks and events from CRM, WMS and TMS: verify, parse, dedupe, commit.
 *
 * Why as plain functions over the Store: the HTTP layer mounts them (it owns routing, raw-body
 * capture and problem+json), connectors that poll a change feed reuse the same parse + dedupe,
 * and tests call them without a socket. Dedupe is durable and atomic: the `(source, id)`
 * record is written in the same commit as the state the event causes, so a redelivery after a
 * crash either finds both or neither. A message we refuse is never silently dropped: it becomes
 * an exception record (who must fix it, and why) and a typed `data_quality` error the caller
 * answers with (4xx, so the sender does not retry forever a message that cannot succeed).
 */
import { randomUUID } from 'node:crypto';
import { CloudEvent, CrossdockError, type Owner } from '../domain/index.js';
import type { Clock, CommitUnit, Store } from '../ports/index.js';
import { validateEventData } from './event-factory.js';
import { type SignatureFailure, signatureHeader, verifyWebhookSignature } from './webhook-signature.js';

/** What {@link receiveWebhook} needs. */
export interface InboundDeps {
  store: Store;
  clock: Clock;
  /** Shared secret(s) per source system (`crm`, `wms`, `tms`); several while rotating. */
  secrets: Readonly<Record<string, string | readonly string[]>>;
  /** Signature timestamp tolerance, seconds (default 300). */
  toleranceSec?: number;
  /**
   * Turns a verified event into the state change it causes (a workflow's order transition,
   * timeline entries). The returned unit is committed together with the dedupe record. Without
   * it, the event is appended to the outbox as is, so subscriptions see it.
   */
  apply?: (event: CloudEvent, source: string) => CommitUnit | Promise<CommitUnit>;
}

/** One received HTTP request, as the HTTP layer captured it. */
export interface InboundRequest {
  /** The sending system, from the route (`/webhooks/:source`), never from the body. */
  source: string;
  /** The exact bytes received. */
  rawBody: string | Buffer;
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/** Accepted (committed now) or a duplicate of one committed earlier; both answer 2xx. */
export type InboundResult =
  | { status: 'accepted'; event: CloudEvent; eventSeqs: number[] }
  | { status: 'duplicate'; event: CloudEvent };

/**
 * Parses a structured-mode CloudEvent (JSON) and validates its data against the catalogue.
 * Throws `data_quality` for invalid JSON, a bad envelope, an unknown type or a schema failure.
 */
export function parseInboundEvent(rawBody: string | Buffer): CloudEvent {
  let json: unknown;
  try {
    json = JSON.parse(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'));
  } catch {
    throw CrossdockError.dataQuality('inbound body is not JSON', { details: { reason: 'invalid_json' } });
  }
  const envelope = CloudEvent.safeParse(json);
  if (!envelope.success) {
    throw CrossdockError.dataQuality('inbound body is not a CloudEvents 1.0 event', {
      details: {
        reason: 'invalid_envelope',
        issues: envelope.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      },
    });
  }
  const data = validateEventData(envelope.data.type, envelope.data.data);
  return { ...envelope.data, data };
}

/**
 * Verifies the signature, parses and validates the event, and commits it with durable dedupe
 * by `(source, event id)`. On refusal records an exception and throws the `data_quality` error.
 */
export async function receiveWebhook(deps: InboundDeps, request: InboundRequest): Promise<InboundResult> {
  const now = deps.clock.now();
  const secret = deps.secrets[request.source];
  if (secret === undefined) {
    await reject(
      deps,
      request,
      'integration',
      'unknown_source',
      `no webhook secret configured for ${request.source}`,
    );
  }
  const headerValue = request.headers[signatureHeader];
  const header = typeof headerValue === 'string' ? headerValue : headerValue?.[0];
  const verdict = verifyWebhookSignature(secret ?? [], request.rawBody, header, {
    now,
    toleranceSec: deps.toleranceSec ?? 300,
  });
  if (!verdict.ok) {
    await reject(
      deps,
      request,
      'integration',
      `signature_${verdict.reason satisfies SignatureFailure}`,
      'webhook signature refused',
    );
  }
  let event: CloudEvent;
  try {
    event = parseInboundEvent(request.rawBody);
  } catch (err) {
    const e = err instanceof CrossdockError ? err : CrossdockError.dataQuality(String(err));
    return reject(deps, request, 'master_data', String(e.details.reason ?? 'schema'), e.message, e.details);
  }
  const unit: CommitUnit = deps.apply ? await deps.apply(event, request.source) : { events: [event] };
  const result = await deps.store.commit({ ...unit, inbound: { source: request.source, id: event.id } });
  if (result.status === 'duplicate') return { status: 'duplicate', event };
  return { status: 'accepted', event, eventSeqs: result.eventSeqs };
}

async function reject(
  deps: InboundDeps,
  request: InboundRequest,
  owner: Owner,
  reason: string,
  message: string,
  details: Record<string, unknown> = {},
): Promise<never> {
  const error = CrossdockError.dataQuality(message, {
    owner,
    details: { ...details, reason, source: request.source },
  });
  const peek = peekIds(request.rawBody);
  await deps.store.commit({
    exceptions: [
      {
        id: randomUUID(),
        kind: 'data_quality',
        owner,
        source: `inbound:${request.source}`,
        subscription: null,
        deliveryId: null,
        eventId: peek.id,
        orderId: peek.subject,
        error: {
          ...error.toJSON(),
          at: deps.clock.now().toISOString(),
          bytes: Buffer.byteLength(request.rawBody),
        },
        attempts: 1,
      },
    ],
  });
  throw error;
}

/** Best-effort ids for the exception record of a refused body (no payload is stored). */
function peekIds(rawBody: string | Buffer): { id: string | null; subject: string | null } {
  try {
    const json: unknown = JSON.parse(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'));
    if (json && typeof json === 'object') {
      const o = json as Record<string, unknown>;
      return {
        id: typeof o.id === 'string' ? o.id.slice(0, 200) : null,
        subject: typeof o.subject === 'string' ? o.subject.slice(0, 200) : null,
      };
    }
  } catch {
    // an unparseable body has no ids; the exception still records source, reason and size
  }
  return { id: null, subject: null };
}
