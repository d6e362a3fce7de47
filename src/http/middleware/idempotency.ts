/**
 * `Idempotency-Key` (IETF httpapi draft) for POSTs that create things.
 *
 * Why split between a hook and the route: the record must be written in the SAME store commit
 * as the effect it describes (an order, its journal, its outbox events), or a crash between
 * the two would either lose the replay or replay an effect that never happened. So the hook
 * only decides — replay, refuse, or proceed — and hands the route `request.idempotency`
 * (`scope`, `key`, `requestHash`); the route puts `idempotencyRecord(request, status, body)`
 * into its `CommitUnit.idempotency`. Routes that do not commit through a unit use
 * `saveIdempotentResponse`.
 *
 * Concurrency: a second request with a key whose first request is still running in this
 * process gets 409 at once, without a store query; across processes, the store's unique
 * (scope, key) makes the second commit fail as a `conflict` (409).
 *
 * The request hash covers method, the concrete URL (path and query, not the route pattern:
 * `/exceptions/a/retry` and `/exceptions/b/retry` must not share a key) and the canonical
 * JSON body (object keys sorted), so a re-serialised but equal body still matches.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { toCrossdockError } from '../../domain/index.js';
import type { IdempotencyRecord, Store } from '../../ports/index.js';
import { httpProblem, problemContentType, problemTypes, sendProblem } from '../problem.js';

/** What the hook hands the route when the request is new (not a replay). */
export interface IdempotencyContext {
  /** The client the key belongs to (the API key id; `anonymous` without one). */
  scope: string;
  key: string;
  /** sha256 of method, URL and canonical body. */
  requestHash: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `idempotencyKey` when the request carries a new key; else `null`. */
    idempotency: IdempotencyContext | null;
  }
}

/** Options of {@link idempotencyKey}. */
export interface IdempotencyOptions {
  store: Pick<Store, 'getIdempotency'>;
  /** Methods the header applies to (default `POST`). */
  methods?: readonly string[];
  /**
   * How long an in-flight mark is trusted if its response never completes (client abort).
   * Default 5 minutes.
   */
  inFlightTtlMs?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
  /**
   * When the stored record is read. `before` (default): the hook reads it and replays or refuses
   * before the route runs. `on-conflict`: the hook does not read; the route's commit inserts the
   * record and a used key makes that commit fail as a `conflict` naming the key, after which the
   * route answers with {@link answerFromRecord} (and looks the key up before answering any error
   * of its own, so a repeat never gets an answer the first request did not get). For the hottest
   * create route: a read per request saved, paid for by a wasted decision on a repeat.
   */
  lookup?: 'before' | 'on-conflict';
}

const kRelease = Symbol('crossdock.idempotency.release');
type RequestWithRelease = FastifyRequest & { [kRelease]?: () => void };

/**
 * A container being written by {@link canonicalJson}: an array (`keys` null) or an object and its
 * sorted keys. One class, so the loop sees one shape.
 */
class CanonicalFrame {
  i = 0;
  /** An object frame has written a member (the next one needs a comma). */
  written = false;
  constructor(
    readonly value: object,
    readonly keys: string[] | null,
  ) {}
}

/** Deeper than this, `canonicalJson` gives up: only a cyclic value gets there (no parsed body can). */
const maxCanonicalDepth = 100_000;

/**
 * JSON with object keys sorted at every level: the canonical form hashed for the request, so
 * `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same request.
 *
 * Iterative, with an explicit stack: it runs before the route validates the body, so a recursive
 * walk overflowed the call stack on a deep body (a 500). The JSON parser refuses deep bodies
 * already (json-limits.ts); this holds whatever else reaches it. The output is the same, byte
 * for byte, as the recursive version it replaced (stored request hashes stay valid): `undefined`
 * and function members are left out, `undefined` array items are `null`. A cyclic value, which
 * no parsed body is, is a TypeError once the stack passes 100,000 levels. Measured against the
 * recursive version: 7.5 µs against 10 µs for an order, 3.8 ms against 5.1 ms for 4,000 lines.
 */
