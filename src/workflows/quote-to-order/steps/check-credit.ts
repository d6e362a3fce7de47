/**
 * Step 4, credit: open receivables and unbilled orders (the ERP's exposure) plus this order
 * against the customer's limit; small orders are approved automatically while the customer is
 * within the limit. A credit approval is counted at once in the exposure cache, and given back
 * if the order does not end accepted, so concurrent orders cannot both slip under the limit.
 * Once credit released the order's credit hold (`ctx.approved`), the order passes whatever the
 * exposure, and is counted in it like any other.
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
  const summary = {
    limit: credit.creditLimit,
    exposure: round2(credit.exposure),
    orderTotal: ctx.total,
    source: credit.source,
    autoApproved,
  };
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

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
