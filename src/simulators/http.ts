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
 *
 * Who may call them is the mounting side's decision, passed in as a `guard` hook factory: this
 * layer may not import the HTTP layer's auth (ARCHITECTURE.md, dependency direction). Every
 * route gets the guard of its access: GET reads, every other method writes (faults, the CRM
 * upsert). The hub passes `requireScope('ops:read' | 'ops:write')`; the simulator server, which
 * listens on loopback only, passes none. Only the `systems` asked for are mounted.
 */
import type { FastifyInstance, FastifyReply, onRequestHookHandler } from 'fastify';
import { z } from 'zod';
import { type CrossdockError, toCrossdockError } from '../domain/index.js';
import type { CrmAccount } from '../ports/index.js';
import { FaultPatch } from './faults.js';
import type { SimulatedSystem, Simulators } from './index.js';

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

/** A page of kept records: `total` counts what is kept, `evicted` what was dropped before it. */
interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
  nextOffset: number | null;
  evicted?: number;
}

function page<T>(
  reply: FastifyReply,
  query: unknown,
  list: (offset: number, limit: number) => { items: T[]; total: number },
  evicted?: number,
): FastifyReply | Page<T> {
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
    ...(evicted === undefined ? {} : { evicted }),
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

/** What a `/sim/*` route does: `read` inspects (GET), `write` changes something (any other method). */
export type SimulatorRouteAccess = 'read' | 'write';

/** Options of {@link registerSimulatorRoutes}. */
export interface SimulatorRoutesOptions {
  /**
   * The simulated systems whose routes are mounted (default all): only those that are the
   * configured systems (with a real ERP there is no `/sim/erp/*`).
   */
  systems?: readonly SimulatedSystem[];
  /** The `onRequest` hook of every route, by its access (e.g. a scope check); default none. */
  guard?: (access: SimulatorRouteAccess) => onRequestHookHandler;
}

/**
 * Registers the `/sim/*` routes on a Fastify instance. Call it only for the embedded default
 * (the simulators are not part of a production deployment), with a `guard` wherever the
 * instance is reachable by anyone but the operator.
 */
export function registerSimulatorRoutes(
  app: FastifyInstance,
  sims: SimSet,
  options: SimulatorRoutesOptions = {},
): void {
  const { crm, erp, wms, tms, notifications } = sims;
  const mounted = new Set<string>(options.systems ?? Object.keys(sims.faults));
  const guard = options.guard;
  const read = guard ? { onRequest: guard('read') } : {};
  const write = guard ? { onRequest: guard('write') } : {};

  // --- faults -------------------------------------------------------------------------------
  for (const [system, injector] of Object.entries(sims.faults)) {
    if (!mounted.has(system)) continue;
    const path = `/sim/${system}/faults`;
    app.get(path, read, async () => ({ system, config: injector.config, stats: injector.stats() }));
    app.post(path, write, async (request, reply) => {
      const parsed = FaultPatch.safeParse(request.body ?? {});
      if (!parsed.success) return invalid(reply, parsed.error, 'fault configuration');
      return { system, config: injector.configure(parsed.data), stats: injector.stats() };
    });
    app.delete(path, write, async () => ({ system, config: injector.reset(), stats: injector.stats() }));
  }
  if (mounted.has('erp')) registerErp(app, erp, read);
  if (mounted.has('crm')) registerCrm(app, crm, read, write);
  if (mounted.has('wms')) registerWms(app, wms, read);
  if (mounted.has('tms')) {
    app.get('/sim/tms/shipments', read, async (req, reply) =>
      page(reply, req.query, (o, l) => tms.listBookings(o, l), tms.evictedCounts.bookings),
    );
    app.get<{ Params: { trackingNumber: string } }>(
      '/sim/tms/shipments/:trackingNumber',
      read,
      async (req, reply) => {
        return (
          tms.booking(req.params.trackingNumber) ?? notFound(reply, `Shipment ${req.params.trackingNumber}`)
        );
      },
    );
  }
  if (mounted.has('notifications')) {
    app.get('/sim/notifications', read, async (req, reply) =>
      page(reply, req.query, (o, l) => notifications.listDelivered(o, l), notifications.evictedCount),
    );
  }
}

type RouteHooks = { onRequest?: onRequestHookHandler };

function registerErp(app: FastifyInstance, erp: SimSet['erp'], read: RouteHooks): void {
  app.get('/sim/erp/customers', read, async (req, reply) =>
    page(reply, req.query, (o, l) => erp.listCustomers(o, l)),
  );
  app.get<{ Params: { externalId: string } }>('/sim/erp/customers/:externalId', read, async (req, reply) => {
    const id = req.params.externalId;
    return (
      erp.customerRecordByExternalId(id) ?? erp.customerRecord(id) ?? notFound(reply, `ERP customer ${id}`)
    );
  });
  app.get('/sim/erp/orders', read, async (req, reply) =>
    page(reply, req.query, (o, l) => erp.listOrders(o, l), erp.evictedCounts.orders),
  );
  app.get<{ Params: { id: string } }>('/sim/erp/orders/:id', read, async (req, reply) => {
    return erp.orderRecord(req.params.id) ?? notFound(reply, `ERP sales order ${req.params.id}`);
  });
  app.get('/sim/erp/changes', read, async (req, reply) => {
    const q = z
      .object({
        since: z.string().regex(/^\d+$/).optional(),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
      })
      .safeParse(req.query);
    if (!q.success) return invalid(reply, q.error, 'change-feed parameters');
    return erp.peekChanges(Number(q.data.since ?? '0'), q.data.limit);
  });
}

function registerCrm(app: FastifyInstance, crm: SimSet['crm'], read: RouteHooks, write: RouteHooks): void {
  app.get('/sim/crm/accounts', read, async (req, reply) =>
    page(reply, req.query, (o, l) => crm.listAccounts(o, l)),
  );
  app.get<{ Params: { id: string } }>('/sim/crm/accounts/:id', read, async (req, reply) => {
    return crm.account(req.params.id) ?? notFound(reply, `CRM account ${req.params.id}`);
  });
  app.get('/sim/crm/order-statuses', read, async (req, reply) =>
    page(reply, req.query, (o, l) => crm.listOrderStatuses(o, l), crm.evictedCounts.orderStatuses),
  );
  app.get<{ Params: { hubOrderId: string } }>(
    '/sim/crm/order-statuses/:hubOrderId',
    read,
    async (req, reply) => {
      return (
        crm.orderStatus(req.params.hubOrderId) ?? notFound(reply, `CRM order status ${req.params.hubOrderId}`)
      );
    },
  );
  app.get('/sim/crm/activities', read, async (req, reply) =>
    page(reply, req.query, (o, l) => crm.listActivities(o, l), crm.evictedCounts.activities),
  );

  const sf = `/sim/crm/services/data/${salesforceApiVersion}`;
  app.get<{ Params: { id: string } }>(`${sf}/sobjects/Account/:id`, read, async (req, reply) => {
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
    write,
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
}

function registerWms(app: FastifyInstance, wms: SimSet['wms'], read: RouteHooks): void {
  app.get<{ Querystring: { sku?: string } }>('/sim/wms/inventory', read, async (req, reply) => {
    const sku = typeof req.query.sku === 'string' ? req.query.sku : undefined;
    return page(reply, req.query, (o, l) => wms.listInventory(o, l, sku));
  });
  app.get('/sim/wms/orders', read, async (req, reply) =>
    page(reply, req.query, (o, l) => wms.listOrders(o, l), wms.evictedCounts.orders),
  );
  app.get<{ Params: { id: string } }>('/sim/wms/orders/:id', read, async (req, reply) => {
    return wms.order(req.params.id) ?? notFound(reply, `Warehouse order ${req.params.id}`);
  });
  app.get('/sim/wms/milestones', read, async (req, reply) =>
    page(reply, req.query, (o, l) => wms.listMilestones(o, l), wms.evictedCounts.milestones),
  );
}
