/**
 * W3C Trace Context (`traceparent`) for every request.
 *
 * Why: one trace id follows an order from the CRM's call through the hub's logs, outbox
 * events and outbound calls. A valid incoming `traceparent` is continued (same trace id, a new
 * span id for our server span); anything else starts a new trace. The trace id is also the
 * request's log correlation id (`genReqId`), so logs and traces join on one value, and the
 * response always carries our `traceparent` — errors, 401s, 404s and 429s included.
 *
 * Cost: ids come from the pre-filled random pool of `domain/random.ts` instead of a syscall
 * per request; parsing is one length check and a few char-code loops, no regex.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { randomHex } from '../../domain/random.js';

export { randomHex };

/** The trace context of one request, as exposed on `request.trace`. */
export interface TraceContext {
  /** 32 lowercase hex chars; also the request's correlation id (`request.id`). */
  traceId: string;
  /** 16 lowercase hex chars: the hub's span for this request. */
  spanId: string;
  /** The caller's span id when the trace was continued, else `null`. */
  parentSpanId: string | null;
  /** Trace flags (2 hex chars); `01` = sampled. */
  flags: string;
  /** `00-<traceId>-<spanId>-<flags>`: what to send downstream and what the response carries. */
  traceparent: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the `traceContext` hook on every request, before any other hook. */
    trace: TraceContext;
  }
}

/** A parsed, valid incoming `traceparent`. */
export interface ParsedTraceparent {
  version: string;
  traceId: string;
  parentId: string;
  flags: string;
}

function isLowerHex(s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

function isAllZero(s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (s.charCodeAt(i) !== 48) return false;
  return true;
}

/**
 * Parses a `traceparent` header per W3C Trace Context level 1: version `ff` is invalid,
 * version `00` must be exactly 55 chars, later versions may append `-…` fields; ids must be
 * lowercase hex and not all zero. Returns `null` for anything invalid.
 */
export function parseTraceparent(header: string | undefined): ParsedTraceparent | null {
  if (header === undefined || header.length < 55) return null;
  const h = header.trim();
  if (h.length < 55) return null;
  if (h[2] !== '-' || h[35] !== '-' || h[52] !== '-') return null;
  if (!isLowerHex(h, 0, 2) || !isLowerHex(h, 3, 35) || !isLowerHex(h, 36, 52) || !isLowerHex(h, 53, 55)) {
    return null;
  }
  const version = h.slice(0, 2);
  if (version === 'ff') return null;
  if (version === '00' && h.length !== 55) return null;
  if (h.length > 55 && h[55] !== '-') return null;
  if (isAllZero(h, 3, 35) || isAllZero(h, 36, 52)) return null;
  return { version, traceId: h.slice(3, 35), parentId: h.slice(36, 52), flags: h.slice(53, 55) };
}

/** Continues a valid incoming `traceparent` or starts a new trace (flags `01`). */
export function createTraceContext(incoming: string | undefined): TraceContext {
  const parsed = parseTraceparent(incoming);
  const spanId = randomHex(8);
  if (parsed !== null) {
    // We only speak version 00: continue the ids and flags, downgrade the version.
    return {
      traceId: parsed.traceId,
      spanId,
      parentSpanId: parsed.parentId,
      flags: parsed.flags,
      traceparent: `00-${parsed.traceId}-${spanId}-${parsed.flags}`,
    };
  }
  const traceId = randomHex(16);
  return { traceId, spanId, parentSpanId: null, flags: '01', traceparent: `00-${traceId}-${spanId}-01` };
}

const kTrace = Symbol('crossdock.trace');
type RawWithTrace = IncomingMessage & { [kTrace]?: TraceContext };

function headerValue(raw: IncomingMessage): string | undefined {
  const v = raw.headers.traceparent;
  return Array.isArray(v) ? undefined : v;
}

/**
 * A Fastify `genReqId`: computes the trace context from the raw request and returns its trace
 * id, so `request.id` — and Fastify's child logger (`requestIdLogLabel: 'correlationId'`) —
 * carry the trace id on every log line without a per-request child logger. The context is
 * parked on the raw request for the `traceContext` hook to pick up.
 */
export function traceGenReqId() {
  return function traceRequestId(raw: IncomingMessage): string {
    const trace = createTraceContext(headerValue(raw));
    (raw as RawWithTrace)[kTrace] = trace;
    return trace.traceId;
  };
}

/** Options of {@link traceContext}. */
export interface TraceContextOptions {
  /** Response header name; `traceparent` unless a proxy needs another. */
  responseHeader?: string;
}

/**
 * The `onRequest` hook that sets `request.trace` and the response `traceparent`. Register it
 * first, so every later hook (auth, rate limit) and every error answer already carries the
 * trace. Works without `traceGenReqId` too, but then log lines carry Fastify's own request id
 * unless the hook binds `correlationId` itself — which it does, at the cost of a child logger.
 */
export function traceContext(options: TraceContextOptions = {}) {
  const headerName = options.responseHeader ?? 'traceparent';
  return function traceContextHook(
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ) {
    const raw = request.raw as RawWithTrace;
    let trace = raw[kTrace];
    if (trace === undefined) {
      trace = createTraceContext(headerValue(raw));
      request.log = request.log.child({ correlationId: trace.traceId });
    }
    request.trace = trace;
    reply.header(headerName, trace.traceparent);
    done();
  };
}
