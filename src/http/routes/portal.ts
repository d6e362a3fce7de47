/**
 * The customer portal API (`portal:read`, with a key bound to one customer: `crossdock keys
 * create --customer <id> --scopes portal:read`): that customer's orders, shipments with tracking,
 * invoices and credit memos, and returns, in customer-facing words only.
 *
 * Isolation: the customer comes from the key, never from the request. Another customer's order
 * answers 404 exactly like an order that does not exist (same status, same detail), so order ids
 * cannot be probed; a list cursor must point into this customer's own orders (see
 * `experience-paging.ts`). A key bound to a customer holds no other scope (`hasScope`), so it gets
 * 403 on every route outside `/api/v1/portal/`; a `portal:read` key bound to no customer (a staff
 * or admin key) gets 403 here, since every portal answer is one customer's.
 *
 * What a portal answer carries is an allow-list (`src/workflows/experience/views.ts`): no hold
 * reasons, owners or details, no rejection reasons or notes, no credit figures, no internal ids
 * beyond the ERP order number the customer knows.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SalesOrder } from '../../domain/index.js';
import type { Store } from '../../ports/index.js';
import {
  orderNumberOf,
  type PortalInvoiceListItem,
  type PortalReturnListItem,
  portalInvoicesOf,
  portalOrderSummary,
  portalOrderView,
  portalReturnsOf,
  portalShipmentsOf,
} from '../../workflows/experience/views.js';
import { portalCustomer, requireScope } from '../middleware/index.js';
import { httpProblem, ProblemError, problemTypes } from '../problem.js';
import { customerOrderPage, PageQuery } from './experience-paging.js';

export interface PortalRoutesDeps {
  store: Store;
}

const IdParams = z.object({ id: z.string().min(1).max(64) });

const InvoiceListQuery = PageQuery.extend({
  status: z.enum(['open', 'paid', 'credited']).optional(),
  kind: z.enum(['invoice', 'credit_memo']).optional(),
});

export function registerPortalRoutes(app: FastifyInstance, deps: PortalRoutesDeps): void {
  const scope = { preHandler: requireScope('portal:read') };

  /** The customer's order, or 404 whether it does not exist or is another customer's. */
  async function ownOrder(customerId: string, params: unknown): Promise<SalesOrder> {
    const { id } = IdParams.parse(params);
    const order = await deps.store.getOrder(id);
    if (order === null || order.customerId !== customerId) {
      throw new ProblemError(httpProblem(404, `order ${id} not found`, problemTypes.notFound));
    }
    return order;
  }

  app.get('/api/v1/portal/orders', scope, async (request) => {
    const customerId = portalCustomer(request);
    const q = PageQuery.parse(request.query);
    const page = await customerOrderPage(deps.store, customerId, { limit: q.limit, after: q.cursor });
    return { items: page.orders.map(portalOrderSummary), next: page.next };
  });

  // Across the customer's orders: a page covers up to `limit` orders (oldest first) and lists
  // their invoices (or returns), so each request reads a bounded number of orders; a page may
  // hold fewer items than `limit`, or none, while `next` is not null.
  app.get('/api/v1/portal/invoices', scope, async (request) => {
    const customerId = portalCustomer(request);
    const q = InvoiceListQuery.parse(request.query);
    const page = await customerOrderPage(deps.store, customerId, { limit: q.limit, after: q.cursor });
    const items: PortalInvoiceListItem[] = page.orders.flatMap((o) =>
      portalInvoicesOf(o)
        .filter(
          (i) =>
            (q.status === undefined || i.status === q.status) && (q.kind === undefined || i.kind === q.kind),
        )
        .map((i) => ({ orderId: o.id, orderNumber: orderNumberOf(o), ...i })),
    );
    return { items, next: page.next };
  });

  app.get('/api/v1/portal/returns', scope, async (request) => {
    const customerId = portalCustomer(request);
    const q = PageQuery.parse(request.query);
    const page = await customerOrderPage(deps.store, customerId, { limit: q.limit, after: q.cursor });
    const items: PortalReturnListItem[] = page.orders.flatMap((o) =>
      portalReturnsOf(o).map((r) => ({ orderId: o.id, orderNumber: orderNumberOf(o), ...r })),
    );
    return { items, next: page.next };
  });

  app.get('/api/v1/portal/orders/:id', scope, async (request) =>
    portalOrderView(await ownOrder(portalCustomer(request), request.params)),
  );

  app.get('/api/v1/portal/orders/:id/shipments', scope, async (request) => {
    const order = await ownOrder(portalCustomer(request), request.params);
    return { orderId: order.id, items: portalShipmentsOf(order) };
  });

  app.get('/api/v1/portal/orders/:id/invoices', scope, async (request) => {
    const order = await ownOrder(portalCustomer(request), request.params);
    return { orderId: order.id, items: portalInvoicesOf(order) };
  });

  app.get('/api/v1/portal/orders/:id/returns', scope, async (request) => {
    const order = await ownOrder(portalCustomer(request), request.params);
    return { orderId: order.id, items: portalReturnsOf(order) };
  });
}
