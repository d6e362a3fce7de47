/**
 * Step 2, contract pricing: every line's price is checked against the customer's agreement
 * (within its tolerance), or against the list price where there is none. Once pricing released
 * the order's pricing hold (`ctx.approved`), the submitted prices stand: deviations are still
 * recorded in the timeline, and hold nothing.
 */
import type { StepReport } from '../../engine/index.js';
import type { QuoteToOrderDeps, RunContext } from '../context.js';

export const confirmPricingStepId = 'confirm-pricing';

export async function confirmPricing(ctx: RunContext, deps: QuoteToOrderDeps): Promise<StepReport> {
  const customer = ctx.customer;
  if (!customer) return { outcome: 'skipped', summary: { because: 'no customer' } };
  const skus = ctx.lines.map((l) => l.sku);
  const agreements = await deps.store.getPriceAgreements(customer.id, skus, ctx.today);
  const bySku = new Map(agreements.map((a) => [a.sku, a]));
  const offending: {
    lineNo: number;
    sku: string;
    submitted: number;
    expected: number;
    tolerancePct: number;
  }[] = [];
  let contractLines = 0;
  for (const line of ctx.lines) {
    const agreement = bySku.get(line.sku);
    const product = ctx.products.get(line.sku);
    const expected = agreement ? agreement.unitPrice : (product?.listPrice ?? 0);
    const tolerance = agreement ? agreement.tolerancePct : ctx.policy.pricing.listPriceTolerancePct;
    if (agreement) contractLines++;
    line.agreedPrice = expected;
    const deviation =
      expected === 0
        ? line.unitPrice === 0
          ? 0
          : 100
        : (Math.abs(line.unitPrice - expected) / expected) * 100;
    if (deviation > tolerance + 1e-9) {
      offending.push({
        lineNo: line.lineNo,
        sku: line.sku,
        submitted: line.unitPrice,
        expected,
        tolerancePct: tolerance,
      });
    }
  }
  if (offending.length > 0 && ctx.approved.has('pricing')) {
    return {
      outcome: 'passed',
      summary: { lines: ctx.lines.length, contractLines, approvedDespite: offending },
    };
  }
  if (offending.length > 0) {
    const first = offending[0]!;
    ctx.holds.push({
      reason: 'pricing',
      detail: `${offending.length} line(s) outside the agreed price; line ${first.lineNo} ${first.sku}: ${first.submitted} vs ${first.expected} (±${first.tolerancePct}%)`,
      data: { lines: offending },
    });
    return { outcome: 'hold', summary: { reason: 'pricing', offending: offending.length, contractLines } };
  }
  return { outcome: 'passed', summary: { lines: ctx.lines.length, contractLines } };
}
