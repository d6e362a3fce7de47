/**
 * Step 1b, duplicate purchase order: the customer already has an open order (not rejected,
 * cancelled or closed) with the same PO number. Distributors see this when a buyer re-sends a
 * PO by mail and the rep keys it in again next to the CRM conversion: two orders, one PO, goods
 * shipped twice. Whether it is a repeat or a genuine second order only sales can tell, so the
 * new order goes on a `duplicate_po` hold owned by sales (a segment's policy may allow it).
 *
 * Why a check and not a unique index like the quote key: a duplicate PO is not refused, it is
 * held; and the segment policy decides whether it applies at all. Two orders with one PO that
 * commit within the same few milliseconds from different quotes can both pass: the unique quote
 * key covers the common case of one quote posted twice.
 */
import { type OrderState, terminalStates } from '../../../domain/index.js';
import type { StepReport } from '../../engine/index.js';
import type { QuoteToOrderDeps, RunContext } from '../context.js';

export const checkDuplicatePoStepId = 'check-duplicate-po';

/** Open orders: anything not finished one way or the other. */
const isOpen = (state: OrderState): boolean => !terminalStates.has(state);

/** Whether the step has anything to check: a PO number, a customer, and the policy asks for it. */
export function checksDuplicatePo(ctx: RunContext): boolean {
  return ctx.submission.poNumber !== undefined && ctx.customer !== null;
}

export async function checkDuplicatePo(ctx: RunContext, deps: QuoteToOrderDeps): Promise<StepReport> {
  const po = ctx.submission.poNumber;
  const customer = ctx.customer;
  if (po === undefined || customer === null) return { outcome: 'skipped', summary: { because: 'no PO' } };
  if (ctx.policy.duplicatePo === 'allow' || ctx.approved.has('duplicate_po')) {
    return {
      outcome: 'passed',
      summary: {
        poNumber: po,
        checked: false,
        because: ctx.approved.has('duplicate_po') ? 'approved' : 'policy',
      },
    };
  }
  const others = (await deps.store.findOrdersByPo(customer.id, po, 20)).filter(
    (o) => o.id !== ctx.orderId && isOpen(o.state),
  );
  if (others.length === 0) return { outcome: 'passed', summary: { poNumber: po, openOrders: 0 } };
  const ids = others.map((o) => o.id);
  ctx.holds.push({
    reason: 'duplicate_po',
    detail: `PO ${po} of customer ${customer.id} is already on open order ${ids.join(', ')}`,
    data: { poNumber: po, orders: others.map((o) => ({ orderId: o.id, state: o.state })) },
  });
  return { outcome: 'hold', summary: { reason: 'duplicate_po', poNumber: po, orders: ids } };
}
