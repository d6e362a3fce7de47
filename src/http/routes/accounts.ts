/**
 * The CRM's account view (`orders:read`): one customer account's orders as a sales rep needs
 * them on the account page, in one request per page.
 *
 * `GET /api/v1/accounts/{customerId}/view` — the customer by its hub id, or by its CRM account id
 * (the CRM's own key for it, `externalIds.crm`), so the CRM can call it with what it has. Per
 * order: state, customer-facing status, next expected milestone, open holds with owner, reason,
 * detail and age, shipments with carrier, tracking number and status, invoices and credit memos
 * and returns as the order holds them, cross-references. Oldest first, paged by an opaque cursor,
 * filterable by state.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Customer } from '../../domain/index.js';
import type { Clock, Store } from '../../ports/index.js';
import { accountOrderView } from '../../workflows/experience/views.js';
import { requireScope } from '../middleware/index.js';
import { httpProblem, ProblemError, problemTypes } from '../problem.js';
import { customerOrderPage, StatePageQuery } from './experience-paging.js';

export interface AccountRoutesDeps {
  store: Store;
  clock: Clock;
}

const AccountParams = z.object({ customerId: z.string().min(1).max(128) });

/** The customer a CRM or hub id names: the hub id first, then the CRM account id; null when neither. */
export async function resolveAccount(
  store: Pick<Store, 'getCustomer' | 'findCustomerByExternalId'>,
  id: string,
): Promise<Customer | null> {
  return (await store.getCustomer(id)) ?? (await store.findCustomerByExternalId('crm', id));
}

export function registerAccountRoutes(app: FastifyInstance, deps: AccountRoutesDeps): void {
  app.get(
    '/api/v1/accounts/:customerId/view',
    { preHandler: requireScope('orders:read') },
    async (request) => {
      const { customerId } = AccountParams.parse(request.params);
      const q = StatePageQuery.parse(request.query);
      const customer = await resolveAccount(deps.store, customerId);
      if (customer === null) {
        throw new ProblemError({
          ...httpProblem(
            404,
            `no customer account with hub id or CRM account id ${customerId}`,
            problemTypes.notFound,
          ),
          errors: [{ field: 'customerId', message: 'no customer with this hub id or CRM account id' }],
        });
      }
      const page = await customerOrderPage(deps.store, customer.id, {
        limit: q.limit,
        after: q.cursor,
        states: q.state,
      });
      const now = deps.clock.now();
      return {
        account: {
          id: customer.id,
          accountNumber: customer.accountNumber,
          name: customer.name,
          status: customer.status,
          segment: customer.segment,
          externalIds: customer.externalIds,
        },
        filter: { state: q.state ?? null },
        orders: page.orders.map((o) => accountOrderView(o, now)),
        next: page.next,
      };
    },
  );
}
