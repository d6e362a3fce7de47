/**
 * Returns (RMA) over the process API:
 * - `POST /api/v1/orders/{id}/returns` (`orders:write`): asks for a return of shipped goods
 *   (`lines`: sku, quantity, reason code; optional `caseId`, the CRM case, and `note`). 202 with
 *   the return (`requested`; the ERP authorization, the warehouse and the credit follow behind)
 *   and `Location: /api/v1/returns/{returnId}`. The same `caseId` again answers 200 with the
 *   existing return and `crossdock-existing-return: true`. Refusals write nothing: 404 unknown
 *   order; 409 `not_returnable` (nothing shipped, cancelled); 422 naming the field (malformed
 *   body, a SKU not on the order, more than shipped less other returns, a SKU twice).
 *   `Idempotency-Key` is honoured.
 * - `GET /api/v1/orders/{id}/returns` (`orders:read`): the order's returns, oldest first.
 * - `GET /api/v1/returns/{id}` (`orders:read`): one return (its id names its order).
 *
 * The read shape is the canonical `ReturnAuthorization` as kept on the order document
 * (`returnsOf(order)` in the domain), so other views (a customer portal) read the same thing.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CrossdockError, findReturn, orderIdOfReturn, returnsOf } from '../../domain/index.js';
import type { Clock, Store } from '../../ports/index.js';
import { requestReturn } from '../../workflows/returns/index.js';
import { type Governance, requireScope } from '../middleware/index.js';
import { httpProblem, ProblemError, problemTypes } from '../problem.js';

/** What the return routes need. */
export interface ReturnRoutesDeps {
  store: Store;
  clock: Clock;
  governance: Governance;
}

const IdParams = z.object({ id: z.string().min(1).max(64) });
const ReturnIdParams = z.object({ id: z.string().min(1).max(80) });

/** Body of `POST /api/v1/orders/{id}/returns`. */
export const ReturnRequestBody = z
  .object({
    caseId: z.string().min(1).max(100).optional(),
    lines: z
      .array(
        z.object({
          sku: z.string().min(1).max(64),
          quantity: z.number().positive().max(1_000_000),
          reason: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a lower-case code such as damaged'),
        }),
      )
      .min(1)
      .max(500),
    note: z.string().trim().min(1).max(2000).optional(),
  })
  .strict();

/** The OpenAPI paths of these routes (merged into `GET /openapi.json`). */
export function returnsOpenApiPaths(
  errors: Record<string, unknown>,
  problem: (description: string) => unknown,
): Record<string, unknown> {
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const json = (schema: unknown) => ({ 'application/json': { schema } });
  const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  return {
    '/api/v1/orders/{id}/returns': {
      post: {
        operationId: 'requestReturn',
        summary: 'Ask for a return (RMA) of shipped goods; authorized, received and credited behind',
        parameters: [
          idParam,
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            schema: { type: 'string', maxLength: 255 },
          },
        ],
        requestBody: { required: true, content: json(z.toJSONSchema(ReturnRequestBody, { io: 'input' })) },
        responses: {
          '200': {
            description:
              'the same caseId asked before: the existing return (`crossdock-existing-return: true`)',
            content: json(ref('ReturnAuthorization')),
          },
          '202': { description: 'recorded as requested', content: json(ref('ReturnAuthorization')) },
          ...errors,
          '404': problem('no such order'),
          '409': problem('nothing of the order has shipped (or it was cancelled): `not_returnable`'),
          '422': problem(
            'malformed body, unknown SKU, more than shipped less other returns: the field named',
          ),
        },
      },
      get: {
        operationId: 'listOrderReturns',
        parameters: [idParam],
        responses: {
          '200': {
            description: "the order's returns, oldest first",
            content: json({
              type: 'object',
              properties: { items: { type: 'array', items: ref('ReturnAuthorization') } },
            }),
          },
          ...errors,
          '404': problem('no such order'),
        },
      },
    },
    '/api/v1/returns/{id}': {
      get: {
        operationId: 'getReturn',
        parameters: [idParam],
        responses: {
          '200': { description: 'the return', content: json(ref('ReturnAuthorization')) },
          ...errors,
          '404': problem('no such return'),
        },
      },
    },
  };
}

export function registerReturnRoutes(app: FastifyInstance, deps: ReturnRoutesDeps): void {
  app.post(
    '/api/v1/orders/:id/returns',
    { onRequest: requireScope('orders:write'), preHandler: [deps.governance.idempotency] },
    async (request, reply) => {
      const { id } = IdParams.parse(request.params);
      const body = ReturnRequestBody.parse(request.body);
      const p = request.principal;
      const by = p?.name ?? 'api';
      try {
        const r = await requestReturn(
          deps,
          id,
          {
            system: 'api',
            by,
            lines: body.lines,
            ...(body.caseId !== undefined ? { caseId: body.caseId } : {}),
            ...(body.note !== undefined ? { note: body.note } : {}),
          },
          {
            audit: {
              actor: p ? `key:${p.keyId}` : 'api',
              action: 'return.request',
              detail: { orderId: id, by, caseId: body.caseId ?? null, lines: body.lines },
            },
            ...(request.trace?.traceparent ? { traceparent: request.trace.traceparent } : {}),
          },
        );
        reply.header('location', `/api/v1/returns/${r.ret.id}`);
        if (r.outcome === 'existing') {
          reply.header('crossdock-existing-return', 'true');
          return reply.code(200).send(r.ret);
        }
        return reply.code(202).send(r.ret);
      } catch (err) {
        if (err instanceof CrossdockError && err.details['reason'] === 'unknown_order') {
          throw new ProblemError(httpProblem(404, `order ${id} not found`, problemTypes.notFound));
        }
        throw err;
      }
    },
  );

  app.get('/api/v1/orders/:id/returns', { preHandler: requireScope('orders:read') }, async (request) => {
    const { id } = IdParams.parse(request.params);
    const order = await deps.store.getOrder(id);
    if (!order) throw new ProblemError(httpProblem(404, `order ${id} not found`, problemTypes.notFound));
    return { items: returnsOf(order) };
  });

  app.get('/api/v1/returns/:id', { preHandler: requireScope('orders:read') }, async (request) => {
    const { id } = ReturnIdParams.parse(request.params);
    const orderId = orderIdOfReturn(id);
    const order = orderId ? await deps.store.getOrder(orderId) : null;
    const ret = order ? findReturn(order, id) : undefined;
    if (!ret) throw new ProblemError(httpProblem(404, `return ${id} not found`, problemTypes.notFound));
    return ret;
  });
}
