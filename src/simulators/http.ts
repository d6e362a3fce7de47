/**
 * HTTP face of the simulators under `/sim/…`: inspection of their records, fault injection for
 * operators and chaos tests, and a Salesforce-REST-shaped corner of the CRM so a Salesforce
 * connector can be pointed at the simulator.
 *
 * Why inspection routes bypass fault injection while the Salesforce-shaped routes do not: the
 * former are the operator's window (they must work during an injected outage), the latter stand
 * in for the vendor's API (they must fail like it). Errors of inspection and fault routes are
 * RFC 9457 problem+json; errors of Salesforce-shaped routes are Salesforce's `[{message,
 * errorCode}]` arrays.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { type CrossdockError, toCrossdockError } from '../domain/index.js';
import type { CrmAccount } from '../ports/index.js';
import { FaultPatch } from './faults.js';
import type { Simulators } from './index.js';

/** The Salesforce REST API version the CRM simulator answers as. */
export const salesforceApiVersion = 'v59.0';

type SimSet = Pick<Simulators, 'crm' | 'erp' | 'wms' | 'tms' | 'notifications' | 'faults'>;

const Paging = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

function problem(
  reply: FastifyReply,
  status: number,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
): FastifyReply {
  const slug = title.toLowerCase().replace(/[^a-z]+/g, '-');
  return reply
    .code(status)
    .type('application/problem+json')
    .send(
      JSON.stringify({ type: `https://crossdock.dev/problems/${slug}`, title, status, detail, ...extra }),
    );
}

function invalid(reply: FastifyReply, error: z.ZodError, what: string): FastifyReply {
  const errors = error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
  return problem(
    reply,
    422,
    'Validation failed',
    `Invalid ${what}: ${errors.map((e) => e.field).join(', ')}`,
    {
      errors,
    },
  );
}

function page<T>(
  reply: FastifyReply,
  query: unknown,
  list: (offset: number, limit: number) => { items: T[]; total: number },
): FastifyReply | { items: T[]; total: number; limit: number; offset: number; nextOffset: number | null } {
  const parsed = Paging.safeParse(query);
  if (!parsed.success) return invalid(reply, parsed.error, 'paging parameters');
  const { limit, offset } = parsed.data;
  const { items, total } = list(offset, limit);
  return {
    items,
    total,
    limit,
    offset,
    nextOffset: offset + items.length < total ? offset + items.length : null,
  };
}

function notFound(reply: FastifyReply, what: string): FastifyReply {
  return problem(reply, 404, 'Not found', `${what} does not exist`);
}

/** A CRM account in Salesforce's sObject JSON shape (what `GET …/sobjects/Account/:id` returns). */
export function toSalesforceAccount(a: CrmAccount): Record<string, unknown> {
  const billing = a.addresses.find((x) => x.kind === 'billing') ?? a.addresses[0];
  const shipping = a.addresses.find((x) => x.kind === 'shipping');
  const country = (c: string | undefined) =>
    c === 'US' ? 'United States' : c === 'CA' ? 'Canada' : (c ?? null);
  const street = (x: typeof billing) => (x ? [x.line1, x.line2].filter(Boolean).join('\n') : null);
  return {
    attributes: {
      type: 'Account',
      url: `/services/data/${salesforceApiVersion}/sobjects/Account/${a.crmId}`,
    },
    Id: a.crmId,
    IsDeleted: false,
    Name: a.name,
    AccountNumber: a.accountNumber ?? null,
    Type: 'Customer',
    Segment__c: a.segment ?? null,
    Active__c: a.active ? 'Yes' : 'No',
    BillingStreet: street(billing),
    BillingCity: billing?.city ?? null,
    BillingState: billing?.region ?? null,
    BillingPostalCode: billing?.postalCode ?? null,
    BillingCountry: country(billing?.country),
    BillingCountryCode: billing?.country ?? null,
    ShippingStreet: street(shipping),
    ShippingCity: shipping?.city ?? null,
    ShippingState: shipping?.region ?? null,
    ShippingPostalCode: shipping?.postalCode ?? null,
    ShippingCountry: country(shipping?.country),
    ShippingCountryCode: shipping?.country ?? null,
  };
}

