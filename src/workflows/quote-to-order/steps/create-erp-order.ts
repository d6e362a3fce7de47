/**
 * Step 7, ERP sales-order creation: create (idempotent by the hub order id, so a repeated call
 * never creates a second ERP order) and confirm. The ERP has the last word on credit: a refusal
 * at confirmation becomes a credit hold carrying the ERP's own message.
 */
import { CrossdockError, type Customer, type SalesOrder } from '../../../domain/index.js';
import type { ErpOrderRef, ErpPort } from '../../../ports/index.js';

export const createErpOrderStepId = 'create-erp-order';

export interface ErpStepResult {
  erpCustomerId: string;
  customerCreated: boolean;
  ref: ErpOrderRef;
  state: string;
}

/** Runs against the ERP; throws CrossdockError on any failure (typed by the connector). */
export async function createErpOrder(
  order: SalesOrder,
  customer: Customer,
  erp: ErpPort,
): Promise<ErpStepResult> {
  let erpCustomerId = customer.externalIds.erp;
  let customerCreated = false;
  if (!erpCustomerId) {
    const created = await erp.createCustomer({
      externalId: customer.id,
      name: customer.name,
      addresses: customer.addresses,
      creditLimit: customer.creditLimit,
      currency: customer.currency,
      paymentTerms: customer.paymentTerms,
      taxExempt: customer.taxStatus === 'exempt',
    });
    erpCustomerId = created.erpId;
    customerCreated = true;
  }
  const lines = order.lines.flatMap((l) => {
    const shipped = l.allocations.map((a) => ({
      sku: l.sku,
      quantity: a.quantity,
      unitPrice: l.unitPrice,
      warehouseId: a.warehouseId,
    }));
    return l.backorderedQuantity > 0
      ? [...shipped, { sku: l.sku, quantity: l.backorderedQuantity, unitPrice: l.unitPrice }]
      : shipped;
  });
  const ref = await erp.createSalesOrder({
    idempotencyKey: order.id,
    hubOrderId: order.id,
    erpCustomerId,
    ...(order.poNumber ? { poNumber: order.poNumber } : {}),
    currency: order.currency,
    shipTo: order.shipTo,
    ...(order.requestedDate ? { requestedDate: order.requestedDate } : {}),
    lines,
  });
  const status = await erp.confirmSalesOrder(ref.erpOrderId);
  if (status.state === 'draft' || status.state === 'quotation' || status.state === 'cancelled') {
    throw CrossdockError.policyViolation(
      `${erp.system} left order ${ref.erpOrderNumber} in state ${status.state}`,
      {
        owner: 'customer_service',
        details: { erpOrderId: ref.erpOrderId, state: status.state },
      },
    );
  }
  return { erpCustomerId, customerCreated, ref, state: status.state };
}