export function canonicalJson(value: unknown): string {
  let out = '';
  const stack: CanonicalFrame[] = [];
  let v: unknown = value;
  for (;;) {
    // Write `v`: a primitive at once; a container opens and its frame is pushed.
    if (v === null || typeof v !== 'object') {
      out += JSON.stringify(v) ?? 'null';
    } else if (Array.isArray(v)) {
      out += '[';
      stack.push(new CanonicalFrame(v, null));
    } else {
      out += '{';
      stack.push(new CanonicalFrame(v, Object.keys(v).sort()));
    }
    if (stack.length > maxCanonicalDepth) throw new TypeError('canonicalJson: the value is circular.');
    // Find the next value to write, closing every container that has none left.
    let next = false;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.keys === null) {
        const array = top.value as readonly unknown[];
        if (top.i < array.length) {
          if (top.i > 0) out += ',';
          v = array[top.i++] ?? null;
          next = true;
          break;
        }
        out += ']';
      } else {
        const record = top.value as Record<string, unknown>;
        while (top.i < top.keys.length) {
          const k = top.keys[top.i++]!;
          const member = record[k];
          if (member === undefined || typeof member === 'function') continue;
          out += `${top.written ? ',' : ''}${JSON.stringify(k)}:`;
          top.written = true;
          v = member;
          next = true;
          break;
        }
        if (next) break;
        out += '}';
      }
      stack.pop();
    }
    if (!next) return out;
  }
}

/** The request hash stored with a key: sha256 of method, URL and canonical body. */
export function idempotencyRequestHash(method: string, url: string, body: unknown): string {
  const canonical =
    typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('base64') : canonicalJson(body);
  return createHash('sha256').update(`${method} ${url}\n${canonical}`).digest('hex');
}

/**
 * Validates a raw `Idempotency-Key` header: the draft's sf-string (`"…"`) or a bare token,
 * 1–255 printable ASCII chars. Returns the key or an error message.
 */
export function parseIdempotencyKey(raw: string): { key: string } | { error: string } {
  let key = raw.trim();
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) key = key.slice(1, -1);
  if (key.length < 1 || key.length > 255) return { error: 'must be 1 to 255 characters long' };
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return { error: 'must contain printable ASCII characters only' };
  }
  return { key };
}

function looksLikeProblem(body: unknown): boolean {
  return typeof body === 'object' && body !== null && 'type' in body && 'title' in body && 'status' in body;
}

/**
 * The route-level `preHandler` for create endpoints (it needs the parsed body). With an
 * `Idempotency-Key` header it: answers 400 for a malformed key; 409 while the same key runs
 * in this process; replays the stored status and body with `Idempotency-Replayed: true` when
 * the key was used with the same request; 422 when it was used with another; otherwise marks
 * the key in flight and sets `request.idempotency`. The in-flight mark is cleared by
 * `idempotencyRelease` (installed globally by `registerGovernance`).
 */
