/**
 * The operations API: delivery state per destination, replay, the exception queue (dead
 * letters and refused inbound messages, each with an owner), and signed inbound webhooks
 * (applied by the fulfillment workflow, never forwarded; see `registerWebhookRoute`).
 * Every operator action is audit-logged with the API client that made it.
 */
import type { FastifyInstance } from 'fastify';
import { Counter } from 'prom-client';
import { z } from 'zod';
import { CrossdockError, errorKinds, inboundSources, isInboundSource } from '../../domain/index.js';
import {
  type Dispatcher,
  discardDeadLetter,
  type InboundDeps,
  listDeadLetters,
  RefusalLimiter,
  type RefusalLimitOptions,
  type ReplayResult,
  receiveWebhook,
  replaySubscription,
  resolveDeadLetter,
  retryDeadLetters,
} from '../../events/index.js';
import type { CarrierWebhookPort, Clock, Store } from '../../ports/index.js';
import { applyWebhook, receiveCarrierWebhook } from '../../workflows/fulfillment/index.js';
import { type HttpMetrics, requirePrincipal, requireScope, requireScopeFor } from '../middleware/index.js';
import { httpProblem, ProblemError, problemTypes } from '../problem.js';

export interface OpsRoutesDeps {
  store: Store;
  clock: Clock;
  dispatcher: Dispatcher | null;
  /** Shared HMAC secrets per inbound source (`crm`, `wms`, `tms`, `erp`). */
  webhookSecrets: Record<string, string | string[]>;
  /** Where `crossdock_webhook_refusals_total{source,reason}` is registered; none without it. */
  metrics?: HttpMetrics;
  /** Refused webhooks written to the exception queue per source (default 1/s, burst 10). */
  webhookRefusalLimit?: RefusalLimitOptions;
  /**
   * Carriers posting their own webhooks (`POST /api/v1/webhooks/carriers/<name>`), by name; each
   * one's secret is `webhookSecrets[<name>]`.
   */
  carrierWebhooks?: Record<string, CarrierWebhookPort>;
}

const ExceptionQuery = z.object({
  status: z.enum(['open', 'retried', 'resolved', 'discarded']).optional(),
  kind: z.enum(errorKinds).optional(),
  owner: z.string().min(1).optional(),
  subscription: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const Id = z.object({ id: z.string().min(1).max(128) });
const Note = z.object({ note: z.string().min(1).max(2000) });
const OptionalNote = z.object({ note: z.string().min(1).max(2000).optional() }).default({});
const ReplayBody = z.object({
  from: z.string().min(1),
  to: z.iso.datetime({ offset: true }).optional(),
  dryRun: z.boolean().default(false),
  force: z.boolean().default(false),
});

const actorOf = (request: Parameters<typeof requirePrincipal>[0]) => {
  const p = requirePrincipal(request);
  return `api-key:${p.keyId}`;
};

function outcome<T extends { ok: boolean; error?: string }>(r: T): T {
  if (r.ok) return r;
  const message = r.error ?? 'failed';
  const status = /not found|unknown exception/i.test(message) ? 404 : 409;
  throw new ProblemError(
    httpProblem(status, message, status === 404 ? problemTypes.notFound : problemTypes.conflict),
  );
}

export function registerOpsRoutes(app: FastifyInstance, deps: OpsRoutesDeps): void {
  app.get('/api/v1/subscriptions', { onRequest: requireScope('ops:read') }, async () => {
    if (deps.dispatcher) return { items: await deps.dispatcher.status() };
    const stats = await deps.store.subscriptionStats();
    return { items: stats.map((s) => ({ ...s, breaker: null, note: 'no dispatcher in this process' })) };
  });

  app.post(
    '/api/v1/subscriptions/:name/replay',
    { onRequest: requireScope('ops:write') },
    async (request): Promise<ReplayResult> => {
      const { name } = z.object({ name: z.string().min(1) }).parse(request.params);
      const body = ReplayBody.parse(request.body ?? {});
      const subs = await deps.store.listSubscriptions();
      if (!subs.some((s) => s.name === name))
        throw new ProblemError(httpProblem(404, `subscription ${name} not found`, problemTypes.notFound));
      return replaySubscription(
        { store: deps.store, clock: deps.clock, ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}) },
        {
          subscription: name,
          from: body.from,
          ...(body.to ? { to: body.to } : {}),
          dryRun: body.dryRun,
          force: body.force,
          actor: actorOf(request),
        },
      );
    },
  );

  app.get('/api/v1/exceptions', { onRequest: requireScope('ops:read') }, async (request) => {
    const q = ExceptionQuery.parse(request.query);
    const { status, ...rest } = q;
    const items = await listDeadLetters({ store: deps.store }, { ...rest, ...(status ? { status } : {}) });
    return { items };
  });

  app.post('/api/v1/exceptions/:id/retry', { onRequest: requireScope('ops:write') }, async (request) => {
    const { id } = Id.parse(request.params);
    const { note } = OptionalNote.parse(request.body ?? {});
    const [r] = await retryDeadLetters(
      { store: deps.store, clock: deps.clock },
      [id],
      actorOf(request),
      note,
    );
    deps.dispatcher?.notify();
    return outcome(r!);
  });

  app.post('/api/v1/exceptions/:id/resolve', { onRequest: requireScope('ops:write') }, async (request) => {
    const { id } = Id.parse(request.params);
    const { note } = Note.parse(request.body ?? {});
    return outcome(
      await resolveDeadLetter({ store: deps.store, clock: deps.clock }, id, actorOf(request), note),
    );
  });

  app.post('/api/v1/exceptions/:id/discard', { onRequest: requireScope('ops:write') }, async (request) => {
    const { id } = Id.parse(request.params);
    const { note } = OptionalNote.parse(request.body ?? {});
    return outcome(
      await discardDeadLetter({ store: deps.store, clock: deps.clock }, id, actorOf(request), note),
    );
  });

  registerWebhookRoute(app, deps);
}

