/**
 * The operations API: delivery state per destination, replay, the exception queue (dead
 * letters and refused inbound messages, each with an owner), and signed inbound webhooks.
 * Every operator action is audit-logged with the API client that made it.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CrossdockError, errorKinds } from '../../domain/index.js';
import {
  type Dispatcher,
  discardDeadLetter,
  listDeadLetters,
  type ReplayResult,
  receiveWebhook,
  replaySubscription,
  resolveDeadLetter,
  retryDeadLetters,
} from '../../events/index.js';
import type { Clock, Store } from '../../ports/index.js';
import { requirePrincipal, requireScope } from '../middleware/index.js';
import { httpProblem, ProblemError, problemTypes } from '../problem.js';

export interface OpsRoutesDeps {
  store: Store;
  clock: Clock;
  dispatcher: Dispatcher | null;
  /** Shared HMAC secrets per inbound source (`crm`, `wms`, `tms`). */
  webhookSecrets: Record<string, string | string[]>;
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

  // Inbound webhooks need the exact bytes for the HMAC: an encapsulated context parses raw.
  app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    raw.post(
      '/api/v1/webhooks/:source',
      { onRequest: requireScope('orders:write') },
      async (request, reply) => {
        const { source } = z.object({ source: z.enum(['crm', 'wms', 'tms', 'erp']) }).parse(request.params);
        const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        try {
          const r = await receiveWebhook(
            { store: deps.store, clock: deps.clock, secrets: deps.webhookSecrets },
            { source, rawBody, headers: request.headers },
          );
          deps.dispatcher?.notify();
          return reply
            .code(r.status === 'accepted' ? 202 : 200)
            .send({ status: r.status, eventId: r.event.id });
        } catch (err) {
          if (
            err instanceof CrossdockError &&
            err.kind === 'data_quality' &&
            String(err.details['reason'] ?? '').startsWith('signature')
          ) {
            throw new ProblemError({
              ...httpProblem(401, err.message, problemTypes.unauthorized),
              kind: err.kind,
            });
          }
          throw err;
        }
      },
    );
  });
}