/** Maps a typed failure to Salesforce's status code and `[{message, errorCode}]` body. */
export function toSalesforceError(err: CrossdockError): {
  status: number;
  body: { message: string; errorCode: string }[];
  retryAfterSeconds?: number;
} {
  const one = (status: number, errorCode: string) => ({
    status,
    body: [{ message: err.message, errorCode }],
  });
  switch (err.kind) {
    case 'downstream_outage':
      return one(503, 'SERVER_UNAVAILABLE');
    case 'transient':
      if (err.retryAfterMs !== undefined) {
        // Salesforce signals API limits as 403 REQUEST_LIMIT_EXCEEDED; Retry-After is our courtesy.
        return {
          ...one(403, 'REQUEST_LIMIT_EXCEEDED'),
          retryAfterSeconds: Math.ceil(err.retryAfterMs / 1000),
        };
      }
      return one(500, 'UNKNOWN_EXCEPTION');
    case 'data_quality': {
      const code =
        typeof err.details['vendorCode'] === 'string' ? err.details['vendorCode'] : 'INVALID_FIELD';
      return one(400, code);
    }
    case 'conflict':
      return one(409, 'ENTITY_IS_LOCKED');
    default:
      return one(400, 'FIELD_CUSTOM_VALIDATION_EXCEPTION');
  }
}

function sendSalesforceError(reply: FastifyReply, err: unknown): FastifyReply {
  const e = toSalesforceError(toCrossdockError(err));
  if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(e.retryAfterSeconds));
  return reply.code(e.status).type('application/json;charset=UTF-8').send(e.body);
}

const SalesforceOrderStatusBody = z.object({
  Status__c: z.string().min(1),
  State__c: z.string().min(1),
  Sequence__c: z.number().int().min(0),
  Idempotency_Key__c: z.string().min(1),
  ERP_Order_Number__c: z.string().nullable().optional(),
  Opportunity__c: z.string().optional(),
});

/**
 * Registers the `/sim/*` routes on a Fastify instance. Call it only for the embedded default
 * (the simulators are not part of a production deployment).
 */