export function idempotencyKey(options: IdempotencyOptions) {
  const store = options.store;
  const methods = new Set(options.methods ?? ['POST']);
  const ttl = options.inFlightTtlMs ?? 300_000;
  const now = options.now ?? Date.now;
  const lookup = options.lookup ?? 'before';
  const inFlight = new Map<string, number>();

  return async function idempotencyKeyHook(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> {
    const header = request.headers['idempotency-key'];
    if (header === undefined || !methods.has(request.method)) return undefined;
    const parsed = parseIdempotencyKey(Array.isArray(header) ? header.join(',') : header);
    if ('error' in parsed) {
      const problem = httpProblem(
        400,
        `Idempotency-Key ${parsed.error}.`,
        problemTypes.idempotencyKeyInvalid,
      );
      problem.errors = [{ field: 'Idempotency-Key', message: parsed.error }];
      return sendProblem(reply, problem);
    }
    const key = parsed.key;
    const scope = request.principal?.keyId ?? 'anonymous';
    const slot = `${scope}\u0000${key}`;
    const t = now();
    const busyUntil = inFlight.get(slot);
    if (busyUntil !== undefined && busyUntil > t) {
      reply.header('retry-after', '1');
      return sendProblem(
        reply,
        httpProblem(
          409,
          'A request with this Idempotency-Key is still being processed; retry after it completes.',
          problemTypes.idempotencyInFlight,
        ),
      );
    }
    const mark = t + ttl;
    inFlight.set(slot, mark);
    const release = () => {
      if (inFlight.get(slot) === mark) inFlight.delete(slot);
    };
    (request as RequestWithRelease)[kRelease] = release;

    const requestHash = idempotencyRequestHash(request.method, request.url, request.body);
    if (lookup === 'on-conflict') {
      request.idempotency = { scope, key, requestHash };
      return undefined;
    }
    let record: IdempotencyRecord | null;
    try {
      record = await store.getIdempotency(scope, key);
    } catch (err) {
      release();
      throw toCrossdockError(err);
    }
    if (record === null) {
      request.idempotency = { scope, key, requestHash };
      return undefined;
    }
    release();
    return answerFromRecord(reply, record, requestHash);
  };
}

/**
 * The answer to a request whose key already holds `record`: 422 when the key was used with
 * another request (hash), else the stored status and body with `Idempotency-Replayed: true`.
 */
export function answerFromRecord(
  reply: FastifyReply,
  record: IdempotencyRecord,
  requestHash: string,
): FastifyReply {
  if (record.requestHash !== requestHash) {
    const problem = httpProblem(
      422,
      'This Idempotency-Key was already used with a different request.',
      problemTypes.idempotencyKeyReused,
    );
    problem.errors = [{ field: 'Idempotency-Key', message: 'already used with a different request' }];
    return sendProblem(reply, problem);
  }
  reply.code(record.responseStatus).header('idempotency-replayed', 'true');
  if (record.responseBody === undefined || record.responseBody === null) {
    return reply.send();
  }
  const type =
    record.responseStatus >= 400 && looksLikeProblem(record.responseBody)
      ? problemContentType
      : 'application/json; charset=utf-8';
  return reply.type(type).send(JSON.stringify(record.responseBody));
}

/**
 * The `onResponse` hook clearing a request's in-flight mark once its response is sent. Cheap
 * for requests without a key (one property read).
 */
export function idempotencyRelease() {
  return function idempotencyReleaseHook(
    request: FastifyRequest,
    _reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ) {
    const release = (request as RequestWithRelease)[kRelease];
    if (release !== undefined) release();
    done();
  };
}

/**
 * The record a route puts into `CommitUnit.idempotency` (same transaction as its effect), or
 * `undefined` when the request carried no key — so `{ ...unit, idempotency: idempotencyRecord(…) }`
 * works either way. Store the body exactly as sent (`responseBody` is replayed verbatim).
 */
export function idempotencyRecord(
  request: FastifyRequest,
  responseStatus: number,
  responseBody: unknown,
  now: Date = new Date(),
): IdempotencyRecord | undefined {
  const ctx = request.idempotency;
  if (ctx === null || ctx === undefined) return undefined;
  return {
    scope: ctx.scope,
    key: ctx.key,
    requestHash: ctx.requestHash,
    responseStatus,
    responseBody,
    createdAt: now.toISOString(),
  };
}

/**
 * For routes that do not commit through a unit: stores the response for replay in its own
 * commit. Await it before `reply.send` when a retry must see the replay; a lost record then
 * means the client's retry re-runs the (idempotent-by-other-means) operation.
 */
export async function saveIdempotentResponse(
  store: Pick<Store, 'commit'>,
  request: FastifyRequest,
  responseStatus: number,
  responseBody: unknown,
): Promise<void> {
  const record = idempotencyRecord(request, responseStatus, responseBody);
  if (record === undefined) return;
  await store.commit({ idempotency: record });
}
