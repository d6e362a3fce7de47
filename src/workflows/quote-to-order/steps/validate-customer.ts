/**
 * Step 1, customer validation: the customer is known, active, and has what an ERP order needs.
 * An unknown CRM account is linked to an existing customer or created, per segment policy;
 * otherwise the order is held for master data. Once master data released such a hold
 * (`ctx.approved`), an inactive customer or one without a billing address passes; a customer
 * the hub cannot find still holds the order (there is nobody to order for).
 */
import type { Customer } from '../../../domain/index.js';
import type { StepReport } from '../../engine/index.js';
import type { QuoteToOrderDeps, RunContext } from '../context.js';
import { policyFor } from '../policy.js';

export const validateCustomerStepId = 'validate-customer';

export async function validateCustomer(ctx: RunContext, deps: QuoteToOrderDeps): Promise<StepReport> {
  const ref = ctx.submission.customer;
  let customer: Customer | null = null;
  let how = 'id';
  if (ref.id) customer = await deps.store.getCustomer(ref.id);
  else if (ref.system && ref.externalId) {
    how = `${ref.system} external id`;
    customer = await deps.store.findCustomerByExternalId(ref.system, ref.externalId);
  }

  if (!customer && ref.system === 'crm' && ref.externalId) {
    const policy = deps.policies.default;
    if (policy.unknownAccount === 'hold') {
      return hold(ctx, `CRM account ${ref.externalId} is not known to the hub`, { crmId: ref.externalId });
    }
    const account = await deps.crm.getAccount(ref.externalId);
    if (!account)
      return hold(ctx, `CRM account ${ref.externalId} does not exist in the CRM`, { crmId: ref.externalId });
    // Link: an existing customer with the same account number (a CRM record created by hand).
    if (account.accountNumber) {
      const existing = await deps.store.findCustomerByExternalId('account', account.accountNumber);
      if (existing) {
        customer = { ...existing, externalIds: { ...existing.externalIds, crm: account.crmId } };
        ctx.customerWrites.push(customer);
        how = 'linked by account number';
      }
    }
    if (!customer && policy.unknownAccount === 'link_or_create') {
      const billing = account.addresses.find((a) => a.kind === 'billing') ?? account.addresses[0];
      customer = {
        id: `cus_crm_${account.crmId}`,
        accountNumber: account.accountNumber ?? `CRM-${account.crmId}`,
        name: account.name,
        status: account.active ? 'active' : 'inactive',
        segment: account.segment ?? 'new_business',
        contacts: [],
        addresses: billing ? account.addresses : [],
        currency: ctx.submission.currency,
        creditLimit: policyFor(deps.policies, account.segment ?? 'new_business').credit.newAccountLimit,
        paymentTerms: 'NET30',
        taxStatus: 'taxable',
        exemptionCertificates: [],
        externalIds: { crm: account.crmId },
        updatedAt: ctx.now.toISOString(),
      };
      ctx.customerWrites.push(customer);
      how = 'created from CRM account';
    }
    if (!customer)
      return hold(ctx, `CRM account ${ref.externalId} could not be linked`, { crmId: ref.externalId });
  }

  if (!customer) {
    return hold(ctx, `customer ${ref.id ?? `${ref.system}:${ref.externalId}`} is not known`, { ref });
  }
  ctx.customer = customer;
  ctx.policy = policyFor(deps.policies, customer.segment);

  if (customer.status === 'blocked') {
    ctx.rejection = { code: 'customer_blocked', detail: `customer ${customer.id} is blocked` };
    return { outcome: 'reject', summary: { customerId: customer.id, status: customer.status } };
  }
  const findings: string[] = [];
  if (customer.status !== 'active') findings.push(`customer ${customer.id} is ${customer.status}`);
  if (!customer.addresses.some((a) => a.kind === 'billing'))
    findings.push(`customer ${customer.id} has no billing address`);
  if (findings.length > 0 && !ctx.approved.has('customer_data')) {
    return hold(ctx, findings[0]!, { customerId: customer.id });
  }
  return {
    outcome: 'passed',
    summary: {
      customerId: customer.id,
      segment: customer.segment,
      resolvedBy: how,
      ...(findings.length > 0 ? { approvedDespite: findings } : {}),
    },
  };
}

function hold(ctx: RunContext, detail: string, data: Record<string, unknown>): StepReport {
  ctx.holds.push({ reason: 'customer_data', detail, data });
  return { outcome: 'hold', summary: { reason: 'customer_data', detail } };
}