export function registerSimulatorRoutes(app: FastifyInstance, sims: SimSet): void {
  const { crm, erp, wms, tms, notifications } = sims;

  // --- faults -------------------------------------------------------------------------------
  for (const [system, injector] of Object.entries(sims.faults)) {
    const path = `/sim/${system}/faults`;
    app.get(path, async () => ({ system, config: injector.config, stats: injector.stats() }));
    app.post(path, async (request, reply) => {
      const parsed = FaultPatch.safeParse(request.body ?? {});
      if (!parsed.success) return invalid(reply, parsed.error, 'fault configuration');
      return { system, config: injector.configure(parsed.data), stats: injector.stats() };
    });
    app.delete(path, async () => ({ system, config: injector.reset(), stats: injector.stats() }));
  }

  // --- ERP ------------------------------------------------------------------------------------
  app.get('/sim/erp/customers', async (req, reply) =>
    page(reply, req.query, (o, l) => erp.listCustomers(o, l)),
  );
  app.get<{ Params: { externalId: string } }>('/sim/erp/customers/:externalId', async (req, reply) => {
    const id = req.params.externalId;
    return (
      erp.customerRecordByExternalId(id) ?? erp.customerRecord(id) ?? notFound(reply, `ERP customer ${id}`)
    );
  });
  app.get('/sim/erp/orders', async (req, reply) => page(reply, req.query, (o, l) => erp.listOrders(o, l)));
  app.get<{ Params: { id: string } }>('/sim/erp/orders/:id', async (req, reply) => {
    return erp.orderRecord(req.params.id) ?? notFound(reply, `ERP sales order ${req.params.id}`);
  });
  app.get('/sim/erp/changes', async (req, reply) => {
    const q = z
      .object({
        since: z.string().regex(/^\d+$/).optional(),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
      })
      .safeParse(req.query);
    if (!q.success) return invalid(reply, q.error, 'change-feed parameters');
    return erp.peekChanges(Number(q.data.since ?? '0'), q.data.limit);
  });

  // --- CRM ------------------------------------------------------------------------------------
  app.get('/sim/crm/accounts', async (req, reply) =>
    page(reply, req.query, (o, l) => crm.listAccounts(o, l)),
  );
  app.get<{ Params: { id: string } }>('/sim/crm/accounts/:id', async (req, reply) => {
    return crm.account(req.params.id) ?? notFound(reply, `CRM account ${req.params.id}`);
  });
  app.get('/sim/crm/order-statuses', async (req, reply) =>
    page(reply, req.query, (o, l) => crm.listOrderStatuses(o, l)),
  );
  app.get<{ Params: { hubOrderId: string } }>('/sim/crm/order-statuses/:hubOrderId', async (req, reply) => {
    return (
      crm.orderStatus(req.params.hubOrderId) ?? notFound(reply, `CRM order status ${req.params.hubOrderId}`)
    );
  });
  app.get('/sim/crm/activities', async (req, reply) =>
    page(reply, req.query, (o, l) => crm.listActivities(o, l)),
  );

  const sf = `/sim/crm/services/data/${salesforceApiVersion}`;
  app.get<{ Params: { id: string } }>(`${sf}/sobjects/Account/:id`, async (req, reply) => {
    try {
      const account = await crm.getAccount(req.params.id);
      if (!account) {
        return reply
          .code(404)
          .send([{ message: 'The requested resource does not exist', errorCode: 'NOT_FOUND' }]);
      }
      return toSalesforceAccount(account);
    } catch (err) {
      return sendSalesforceError(reply, err);
    }
  });
  app.patch<{ Params: { hubOrderId: string } }>(
    `${sf}/sobjects/Crossdock_Order_Status__c/Hub_Order_Id__c/:hubOrderId`,
    async (req, reply) => {
      const parsed = SalesforceOrderStatusBody.safeParse(req.body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const field = issue.path.join('.');
        const missing = issue.code === 'invalid_type' && req.body && !(field in (req.body as object));
        return reply.code(400).send([
          {
            message: missing ? `Required fields are missing: [${field}]` : `${field}: ${issue.message}`,
            errorCode: missing ? 'REQUIRED_FIELD_MISSING' : 'INVALID_FIELD',
          },
        ]);
      }
      try {
        const existed = crm.orderStatus(req.params.hubOrderId) !== null;
        const b = parsed.data;
        const result = await crm.upsertOrderStatus({
          hubOrderId: req.params.hubOrderId,
          status: b.Status__c,
          state: b.State__c,
          sequence: b.Sequence__c,
          idempotencyKey: b.Idempotency_Key__c,
          erpOrderNumber: b.ERP_Order_Number__c,
          crmOpportunityId: b.Opportunity__c,
        });
        if (existed) return reply.code(204).send();
        return reply.code(201).send({ id: result.crmRecordId, errors: [], success: true });
      } catch (err) {
        return sendSalesforceError(reply, err);
      }
    },
  );

  // --- WMS, TMS, notifications ------------------------------------------------------------------
  app.get<{ Querystring: { sku?: string } }>('/sim/wms/inventory', async (req, reply) => {
    const sku = typeof req.query.sku === 'string' ? req.query.sku : undefined;
    return page(reply, req.query, (o, l) => wms.listInventory(o, l, sku));
  });
  app.get('/sim/wms/orders', async (req, reply) => page(reply, req.query, (o, l) => wms.listOrders(o, l)));
  app.get<{ Params: { id: string } }>('/sim/wms/orders/:id', async (req, reply) => {
    return wms.order(req.params.id) ?? notFound(reply, `Warehouse order ${req.params.id}`);
  });
  app.get('/sim/wms/milestones', async (req, reply) =>
    page(reply, req.query, (o, l) => ({ items: wms.milestoneLog(o, l), total: wms.milestoneCount })),
  );
  app.get('/sim/tms/shipments', async (req, reply) =>
    page(reply, req.query, (o, l) => tms.listBookings(o, l)),
  );
  app.get<{ Params: { trackingNumber: string } }>(
    '/sim/tms/shipments/:trackingNumber',
    async (req, reply) => {
      return (
        tms.booking(req.params.trackingNumber) ?? notFound(reply, `Shipment ${req.params.trackingNumber}`)
      );
    },
  );
  app.get('/sim/notifications', async (req, reply) =>
    page(reply, req.query, (o, l) => ({
      items: notifications.delivered.slice(o, o + l),
      total: notifications.delivered.length,
    })),
  );
}
