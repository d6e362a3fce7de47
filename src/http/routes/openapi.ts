/**
 * `GET /openapi.json`: OpenAPI 3.1 whose schemas are generated from the canonical zod schemas
 * (`componentSchemas`), never written by hand; only the list of operations lives here.
 */
import type { FastifyInstance } from 'fastify';
import { componentSchemas, holdReasons } from '../../domain/index.js';
import { experienceOpenApiPaths } from './experience-openapi.js';
import { returnsOpenApiPaths } from './returns.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ 'application/json': { schema } });
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});
const errors = {
  '401': problem('missing or invalid API key'),
  '403': problem('the key lacks the scope'),
  '429': problem('over the client rate; see Retry-After'),
};

/** Builds the document once: it only changes with the code. */
export function buildOpenApi(version: string): Record<string, unknown> {
  const schemas = {
    ...componentSchemas('output'),
    OrderSubmission: componentSchemas('input')['OrderSubmission'],
    Problem: {
      type: 'object',
      description: 'RFC 9457 problem details',
      required: ['type', 'title', 'status'],
      properties: {
        type: { type: 'string' },
        title: { type: 'string' },
        status: { type: 'integer' },
        detail: { type: 'string' },
        instance: { type: 'string' },
        traceId: { type: 'string' },
        errors: {
          type: 'array',
          items: {
            type: 'object',
            properties: { field: { type: 'string' }, message: { type: 'string' } },
            required: ['field', 'message'],
          },
        },
      },
    },
  };
  const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  const holdReasonParam = {
    name: 'reason',
    in: 'path',
    required: true,
    schema: { type: 'string', enum: [...holdReasons] },
    description: 'the hold reason; its owner is the scope needed (`holds:<owner>`)',
  };
  const idempotencyParam = {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    schema: { type: 'string', maxLength: 255 },
    description: 'a repeat with the same key replays the first answer',
  };
  const noteBody = {
    type: 'object',
    required: ['note'],
    properties: { note: { type: 'string', minLength: 1, maxLength: 2000, description: 'why (audit log)' } },
  };
  const cancelBody = {
    type: 'object',
    required: ['reason', 'note'],
    properties: {
      reason: {
        type: 'string',
        pattern: '^[a-z][a-z0-9_]{0,63}$',
        description: 'a code: customer_request, duplicate, pricing, credit, out_of_stock, …',
      },
      note: { type: 'string', minLength: 1, maxLength: 2000, description: 'why, in words (audit log)' },
    },
  };
  const actionErrors = {
    '404': problem('no such order'),
    '409': problem(
      'the order is not in a state the action fits (`code`: not_on_hold, no_open_hold, lines_invalid, …; `state`)',
    ),
    '422': problem('an unknown hold reason or a missing note, naming the field'),
    ...errors,
    '403': problem("the key lacks the hold owner's scope"),
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Crossdock API',
      version,
      description:
        'Integration backbone for product distributors: governed quote-to-order, lifecycle events, master data.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths: {
      '/api/v1/orders': {
        post: {
          operationId: 'submitOrder',
          summary: 'Submit a CRM quote for governed quote-to-order orchestration',
          description:
            'A quote converts into one order. The quote is `source` (system and reference) or, without ' +
            'it, `quoteId` (system `crm`). Posting a quote that already has a live order, with no ' +
            'Idempotency-Key or another one, decides nothing and writes nothing: the answer is **200** ' +
            "with that order's current decision, `Location` naming it and `crossdock-existing-order: " +
            'true`. This holds under concurrency and across hub processes (the store keeps one live ' +
            'order per quote). A live order is any order not rejected or cancelled, so a held order is ' +
            'answered as it stands (work its hold instead of reposting), while a quote whose order was ' +
            'rejected or cancelled may be posted again and is decided afresh as a new order. With the ' +
            'same Idempotency-Key as before, the stored answer is replayed as usual. Orders without a ' +
            'quote reference are never treated as repeats. A new order whose customer has another open ' +
            'order (not rejected, cancelled or closed) with the same `poNumber` goes on a `duplicate_po` ' +
            'hold owned by sales, unless the segment policy says `duplicatePo: allow`.',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              schema: { type: 'string', maxLength: 255 },
            },
          ],
          requestBody: { required: true, content: json(ref('OrderSubmission')) },
          responses: {
            '201': { description: 'accepted; the ERP order exists', content: json(ref('OrderDecision')) },
            '202': {
              description: 'validated and committed; ERP creation pending',
              content: json(ref('OrderDecision')),
            },
            '200': {
              description:
                'on hold (with reasons and owners) or rejected; or, with `crossdock-existing-order: true`, ' +
                'the quote already has a live order and this is its current decision',
              headers: {
                Location: { schema: { type: 'string' }, description: 'the order' },
                'crossdock-existing-order': {
                  schema: { type: 'string', enum: ['true'] },
                  description: 'present when the answer is an order that existed before this request',
                },
              },
              content: json(ref('OrderDecision')),
            },
            '409': problem('idempotency key in flight'),
            '422': problem(
              'invalid input, naming each field; or an Idempotency-Key reused with another body',
            ),
            '503': problem(
              'a system needed for the decision is down (downstream_outage); retry with the same Idempotency-Key',
            ),
            ...errors,
          },
        },
        get: {
          operationId: 'listOrders',
          parameters: [
            { name: 'state', in: 'query', schema: { type: 'string' } },
            { name: 'customerId', in: 'query', schema: { type: 'string' } },
            { name: 'holdReason', in: 'query', schema: { type: 'string' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500 } },
            { name: 'after', in: 'query', schema: { type: 'string' } },
          ],
          responses: {
            '200': {
              description: 'a page of orders',
              content: json({
                type: 'object',
                properties: {
                  items: { type: 'array', items: ref('SalesOrder') },
                  next: { type: ['string', 'null'] },
                },
              }),
            },
            ...errors,
          },
        },
      },
      '/api/v1/orders/{id}': {
        get: {
          operationId: 'getOrder',
          parameters: [idParam],
          responses: {
            '200': { description: 'the canonical order', content: json(ref('SalesOrder')) },
            '404': problem('no such order'),
            ...errors,
          },
        },
      },
      '/api/v1/orders/{id}/timeline': {
        get: {
          operationId: 'getOrderTimeline',
          parameters: [idParam],
          responses: {
            '200': {
              description: 'every step and event across systems, in order',
              content: json({
                type: 'object',
                properties: {
                  orderId: { type: 'string' },
                  entries: { type: 'array', items: ref('TimelineEntry') },
                },
              }),
            },
            '404': problem('no such order'),
            ...errors,
          },
        },
      },
      '/api/v1/orders/{id}/holds/{reason}/release': {
        post: {
          operationId: 'releaseHold',
          summary: "Release (approve) the order's open holds of one reason",
          description:
            "Only for keys with the hold owner's scope: `holds:credit` (credit), `holds:pricing` " +
            '(pricing), `holds:inventory` (inventory), `holds:master_data` (customer_data), ' +
            '`holds:tax` (tax), `holds:logistics` (shipping_rule), `holds:sales` (duplicate_po); ' +
            '`admin` passes. While other holds stay open the order stays on hold. Once none is ' +
            'left the order is decided again against current master data, prices, stock and ' +
            'credit, with every reason released so far let through: held anew (200, `on_hold`), ' +
            'rejected (200), or on to the ERP step like a fresh decision (200 `accepted`/' +
            '`backordered`, or 202 `validating` while the ERP step finishes behind). Who, when ' +
            "and why go on the hold, the order's timeline and the audit log, with " +
            '`order.hold_released.v1`, in one commit.',
          parameters: [idParam, holdReasonParam, idempotencyParam],
          requestBody: { required: true, content: json(noteBody) },
          responses: {
            '200': {
              description: 'released; the decision as it stands now',
              content: json(ref('OrderDecision')),
            },
            '202': {
              description: 'released and validated; ERP creation pending',
              content: json(ref('OrderDecision')),
            },
            ...actionErrors,
          },
        },
      },
      '/api/v1/orders/{id}/holds/{reason}/reject': {
        post: {
          operationId: 'rejectHold',
          summary: 'Reject the order over its open holds of one reason',
          description:
            'Same scopes as release. The order becomes `rejected` (code `<reason>_hold_rejected`, the note ' +
            'as detail), every open hold is closed, `order.rejected.v1` is published (the customer is told ' +
            "once), and who, when and why go on the order's timeline and the audit log in one commit.",
          parameters: [idParam, holdReasonParam, idempotencyParam],
          requestBody: { required: true, content: json(noteBody) },
          responses: {
            '200': { description: 'rejected', content: json(ref('OrderDecision')) },
            ...actionErrors,
          },
        },
      },
      '/api/v1/orders/{id}/holds/{reason}/cancel': {
        post: {
          operationId: 'cancelHeldOrder',
          summary: "Cancel an order over its open hold of one reason (the hold owner's call)",
          description:
            'Same scopes as release. The order must be on hold with an open hold of that reason; it ' +
            'is cancelled as by `POST /api/v1/orders/{id}/cancel`.',
          parameters: [idParam, holdReasonParam, idempotencyParam],
          requestBody: { required: true, content: json(cancelBody) },
          responses: {
            '200': { description: 'cancelled', content: json(ref('OrderDecision')) },
            ...actionErrors,
          },
        },
      },
      '/api/v1/orders/{id}/cancel': {
        post: {
          operationId: 'cancelOrder',
          summary: 'Cancel an order, or the unshipped remainder of a partly shipped one',
          description:
            'For the client that owns orders (`orders:write`; the CRM may also send ' +
            '`crm.order_cancel_requested.v1` to `/api/v1/webhooks/crm`). Until anything ships the whole ' +
            'order is cancelled; after a partial shipment what has not shipped is (the order then ' +
            "counts as shipped). The compensations run in reverse order of the order's steps: the ERP " +
            'order is cancelled first (idempotently; if the ERP refuses, nothing changes and the answer is ' +
            "409 `erp_refused` with the ERP's reason), then the hub commits the cancellation with its " +
            'reservations given back, timeline, audit row and `order.cancelled.v1`, which stops the ' +
            'warehouse orders and tells the customer once; the credit exposure is read afresh. A repeat on ' +
            'a cancelled order answers it as it stands. A cancel after full shipment is 409 `shipped`; an ' +
            'order still being decided is 503 with Retry-After. If the answer is lost, send the request ' +
            'again (it is idempotent; an Idempotency-Key replays the first answer).',
          parameters: [idParam, idempotencyParam],
          requestBody: { required: true, content: json(cancelBody) },
          responses: {
            '200': {
              description: 'cancelled, or the remainder cancelled (state shipped)',
              content: json(ref('OrderDecision')),
            },
            '404': problem('no such order'),
            '409': problem(
              'not cancellable now (`code`: shipped, not_cancellable, erp_refused with `erp.reason`, ' +
                'erp_cannot_cancel; `state`)',
            ),
            '422': problem('a missing or malformed reason or note, naming the field'),
            '503': problem(
              'the order is still being decided, or the ERP is unavailable: retry after Retry-After',
            ),
            ...errors,
          },
        },
      },
      '/api/v1/availability': {
        get: {
          operationId: 'getAvailability',
          parameters: [
            {
              name: 'sku',
              in: 'query',
              required: true,
              schema: { type: 'string' },
              description: 'one or more SKUs, comma separated or repeated',
            },
          ],
          responses: {
            '200': { description: 'available-to-promise by warehouse with data age' },
            '422': problem('no sku'),
            ...errors,
          },
        },
      },
      '/api/v1/exceptions': {
        get: {
          operationId: 'listExceptions',
          responses: { '200': { description: 'the exception queue' }, ...errors },
        },
      },
      '/api/v1/exceptions/{id}/retry': {
        post: {
          operationId: 'retryException',
          parameters: [idParam],
          responses: { '200': { description: 'retried' }, ...errors },
        },
      },
      '/api/v1/exceptions/{id}/resolve': {
        post: {
          operationId: 'resolveException',
          parameters: [idParam],
          responses: { '200': { description: 'resolved' }, ...errors },
        },
      },
      '/api/v1/exceptions/{id}/discard': {
        post: {
          operationId: 'discardException',
          summary: 'Close an exception without delivering (`ops:write`); the note goes to the audit log',
          parameters: [idParam],
          responses: {
            '200': { description: 'discarded' },
            '404': problem('no such exception'),
            '409': problem('the exception is not open'),
            ...errors,
          },
        },
      },
      '/api/v1/webhooks/carriers/{carrier}': {
        post: {
          operationId: 'receiveCarrierWebhook',
          summary: "A carrier's own tracking webhook (`webhooks:tms`), e.g. EasyPost tracker updates",
          description:
            "The carrier's body and signature (EasyPost: `X-Hmac-Signature` keyed with " +
            '`webhooks.secrets.easypost`). The order is found by tracking number; new scans are applied ' +
            'through the order state machine. An unknown tracking number answers 200 (so the carrier ' +
            'does not retry) and is kept as an exception.',
          parameters: [
            { name: 'carrier', in: 'path', required: true, schema: { type: 'string', enum: ['easypost'] } },
          ],
          requestBody: { required: true, content: json({ type: 'object' }) },
          responses: {
            '200': { description: 'unchanged, duplicate, ignored or unknown tracking number' },
            '202': { description: 'applied or recorded' },
            '401': problem('missing or invalid key, or a refused signature'),
            '403': problem('the key lacks webhooks:tms'),
            '404': problem('no such carrier'),
            '422': problem('invalid JSON or a malformed payload, naming the field (kept in an exception)'),
          },
        },
      },
      '/api/v1/subscriptions': {
        get: {
          operationId: 'listSubscriptions',
          responses: { '200': { description: 'delivery state per destination' }, ...errors },
        },
      },
      '/api/v1/subscriptions/{name}/replay': {
        post: {
          operationId: 'replaySubscription',
          summary: 'Re-deliver a subscription from an ISO time or an event id (`ops:write`)',
          description:
            'Body: `from` (ISO time or event id), optional `to`, `dryRun`, `force`. Without `force` a ' +
            'replay of customer notifications skips what the customer was already told.',
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': { description: 'how many events were (or would be, with dryRun) re-delivered' },
            '404': problem('no such subscription'),
            '422': problem('a malformed body, naming the field'),
            ...errors,
          },
        },
      },
      '/api/v1/webhooks/{source}': {
        post: {
          operationId: 'receiveWebhook',
          summary: 'A signed fact from a connected system (`webhooks:<source>`)',
          description:
            "A CloudEvents 1.0 body signed with the source's HMAC secret, of the types that source " +
            'may send (WMS `wms.milestone.v1`; TMS `tms.milestone.v1`; ERP `erp.shipment.v1`, ' +
            '`erp.invoice.v1`; CRM `crm.order_cancel_requested.v1`), whose subject is a hub order. ' +
            "Applied through the order state machine and published as the hub's own events; never " +
            'forwarded. See docs/SECURITY.md.',
          parameters: [
            {
              name: 'source',
              in: 'path',
              required: true,
              schema: { type: 'string', enum: ['crm', 'wms', 'tms', 'erp'] },
            },
          ],
          requestBody: { required: true, content: json(ref('CloudEvent')) },
          responses: {
            '200': { description: 'a duplicate of an event applied before' },
            '202': { description: 'applied' },
            '401': problem('missing or invalid key, or a refused signature'),
            '403': problem('the key lacks webhooks:<source>'),
            '404': problem('not a webhook source'),
            '422': problem(
              'a type the source may not send, an unknown order or a schema failure, naming the field',
            ),
            '429': problem('past the per-source refusal rate; nothing written'),
            '503': problem('the order is still being decided: retry after Retry-After'),
          },
        },
      },
      ...experienceOpenApiPaths(),
      ...returnsOpenApiPaths(errors, problem),
      '/health/live': {
        get: { operationId: 'live', security: [], responses: { '200': { description: 'alive' } } },
      },
      '/health/ready': {
        get: {
          operationId: 'ready',
          security: [],
          responses: { '200': { description: 'ready' }, '503': problem('not ready') },
        },
      },
      '/metrics': {
        get: { operationId: 'metrics', responses: { '200': { description: 'Prometheus text format' } } },
      },
    },
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Crossdock API key' } },
    },
  };
}

export function registerOpenApiRoute(app: FastifyInstance, version: string): void {
  const doc = JSON.stringify(buildOpenApi(version));
  app.get('/openapi.json', async (_request, reply) => reply.type('application/json').send(doc));
}
