/**
 * Step 4, credit: open receivables and unbilled orders (the ERP's exposure) plus this order
 * against the customer's limit; small orders are approved automatically while the customer is
 * within the limit. A credit approval is counted at once in the exposure cache, and given back
 * if the order does not end accepted, so concurrent orders cannot both slip under the limit.
 * Once credit released the order's credit hold (`ctx.approved`), the order passes whatever the
 * exposure, and is counted in it like any other.
 *
 * The ERP's exposure is recorded on the timeline in its parts where the ERP gives them (open
 * receivables, the overdue part of them, confirmed orders not invoiced yet), and overdue
 * receivables over the segment's `credit.overdue` policy hold the order for credit even inside
 * the limit: a customer who does not pay what is due gets no more goods on account until the
 * credit desk says so.
 */
import { CrossdockError } from '../../../domain/index.js';
import type { StepReport } from '../../engine/index.js';
import type { QuoteToOrderDeps, RunContext } from '../context.js';

export const checkCreditStepId = 'check-credit';

export async function checkCredit(
  ctx: RunContext,
  deps: QuoteToOrderDeps,
): Promise<StepReport & { reserved?: { erpCustomerId: string; amount: number } }> {
  const customer = ctx.customer;
  if (!customer) return { outcome: 'skipped', summary: { because: 'no customer' } };
  const erpCustomerId = customer.externalIds.erp;
  if (!erpCustomerId) {
    // A customer created from the CRM just now: nothing is owed yet; its limit is the policy's.
    const fits = ctx.total <= customer.creditLimit || ctx.approved.has('credit');
    if (!fits) {
      ctx.holds.push({
        reason: 'credit',
        detail: `order ${ctx.total.toFixed(2)} exceeds the new account limit ${customer.creditLimit.toFixed(2)}`,
        data: { limit: customer.creditLimit, exposure: 0, orderTotal: ctx.total },
      });
      return {
        outcome: 'hold',
        summary: { reason: 'credit', limit: customer.creditLimit, orderTotal: ctx.total },
      };
    }
    return {
      outcome: 'passed',
      summary: { limit: customer.creditLimit, exposure: 0, orderTotal: ctx.total, source: 'policy' },
    };
  }
  let credit: Awaited<ReturnType<typeof deps.credit.get>>;
  try {
    credit = await deps.credit.get(erpCustomerId);
  } catch (err) {
    if (err instanceof CrossdockError) throw err;
    throw CrossdockError.downstreamOutage(`credit exposure unavailable from ${deps.erp.system}`, {
      cause: err,
    });
  }
  const after = credit.exposure + ctx.total;
  const autoApproved =
    ctx.total < ctx.policy.credit.autoApproveBelow && credit.exposure <= credit.creditLimit;
  const summary: Record<string, unknown> = {
    limit: credit.creditLimit,
    exposure: round2(credit.exposure),
    orderTotal: ctx.total,
    source: credit.source,
    autoApproved,
  };
  if (credit.openReceivables !== undefined) summary['openReceivables'] = round2(credit.openReceivables);
  if (credit.overdueReceivables !== undefined)
    summary['overdueReceivables'] = round2(credit.overdueReceivables);
  if (credit.uninvoicedOrders !== undefined) summary['uninvoicedOrders'] = round2(credit.uninvoicedOrders);
  const overdue = overdueBreach(
    credit.overdueReceivables ?? 0,
    credit.creditLimit,
    ctx.policy.credit.overdue,
  );
  if (overdue && !ctx.approved.has('credit')) {
    ctx.holds.push({
      reason: 'credit',
      detail: `overdue receivables ${round2(credit.overdueReceivables ?? 0).toFixed(2)} exceed ${overdue}`,
      data: { ...summary, overdueLimit: overdue },
    });
    return { outcome: 'hold', summary: { ...summary, reason: 'credit', overdueLimit: overdue } };
  }
  if (after <= credit.creditLimit || autoApproved || ctx.approved.has('credit')) {
    deps.credit.add(erpCustomerId, ctx.total);
    const approvedDespite = after > credit.creditLimit && !autoApproved;
    return {
      outcome: 'passed',
      summary: approvedDespite ? { ...summary, approvedDespite: 'credit limit' } : summary,
      reserved: { erpCustomerId, amount: ctx.total },
    };
  }
  ctx.holds.push({
    reason: 'credit',
    detail: `exposure ${round2(credit.exposure).toFixed(2)} + order ${ctx.total.toFixed(2)} exceeds the credit limit ${credit.creditLimit.toFixed(2)}`,
    data: summary,
  });
  return { outcome: 'hold', summary: { ...summary, reason: 'credit' } };
}

/** The limit overdue receivables exceed under the policy, in words; null when within it. */
function overdueBreach(
  overdue: number,
  creditLimit: number,
  policy: { maxAmount: number | null; maxPctOfLimit: number | null },
): string | null {
  if (overdue <= 0) return null;
  if (policy.maxAmount !== null && overdue > policy.maxAmount) {
    return `the allowed overdue amount ${policy.maxAmount.toFixed(2)}`;
  }
  if (policy.maxPctOfLimit !== null && overdue > (creditLimit * policy.maxPctOfLimit) / 100) {
    return `${policy.maxPctOfLimit}% of the credit limit ${creditLimit.toFixed(2)}`;
  }
  return null;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
