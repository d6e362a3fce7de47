/**
 * Working an order after its decision, over the process API:
 * - `POST /api/v1/orders/{id}/holds/{reason}/release` and `…/reject`: the hold's owner approves
 *   the order's open holds of that reason (the order is decided again once none is left) or
 *   rejects the order over them. Only keys with the owner's scope (`holds:credit`,
 *   `holds:pricing`, …; `admin` passes) may.
 * - `POST /api/v1/orders/{id}/cancel` (`orders:write`: the CRM or the client that submitted) and
 *   `…/holds/{reason}/cancel` (the hold's owner, over that open hold): cancels the order until
 *   shipment, or its unshipped remainder after a partial shipment (`reason` code and `note`).
 *   A cancel after full shipment is 409 `shipped`; one the ERP refuses is 409 `erp_refused`
 *   with the ERP's reason; an order still being decided is 503 with Retry-After.
 *
 * Why the scope comes from the hold reason and not from the order: a credit analyst may clear
 * credit holds on any order and nothing else; the reason fixes the owner (`holdOwners`). The
 * checks run cheapest first and before anything is read: an unknown reason is 422 naming
 * `reason`, a key without the owner's scope 403 (so such a key cannot even learn whether an
 * order exists), then an unknown order 404, and a state the action does not fit 409 with a
 * `code` (`not_on_hold`, `no_open_hold`, `lines_invalid`) and the order's `state`. Every refusal
 * writes nothing; every action records who (the key), when and why on the order's timeline and
 * in the audit log, with its event, in one commit. `Idempotency-Key` is honoured: a repeat
 * replays the first answer.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CrossdockError, HoldReason, holdOwners } from '../../domain/index.js';
import type { ActionResult, OrderActor, QuoteToOrder } from '../../workflows/index.js';
import { type ApiScope, type Governance, requireScope, requireScopeFor } from '../middleware/index.js';
import { httpProblem, type Problem, ProblemError, problemTypes } from '../problem.js';

/** What the action routes need (a subset of the order routes' dependencies). */
export interface OrderActionRoutesDeps {
  workflow: QuoteToOrder;
  governance: Governance;
}

const HoldParams = z.object({ id: z.string().min(1).max(64), reason: HoldReason });
/** Why: required, so every action on the timeline and in the audit log says why it was taken. */
export const ActionNote = z.object({ note: z.string().trim().min(1).max(2000) });
const IdParams = z.object({ id: z.string().min(1).max(64) });
/** A cancellation: why as a code (reported, aggregated) and in words. */
export const CancelBody = z.object({
  reason: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a lower-case code such as customer_request'),
  note: z.string().trim().min(1).max(2000),
});

/** The acting key, as recorded on holds, the timeline and the audit log. */
export function actorOf(request: FastifyRequest): OrderActor {
  const p = request.principal;
  if (!p)
    throw new ProblemError(httpProblem(401, 'This endpoint needs an API key.', problemTypes.unauthorized));
  return { keyId: p.keyId, name: p.name };
}

/**
 * The workflow's refusals as problems: `unknown_order` → 404; a state conflict → 409 with its
 * `code`, the order's `state` and a link to the order; anything else as the error handler maps it.
 */
export function actionProblem(err: unknown, orderId: string): unknown {
  if (!(err instanceof CrossdockError)) return err;
  const reason = err.code;
  if (reason === 'unknown_order') {
    return new ProblemError(httpProblem(404, `order ${orderId} not found`, problemTypes.notFound));
  }
  if (err.kind === 'conflict' && err.details['key'] === undefined) {
    const problem: Problem = {
      type: problemTypes.conflict,
      title: 'Conflict',
      status: 409,
      detail: err.message,
      kind: err.kind,
      retryable: false,
      code: reason,
      links: { order: `/api/v1/orders/${orderId}` },
    };
    for (const k of ['state', 'holdReason', 'openHolds', 'fields', 'erp', 'shipped'] as const) {
      if (err.details[k] !== undefined) problem[k] = err.details[k];
    }
    return new ProblemError(problem);
  }
  return err;
}

/** Sends an action's answer: 200 (or 202 while the ERP step runs behind) with the decision. */
export function sendAction(reply: FastifyReply, result: ActionResult): FastifyReply {
  return reply.code(result.httpStatus).header('location', result.decision.links.self).send(result.decision);
}

/** The common input of an action from its request. */
export function actionInput(request: FastifyRequest, orderId: string, note: string) {
  const trace = request.trace;
  const idem = request.idempotency;
  return {
    orderId,
    actor: actorOf(request),
    note,
    correlationId: trace?.traceId ?? orderId,
    ...(trace?.traceparent ? { traceparent: trace.traceparent } : {}),
    ...(idem ? { idempotency: idem } : {}),
  };
}

export function registerOrderActionRoutes(app: FastifyInstance, deps: OrderActionRoutesDeps): void {
  // The owner's scope from the reason in the path, before the body is read; a reason that names
  // no hold needs admin, so only an administrator learns it is not one (then 422 naming it).
  const ownerScope = requireScopeFor('holds:<owner>', (params) => {
    const reason = HoldReason.safeParse(params['reason']);
    return reason.success ? (`holds:${holdOwners[reason.data]}` as ApiScope) : 'admin';
  });
  // Input next (a preHandler before the Idempotency-Key's, so a refused request reads nothing).
  const guard = async (request: FastifyRequest) => {
    HoldParams.parse(request.params);
    ActionNote.parse(request.body ?? {});
  };
  const holdAction = (action: 'release' | 'reject') =>
    async function holdActionHandler(request: FastifyRequest, reply: FastifyReply) {
      const { id, reason } = HoldParams.parse(request.params);
      const { note } = ActionNote.parse(request.body ?? {});
      const input = { ...actionInput(request, id, note), reason };
      try {
        const result =
          action === 'release'
            ? await deps.workflow.releaseHold(input)
            : await deps.workflow.rejectHold(input);
        return sendAction(reply, result);
      } catch (err) {
        throw actionProblem(err, id);
      }
    };
  const options = { onRequest: ownerScope, preHandler: [guard, deps.governance.idempotency] };
  app.post('/api/v1/orders/:id/holds/:reason/release', options, holdAction('release'));
  app.post('/api/v1/orders/:id/holds/:reason/reject', options, holdAction('reject'));

  // Cancellation: by the client that owns the order (orders:write), or by a hold's owner over it.
  const cancel = async (request: FastifyRequest, reply: FastifyReply) => {
    const { id } = IdParams.parse(request.params);
    const params = request.params as { reason?: string };
    const holdReason = params.reason === undefined ? undefined : HoldParams.parse(request.params).reason;
    const body = CancelBody.parse(request.body ?? {});
    try {
      const result = await deps.workflow.cancelOrder({
        ...actionInput(request, id, body.note),
        reason: body.reason,
        ...(holdReason ? { holdReason } : {}),
      });
      return sendAction(reply, result);
    } catch (err) {
      throw actionProblem(err, id);
    }
  };
  const cancelGuard = async (request: FastifyRequest) => {
    IdParams.parse(request.params);
    CancelBody.parse(request.body ?? {});
  };
  app.post(
    '/api/v1/orders/:id/cancel',
    { onRequest: requireScope('orders:write'), preHandler: [cancelGuard, deps.governance.idempotency] },
    cancel,
  );
  app.post(
    '/api/v1/orders/:id/holds/:reason/cancel',
    { onRequest: ownerScope, preHandler: [guard, cancelGuard, deps.governance.idempotency] },
    cancel,
  );
}
