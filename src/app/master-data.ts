/**
 * Initial master-data load: the hub's copies of customers, products, contract prices and
 * inventory positions, read from the systems that own them. With the built-in simulators the
 * owners are the seeded CRM/ERP/WMS; a full sync with survivorship comes with the master-data
 * work (see ARCHITECTURE.md), this is the load that makes a fresh hub able to decide.
 */
import type { Customer } from '../domain/index.js';
import type { Store } from '../ports/index.js';
import type { DemoDataSet } from '../simulators/index.js';

/** The account number doubles as a cross-reference (`externalIds.account`) for linking CRM accounts. */
function withAccountRef(c: Customer): Customer {
  return c.externalIds['account'] ? c : { ...c, externalIds: { ...c.externalIds, account: c.accountNumber } };
}

export async function loadDemoMasterData(
  store: Store,
  data: DemoDataSet,
): Promise<{ customers: number; products: number; agreements: number; positions: number }> {
  await store.upsertCustomers(data.customers.map(withAccountRef));
  await store.upsertProducts(data.products);
  await store.upsertPriceAgreements(data.priceAgreements);
  await store.upsertInventoryPositions(data.inventory);
  return {
    customers: data.customers.length,
    products: data.products.length,
    agreements: data.priceAgreements.length,
    positions: data.inventory.length,
  };
}

/** Which states each demo warehouse serves first (routing prefers them). */
export const demoWarehouseRegions: Record<string, string[]> = {
  'WH-EAST': [
    'ME',
    'NH',
    'VT',
    'MA',
    'RI',
    'CT',
    'NY',
    'NJ',
    'PA',
    'DE',
    'MD',
    'DC',
    'VA',
    'WV',
    'NC',
    'SC',
    'GA',
    'FL',
    'ON',
    'QC',
    'NS',
    'NB',
  ],
  'WH-CENTRAL': [
    'OH',
    'MI',
    'IN',
    'IL',
    'WI',
    'MN',
    'IA',
    'MO',
    'KY',
    'TN',
    'AL',
    'MS',
    'AR',
    'LA',
    'TX',
    'OK',
    'KS',
    'NE',
    'SD',
    'ND',
    'MB',
    'SK',
  ],
  'WH-WEST': ['CA', 'OR', 'WA', 'NV', 'AZ', 'UT', 'ID', 'MT', 'WY', 'CO', 'NM', 'AK', 'HI', 'BC', 'AB'],
};
