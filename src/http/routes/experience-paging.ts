/**
 * Paging and filters shared by the experience routes (the CRM's account view, the customer
 * portal): one customer's orders, oldest first, a page at a time behind an opaque cursor.
 *
 * Why opaque and checked: the store pages by "orders created after this order id". A raw id as
 * the cursor would let a portal client position a listing on another customer's order and learn
 * from the answer whether that id exists. So the cursor is encoded (`base64url` of a small JSON
 * object: clients must not build it), and a cursor whose order is not one of this customer's, or
 * does not exist, is refused with the same 422 naming `cursor`, whatever the reason.
 */
import { z } from 'zod';
import { OrderState, type SalesOrder } from '../../domain/index.js';
import type { Store } from '../../ports/index.js';
import { ProblemError, problemFromZod } from '../problem.js';

/** Largest page; the default is 20. */
export const maxPageSize = 100;

const cursorMessage = 'not a cursor this listing handed out (pass `next` from the previous page as is)';

/** Encodes the position after `orderId` as an opaque cursor. */
export function encodeCursor(orderId: string): string {
  return Buffer.from(JSON.stringify({ v: 1, after: orderId }), 'utf8').toString('base64url');
}

const CursorBody = z.object({ v: z.literal(1), after: z.string().min(1).max(64) });

/** The order id a cursor points after, or null when it is not one {@link encodeCursor} made. */
export function decodeCursor(cursor: string): string | null {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return null;
  try {
    const parsed = CursorBody.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data.after : null;
  } catch {
    return null;
  }
}

const Cursor = z.string().transform((value, ctx) => {
  const after = decodeCursor(value);
  if (after === null) {
    ctx.addIssue({ code: 'custom', message: cursorMessage });
    return z.NEVER;
  }
  return after;
});

const States = z
  .union([z.string(), z.array(z.string())])
  .transform((v) =>
    (Array.isArray(v) ? v : [v])
      .flatMap((s) => s.split(','))
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  )
  .pipe(z.array(OrderState).min(1, 'give at least one state'));

/** Query of a paged listing: `limit` (1-100, default 20), `cursor`, and, where offered, `state` (repeated or comma separated). */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(maxPageSize).default(20),
  cursor: Cursor.optional(),
});

export const StatePageQuery = PageQuery.extend({ state: States.optional() });

/** A 422 problem naming `field` (the same shape zod failures get). */
export function fieldProblem(field: string, message: string): ProblemError {
  return new ProblemError(
    problemFromZod({ issues: [{ code: 'custom', path: [field], message }] }, `${field}: ${message}`),
  );
}

/** One page of a customer's orders and the cursor of the next page (null on the last). */
export interface OrderPage {
  orders: SalesOrder[];
  next: string | null;
}

/**
 * A page of `customerId`'s orders, oldest first. A cursor must point at one of this customer's
 * orders, else 422 naming `cursor` (see the file comment). Asks the store for one order more than
 * the page, so `next` is null on the last page (no empty page to follow).
 */
export async function customerOrderPage(
  store: Pick<Store, 'listOrders' | 'getOrder'>,
  customerId: string,
  query: { limit: number; after?: string | undefined; states?: string[] | undefined },
): Promise<OrderPage> {
  if (query.after !== undefined) {
    const anchor = await store.getOrder(query.after);
    if (anchor === null || anchor.customerId !== customerId) throw fieldProblem('cursor', cursorMessage);
  }
  const rows = await store.listOrders({
    customerId,
    limit: query.limit + 1,
    ...(query.after !== undefined ? { afterId: query.after } : {}),
    ...(query.states !== undefined ? { states: query.states } : {}),
  });
  const orders = rows.slice(0, query.limit);
  const more = rows.length > query.limit;
  return { orders, next: more && orders.length > 0 ? encodeCursor(orders.at(-1)!.id) : null };
}
