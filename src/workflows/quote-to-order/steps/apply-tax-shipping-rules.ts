/**
 * Step 5, tax and shipping rules: tax exemption needs a valid certificate for the destination;
 * hazardous goods may not travel by some methods or to some destinations; embargoed
 * destinations are refused outright. A tax or shipping-rule hold its owner released
 * (`ctx.approved`) is not raised again; an embargo still rejects.
 */
import type { StepReport } from '../../engine/index.js';
import type { QuoteToOrderDeps, RunContext } from '../context.js';

export const applyTaxShippingRulesStepId = 'apply-tax-shipping-rules';

export function applyTaxShippingRules(ctx: RunContext, deps: QuoteToOrderDeps): StepReport {
  const rules = deps.policies.shipping;
  const shipTo = ctx.submission.shipTo;
  const method = ctx.submission.shippingMethod;
  if (rules.embargoedCountries.includes(shipTo.country)) {
    ctx.rejection = {
      code: 'embargoed_destination',
      detail: `the distributor does not ship to ${shipTo.country}`,
    };
    return { outcome: 'reject', summary: { country: shipTo.country } };
  }
  const findings: string[] = [];
  const customer = ctx.customer;
  if (customer?.taxStatus === 'exempt' && !ctx.approved.has('tax')) {
    const region = shipTo.region ?? '';
    const certs = customer.exemptionCertificates.filter((c) => c.region === region || c.region === '*');
    const valid = certs.find((c) => c.expiresOn >= ctx.today);
    if (!valid) {
      const expired = certs.sort((a, b) => b.expiresOn.localeCompare(a.expiresOn))[0];
      const detail = expired
        ? `tax exemption certificate ${expired.id} for ${expired.region} expired on ${expired.expiresOn}`
        : `no tax exemption certificate for ${region || shipTo.country}`;
      ctx.holds.push({ reason: 'tax', detail, data: { region, certificates: certs.map((c) => c.id) } });
      findings.push('tax');
    }
  }
  const hazmatSkus = ctx.lines.filter((l) => ctx.products.get(l.sku)?.hazmat).map((l) => l.sku);
  const shippingApproved = ctx.approved.has('shipping_rule');
  if (hazmatSkus.length > 0 && rules.hazmatForbiddenMethods.includes(method) && !shippingApproved) {
    ctx.holds.push({
      reason: 'shipping_rule',
      detail: `hazardous materials (${hazmatSkus.join(', ')}) may not ship by ${method}`,
      data: { skus: hazmatSkus, method },
    });
    findings.push('hazmat_method');
  }
  for (const r of shippingApproved ? [] : rules.restricted) {
    if (r.country !== shipTo.country) continue;
    if (r.regions.length > 0 && !r.regions.includes(shipTo.region ?? '')) continue;
    if (r.appliesTo === 'hazmat' && hazmatSkus.length === 0) continue;
    ctx.holds.push({
      reason: 'shipping_rule',
      detail: r.reason,
      data: { country: r.country, region: shipTo.region },
    });
    findings.push('restricted_destination');
  }
  return {
    outcome: findings.length > 0 ? 'hold' : 'passed',
    summary: { taxStatus: customer?.taxStatus, hazmatLines: hazmatSkus.length, method, findings },
  };
}