/**
 * `POST /api/v1/webhooks/:source`: a signed fact from the WMS, TMS, ERP or CRM (see
 * `receiveWebhook`), applied by the fulfillment workflow (`applyWebhook`) and never forwarded
 * as is. A sender's key needs `webhooks:<source>` for the source in the path (admin passes);
 * `orders:write` does not let a client post as a warehouse.
 *
 * Answers: 202 applied, 200 duplicate; 401 bad signature; 422 refused (the field named); 429
 * past the per-source refusal rate (nothing written); 503 + Retry-After while the order is
 * still being decided; 404 for a source that is not one.
 */
function registerWebhookRoute(app: FastifyInstance, deps: OpsRoutesDeps): void {
  // An unknown source still needs a key; admin then learns it is not a source (404).
  const scopeHook = requireScopeFor('webhooks:<source>', (params) => {
    const source = params['source'] ?? '';
    return isInboundSource(source) ? `webhooks:${source}` : 'admin';
  });
  const refusals = new RefusalLimiter(deps.clock, deps.webhookRefusalLimit ?? {});
  const refusalCounter = deps.metrics
    ? new Counter<'source' | 'reason'>({
        name: 'crossdock_webhook_refusals_total',
        help: 'Inbound webhooks refused, by source and reason (rate-limited refusals included).',
        labelNames: ['source', 'reason'],
        registers: [deps.metrics.registry],
      })
    : null;
  const inbound: Omit<InboundDeps, 'apply'> = {
    store: deps.store,
    clock: deps.clock,
    secrets: deps.webhookSecrets,
    refusals,
    onRefusal: (source, reason) => refusalCounter?.inc({ source, reason }),
  };
  const apply: InboundDeps['apply'] = (event, record) =>
    applyWebhook({ store: deps.store, clock: deps.clock }, event, record);

  // Inbound webhooks need the exact bytes for the HMAC: an encapsulated context parses raw.
  app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    raw.post('/api/v1/webhooks/:source', { onRequest: scopeHook }, async (request, reply) => {
      const source = (request.params as { source: string }).source;
      if (!isInboundSource(source)) {
        throw new ProblemError(
          httpProblem(
            404,
            `${source} is not a webhook source (one of ${inboundSources.join(', ')}).`,
            problemTypes.notFound,
          ),
        );
      }
      const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      try {
        const r = await receiveWebhook({ ...inbound, apply }, { source, rawBody, headers: request.headers });
        if (r.status === 'accepted') deps.dispatcher?.notify();
        return reply
          .code(r.status === 'accepted' ? 202 : 200)
          .send({ status: r.status, eventId: r.event.id });
      } catch (err) {
        throw webhookProblem(err);
      }
    });
    // A carrier's own body and signature (EasyPost tracker updates), found by tracking number:
    // 202 applied/recorded, 200 unchanged/duplicate/ignored/unknown_tracking_number (kept as an
    // exception), 401 signature, 404 no such carrier, 422 malformed (kept with its raw body).
    const carrierScope = requireScope('webhooks:tms');
    raw.post('/api/v1/webhooks/carriers/:carrier', { onRequest: carrierScope }, async (request, reply) => {
      const carrier = (request.params as { carrier: string }).carrier;
      const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      try {
        const r = await receiveCarrierWebhook(
          {
            store: deps.store,
            clock: deps.clock,
            carriers: deps.carrierWebhooks ?? {},
            secrets: deps.webhookSecrets,
          },
          { carrier, rawBody, headers: request.headers },
        );
        const committed = r.status === 'applied' || r.status === 'recorded';
        if (committed) deps.dispatcher?.notify();
        return reply.code(committed ? 202 : 200).send(r);
      } catch (err) {
        if (err instanceof CrossdockError && err.code === 'unknown_source') {
          throw new ProblemError(httpProblem(404, err.message, problemTypes.notFound));
        }
        throw webhookProblem(err);
      }
    });
  });
}

/** The HTTP answer of a refused webhook: 401 for a signature, 429 past the refusal rate. */
function webhookProblem(err: unknown): unknown {
  if (!(err instanceof CrossdockError)) return err;
  const reason = err.code;
  if (err.kind === 'data_quality' && reason.startsWith('signature')) {
    return new ProblemError({
      ...httpProblem(401, err.message, problemTypes.unauthorized),
      kind: err.kind,
      reason,
    });
  }
  if (reason === 'rate_limited') {
    const seconds = Math.max(1, Math.ceil((err.retryAfterMs ?? 1000) / 1000));
    return new ProblemError(
      {
        ...httpProblem(429, `${err.message} (in ${seconds} s).`, problemTypes.rateLimited),
        kind: err.kind,
        retryable: true,
      },
      { 'retry-after': String(seconds) },
    );
  }
  return err;
}
