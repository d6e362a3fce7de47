/**
 * Inbound webhooks from the WMS, the TMS, the ERP (and the CRM): verify, allow-list, parse,
 * apply with durable dedupe, and count what is refused.
 *
 * Why as plain functions over the Store: the HTTP layer mounts them (it owns routing, scopes,
 * raw-body capture and problem+json), and tests call them without a socket. Why an `apply` step
 * and no default: a webhook is a fact in the sender's terms (`wms.milestone.v1`), never one of
 * the hub's own events; appending a received event to the outbox as is let a signed sender
 * forge the hub's effects (a replayed `order.accepted.v1` made a second warehouse release and
 * a second customer confirmation). So each source has an allow-list of types
 * (`inboundCatalogue`), the CloudEvent `source` is the route's (`urn:<source>`), and the
 * workflow that owns the order applies the fact and publishes what the hub decided.
 *
 * Dedupe is durable and atomic: `apply` commits the `(source, event id)` record in the same
 * unit as the state the event causes, so a redelivery after a crash finds both or neither.
 *
 * A refused message is never silently dropped, and never costs a write per request either: it
 * is counted on ONE open exception per (source, reason) (`inbound:<source>:<reason>`, coalesced:
 * attempts add up, the latest payload's ids and size are kept), and those writes are
 * rate-limited per source by a token bucket. Past it the refusal is answered `rate_limited`
 * (429) and only counted in memory; the count is added to the next write for that cause. A
 * restart forgets the in-memory part: the exception's `attempts` is a lower bound, the
 * `onRefusal` hook (the Prometheus counter) sees every refusal.
 */
import {
  CloudEvent,
  CrossdockError,
  type InboundEvent,
  inboundEventSource,
  type Owner,
  TokenBucket,
  validateInboundEvent,
} from '../domain/index.js';
import type { Clock, CommitResult, Store } from '../ports/index.js';
import { type SignatureFailure, signatureHeader, verifyWebhookSignature } from './webhook-signature.js';

/** Why a webhook was refused; a fixed set, so metrics and exception ids stay bounded. */
export type InboundRefusalReason =
  | 'unknown_source'
  | `signature_${SignatureFailure}`
  | 'invalid_json'
  | 'invalid_envelope'
  | 'type_not_allowed'
  | 'schema'
  | 'unknown_order';

/** What {@link receiveWebhook} needs. */
export interface InboundDeps {
  store: Store;
  clock: Clock;
  /** Shared secret(s) per source system (`wms`, `tms`, `erp`, `crm`); several while rotating. */
  secrets: Readonly<Record<string, string | readonly string[]>>;
  /** Signature timestamp tolerance, seconds (default 300). */
  toleranceSec?: number;
  /**
   * Applies a verified, allowed event: commits the state change it causes together with
   * `inbound` (the dedupe record) and returns the store's answer (`duplicate` when the record
   * was there). The commit is the apply step's because applying one means reading the order,
   * planning and retrying on a version conflict. Throw a `data_quality` CrossdockError with a
   * `details.reason` of {@link InboundRefusalReason} to refuse (counted like any refusal); any
   * other error (a retryable `transient`) reaches the caller as is and records nothing.
   */
  apply: (event: InboundEvent, inbound: { source: string; id: string }) => Promise<CommitResult>;
  /** Limits the exception writes of refusals; without one every refusal is written. */
  refusals?: RefusalLimiter;
  /** Called once per refusal (`rateLimited`: answered 429, nothing written). */
  onRefusal?: (source: string, reason: InboundRefusalReason, rateLimited: boolean) => void;
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
  | { status: 'accepted'; event: InboundEvent; eventSeqs: number[] }
  | { status: 'duplicate'; event: InboundEvent };

/** Settings of {@link RefusalLimiter}. */
export interface RefusalLimitOptions {
  /** Refusals written per second per source, sustained. Default 1. */
  perSecond?: number;
  /** Refusals written back-to-back per source. Default 10. */
  burst?: number;
}

/**
 * How many refusals per source may be written to the store: a token bucket per source (in
 * memory; sources are the route's fixed set) and the refusals counted but not yet written, per
 * (source, reason).
 */
export class RefusalLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly unwritten = new Map<string, number>();
  private readonly perSecond: number;
  private readonly burst: number;

