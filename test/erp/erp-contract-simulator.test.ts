import { erpPortContract } from '../../src/connectors/contract/index.js';
import type { Address } from '../../src/domain/index.js';
import { createSimulators } from '../../src/simulators/index.js';

// The ERP simulator must keep the same promises as the real ERP connectors.
erpPortContract('ERP simulator', async () => {
  const sims = createSimulators({ seed: 42, clock: { now: () => new Date() } });
  const { erp, picks, data } = sims;
  const inPolicy = picks.inPolicy.customer;
  const seed = data.erpCustomers.find((c) => c.externalId === inPolicy.id);
  const overSeed = data.erpCustomers.find((c) => c.externalId === picks.overCredit.id);
  if (!seed || !overSeed) throw new Error('simulator demo data lacks the ERP customers of its picks');
  const lines = picks.inPolicy.lines;
  const warehouseId = lines[0]?.warehouseId ?? 'WH-EAST';
  const skusInStock = [
    ...new Set(lines.filter((l) => l.warehouseId === warehouseId).map((l) => l.sku)),
  ].slice(0, 2);
  const shipTo: Address = seed.addresses.find((a) => a.kind === 'shipping') ?? (seed.addresses[0] as Address);
  return {
    port: erp,
    inCreditCustomer: { erpId: seed.erpId, externalId: seed.externalId },
    overLimitCustomer: { erpId: overSeed.erpId },
    skusInStock,
    warehouseId,
    currency: seed.currency,
    shipTo,
    advanceFulfillment: async (erpOrderId) => {
      erp.advanceShipment(erpOrderId, 'done');
    },
    issueInvoices: async (erpOrderId) => {
      erp.invoiceOrder(erpOrderId);
    },
    // The simulator has no network timeout; its injected 503 is the transient it can produce.
    timingOutPort: async () => {
      sims.faults.erp.configure({ errorRate: 1 });
      return { port: erp, dispose: async () => void sims.faults.erp.reset() };
    },
    refusingPort: async () => {
      sims.faults.erp.configure({ down: true });
      return { port: erp, dispose: async () => void sims.faults.erp.reset() };
    },
    dispose: async () => undefined,
  };
});
