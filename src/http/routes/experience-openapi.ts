/**
 * The OpenAPI operations of the experience routes (the CRM's account view, the customer portal),
 * spread into `/openapi.json` by `openapi.ts`. Their response schemas are the zod schemas of
 * `src/workflows/experience/views.ts` (published as components through zod's registry, like the
 * canonical model), so the document and the answers cannot drift apart.
 */
import { orderStates } from '../../domain/index.js';
// Imported for its schemas' registration (`.meta({ id })`), which `componentSchemas` exports.
import '../../workflows/experience/views.js';
import { maxPageSize } from './experience-paging.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ 'application/json': { schema } });
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});

const pageParams = [
  {
    name: 'limit',
    in: 'query',
    schema: { type: 'integer', minimum: 1, maximum: maxPageSize, default: 20 },
    description: 'orders per page',
  },
  {
    name: 'cursor',
    in: 'query',
    schema: { type: 'string' },
    description:
      '`next` of the previous page, as is (opaque); a cursor this listing did not hand out is a 422 naming `cursor`',
  },
];

const portalErrors = {
  '401': problem('missing or invalid API key'),
  '403': problem('the key lacks portal:read, or is not bound to a customer'),
  '429': problem("over the client's rate; see Retry-After"),
};

const orderIdParam = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', maxLength: 64 },
  description: "the order's id (as in the portal's order list)",
};

const portalOrderPart = (operationId: string, summary: string, item: string) => ({
  get: {
    operationId,
    summary,
    parameters: [orderIdParam],
    responses: {
      '200': {
        description: summary,
        content: json({
          type: 'object',
          required: ['orderId', 'items'],
          properties: { orderId: { type: 'string' }, items: { type: 'array', items: ref(item) } },
        }),
      },
      '404': problem("no such order among this customer's (another customer's order answers the same)"),
      '422': problem('a malformed id, naming the field'),
      ...portalErrors,
    },
  },
});

const customerList = (operationId: string, summary: string, item: string, extra: unknown[]) => ({
  get: {
    operationId,
    summary: `${summary} (\`portal:read\`)`,
    description:
      "A page covers up to `limit` of the customer's orders, oldest first, and lists what they hold, " +
      'so a page may have fewer items than `limit` (even none) while `next` is not null.',
    parameters: [...pageParams, ...extra],
    responses: {
      '200': {
        description: summary,
        content: json({
          type: 'object',
          required: ['items', 'next'],
          properties: {
            items: { type: 'array', items: ref(item) },
            next: { type: ['string', 'null'], description: 'cursor of the next page; null on the last' },
          },
        }),
      },
      '422': problem('a bad limit, status or kind, or a cursor not handed out here, naming the field'),
      ...portalErrors,
    },
  },
});