  constructor(
    private readonly clock: Clock,
    options: RefusalLimitOptions = {},
  ) {
    this.perSecond = options.perSecond ?? 1;
    this.burst = options.burst ?? 10;
  }

  /**
   * Takes a write for a refusal of `source` for `reason`: the attempts to write (this one and
   * those counted since the last write) and 0, or 0 attempts and the ms until a write is due.
   */
  take(source: string, reason: string): { attempts: number; retryAfterMs: number } {
    let bucket = this.buckets.get(source);
    if (!bucket) {
      bucket = new TokenBucket(this.clock, { perSecond: this.perSecond, burst: this.burst });
      this.buckets.set(source, bucket);
    }
    const key = `${source}:${reason}`;
    const waitMs = bucket.take();
    if (waitMs > 0) {
      this.unwritten.set(key, (this.unwritten.get(key) ?? 0) + 1);
      return { attempts: 0, retryAfterMs: waitMs };
    }
    const attempts = 1 + (this.unwritten.get(key) ?? 0);
    this.unwritten.delete(key);
    return { attempts, retryAfterMs: 0 };
  }

  /** Gives back attempts whose write failed, so the next write carries them. */
  giveBack(source: string, reason: string, attempts: number): void {
    const key = `${source}:${reason}`;
    this.unwritten.set(key, (this.unwritten.get(key) ?? 0) + attempts);
  }
}

/** The id of the one open exception that counts refusals of a source for a reason. */
export function refusalExceptionId(source: string, reason: InboundRefusalReason): string {
  return `inbound:${source}:${reason}`;
}

/**
 * Parses a structured-mode CloudEvent (JSON) and checks it against the source's allow-list and
 * inbound schema (`validateInboundEvent`); the returned event's `source` is the route's.
 * Throws `data_quality` (`details.reason`: `invalid_json`, `invalid_envelope`,
 * `type_not_allowed`, `schema`; `details.field` names the first offending field).
 */
export function parseInboundEvent(source: string, rawBody: string | Buffer): InboundEvent {
  let json: unknown;
  try {
    json = JSON.parse(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'));
  } catch {
    throw CrossdockError.dataQuality('inbound body is not JSON', {
      details: { reason: 'invalid_json', field: '(root)' },
    });
  }
  const envelope = CloudEvent.safeParse(json);
  if (!envelope.success) {
    const issues = envelope.error.issues
      .slice(0, 20)
      .map((i) => ({ path: i.path.join('.'), message: i.message }));
    throw CrossdockError.dataQuality(
      `inbound body is not a CloudEvents 1.0 event: ${issues[0]?.path || '(root)'} ${issues[0]?.message}`,
      { details: { reason: 'invalid_envelope', field: issues[0]?.path || '(root)', issues } },
    );
  }
  return validateInboundEvent(source, envelope.data);
}

/**
 * Verifies the signature, allow-lists and validates the event, and applies it with durable
 * dedupe by `(source, event id)`. A refusal is counted (see the file comment) and thrown as a
 * `data_quality` error, or as a `transient` one with `details.reason = 'rate_limited'` and
 * `retryAfterMs` when the source is past its refusal rate.
 */
export async function receiveWebhook(deps: InboundDeps, request: InboundRequest): Promise<InboundResult> {
  const now = deps.clock.now();
  const secret = deps.secrets[request.source];
  if (secret === undefined) {
    await refuse(
      deps,
      request,
      CrossdockError.dataQuality(`no webhook secret configured for ${request.source}`, {
        details: { reason: 'unknown_source' },
      }),
    );
  }
  const headerValue = request.headers[signatureHeader];
  const header = typeof headerValue === 'string' ? headerValue : headerValue?.[0];
  const verdict = verifyWebhookSignature(secret ?? [], request.rawBody, header, {
    now,
    toleranceSec: deps.toleranceSec ?? 300,
  });
  if (!verdict.ok) {
    await refuse(
      deps,
      request,
      CrossdockError.dataQuality('webhook signature refused', {
        details: { reason: `signature_${verdict.reason}`, field: signatureHeader },
      }),
    );
  }
  let event: InboundEvent;
  try {
    event = parseInboundEvent(request.source, request.rawBody);
  } catch (err) {
    return refuse(deps, request, err);
  }
  let result: CommitResult;
  try {
    result = await deps.apply(event, { source: request.source, id: event.id });
  } catch (err) {
    if (err instanceof CrossdockError && err.kind === 'data_quality') return refuse(deps, request, err);
    throw err;
  }
  if (result.status === 'duplicate') return { status: 'duplicate', event };
  return { status: 'accepted', event, eventSeqs: result.eventSeqs };
}

const refusalOwner: Partial<Record<InboundRefusalReason, Owner>> = {
  // A body that does not match its schema is the sender's data; everything else is the wiring.
  schema: 'master_data',
};

async function refuse(deps: InboundDeps, request: InboundRequest, err: unknown): Promise<never> {
  const cause = err instanceof CrossdockError ? err : CrossdockError.dataQuality(String(err));
  const reason = String(cause.details['reason'] ?? 'schema') as InboundRefusalReason;
  const owner = refusalOwner[reason] ?? 'integration';
  const error = CrossdockError.dataQuality(cause.message, {
    owner,
    details: { ...cause.details, reason, source: request.source },
  });
  const take = deps.refusals?.take(request.source, reason) ?? { attempts: 1, retryAfterMs: 0 };
  deps.onRefusal?.(request.source, reason, take.attempts === 0);
  if (take.attempts === 0) {
    throw CrossdockError.transient(`too many refused webhooks from ${request.source}; retry later`, {
      retryAfterMs: take.retryAfterMs,
      details: { reason: 'rate_limited', refused: reason, source: request.source },
    });
  }
  const peek = peekIds(request.rawBody);
  try {
    await deps.store.commit({
      exceptions: [
        {
          id: refusalExceptionId(request.source, reason),
          kind: 'data_quality',
          owner,
          source: `inbound:${request.source}`,
          subscription: null,
          deliveryId: null,
          // One record counts many messages: the latest one's ids are in `error.last`.
          eventId: null,
          orderId: null,
          error: {
            ...error.toJSON(),
            at: deps.clock.now().toISOString(),
            last: { ...peek, eventSource: inboundEventSource(request.source) },
            bytes: Buffer.byteLength(request.rawBody),
          },
          attempts: take.attempts,
          coalesce: true,
        },
      ],
    });
  } catch (writeError) {
    deps.refusals?.giveBack(request.source, reason, take.attempts);
    throw writeError;
  }
  throw error;
}

/**
 * Best-effort ids of a refused body for its exception record (no payload is stored): the
 * sender's event id, type and subject, cut to 200 characters.
 */
function peekIds(rawBody: string | Buffer): {
  id: string | null;
  type: string | null;
  subject: string | null;
} {
  const cut = (v: unknown) => (typeof v === 'string' ? v.slice(0, 200) : null);
  try {
    const json: unknown = JSON.parse(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'));
    if (json && typeof json === 'object') {
      const o = json as Record<string, unknown>;
      return { id: cut(o.id), type: cut(o.type), subject: cut(o.subject) };
    }
  } catch {
    // an unparseable body has no ids; the exception still records source, reason and size
  }
  return { id: null, type: null, subject: null };
}