/** The `paths` entries of the account view and the portal. */
export function experienceOpenApiPaths(): Record<string, unknown> {
  return {
    '/api/v1/accounts/{customerId}/view': {
      get: {
        operationId: 'getAccountView',
        summary: "A customer account's orders for the CRM's account page (`orders:read`)",
        description:
          'The customer by its hub id or its CRM account id. Per order: state, customer-facing status, ' +
          'next expected milestone (`awaiting_credit_release`, `awaiting_allocation`, `awaiting_shipment`, ' +
          '`in_transit`, `awaiting_invoice`, `awaiting_payment`, …, or null when the order waits for ' +
          'nothing), open holds with owner, reason, detail and age in hours, shipments with carrier, ' +
          'tracking number and status, invoices and credit memos and returns as the order holds them, ' +
          'and cross-references. Oldest order first, paged with an opaque cursor.',
        parameters: [
          {
            name: 'customerId',
            in: 'path',
            required: true,
            schema: { type: 'string', maxLength: 128 },
            description: 'hub customer id, or CRM account id',
          },
          {
            name: 'state',
            in: 'query',
            schema: { type: 'string' },
            description: `only orders in these states, comma separated or repeated: ${orderStates.join(', ')}`,
          },
          ...pageParams,
        ],
        responses: {
          '200': {
            description: 'the account and a page of its orders',
            content: json({
              type: 'object',
              required: ['account', 'filter', 'orders', 'next'],
              properties: {
                account: {
                  type: 'object',
                  properties: {
                    id: { type: 'string' },
                    accountNumber: { type: 'string' },
                    name: { type: 'string' },
                    status: { type: 'string' },
                    segment: { type: 'string' },
                    externalIds: ref('ExternalIds'),
                  },
                },
                filter: {
                  type: 'object',
                  properties: { state: { type: ['array', 'null'], items: { type: 'string' } } },
                },
                orders: { type: 'array', items: ref('AccountOrderView') },
                next: { type: ['string', 'null'], description: 'cursor of the next page; null on the last' },
              },
            }),
          },
          '404': problem('no customer with this hub id or CRM account id (names `customerId`)'),
          '422': problem('an unknown state, a bad limit or a cursor not handed out here, naming the field'),
          '401': problem('missing or invalid API key'),
          '403': problem('the key lacks orders:read'),
          '429': problem("over the client's rate; see Retry-After"),
        },
      },
    },
    '/api/v1/portal/orders': {
      get: {
        operationId: 'listPortalOrders',
        summary: "The key's customer's orders, oldest first (`portal:read`, a key bound to a customer)",
        description:
          'Customer-facing fields only: status in customer words, order and PO numbers, totals, ' +
          'shipments with carrier and tracking number. Never hold reasons or owners, notes, credit ' +
          'figures or internal ids.',
        parameters: pageParams,
        responses: {
          '200': {
            description: 'a page of orders',
            content: json({
              type: 'object',
              required: ['items', 'next'],
              properties: {
                items: { type: 'array', items: ref('PortalOrderSummary') },
                next: { type: ['string', 'null'], description: 'cursor of the next page; null on the last' },
              },
            }),
          },
          '422': problem('a bad limit or a cursor not handed out here, naming the field'),
          ...portalErrors,
        },
      },
    },
    '/api/v1/portal/invoices': customerList(
      'listPortalInvoices',
      "The customer's invoices and credit memos across its orders (not drafts)",
      'PortalInvoiceListItem',
      [
        { name: 'status', in: 'query', schema: { type: 'string', enum: ['open', 'paid', 'credited'] } },
        { name: 'kind', in: 'query', schema: { type: 'string', enum: ['invoice', 'credit_memo'] } },
      ],
    ),
    '/api/v1/portal/returns': customerList(
      'listPortalReturns',
      "The customer's returns across its orders",
      'PortalReturnListItem',
      [],
    ),
    '/api/v1/portal/orders/{id}': {
      get: {
        operationId: 'getPortalOrder',
        summary: 'One of the customer’s orders: lines, shipments, invoices, returns (`portal:read`)',
        parameters: [orderIdParam],
        responses: {
          '200': { description: 'the order as the customer sees it', content: json(ref('PortalOrderView')) },
          '404': problem("no such order among this customer's (another customer's order answers the same)"),
          '422': problem('a malformed id, naming the field'),
          ...portalErrors,
        },
      },
    },
    '/api/v1/portal/orders/{id}/shipments': portalOrderPart(
      'listPortalOrderShipments',
      "the order's shipments with carrier, tracking number, status and dates",
      'ShipmentView',
    ),
    '/api/v1/portal/orders/{id}/invoices': portalOrderPart(
      'listPortalOrderInvoices',
      "the order's invoices and credit memos (not drafts)",
      'PortalInvoiceView',
    ),
    '/api/v1/portal/orders/{id}/returns': portalOrderPart(
      'listPortalOrderReturns',
      "the order's returns with their RMA numbers and customer-facing status",
      'PortalReturnView',
    ),
  };
}
