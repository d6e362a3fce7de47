/**
 * The demo data set the simulators are seeded with: a distributor's customers, catalogue,
 * contract prices, stock in three warehouses and open receivables.
 *
 * Why generated rather than a fixture file: 1,000+ SKUs × 3 warehouses is too large to review
 * by hand, and the edge cases the hub must handle (over-credit, expired exemption certificate,
 * hazmat, out of stock everywhere, expired agreement) are placed on purpose, in known
 * proportions, so tests and benchmarks can pick them by trait (`demoPicks`). Everything is a
 * pure function of (seed, today): the same seed and clock give byte-identical data.
 */
import type { Address, Customer, InventoryPosition, PriceAgreement, Product, Uom } from '../domain/index.js';
import type { Clock, CrmAccount } from '../ports/index.js';
import { mulberry32, Rng, salesforceId } from './random.js';

/** A warehouse of the demo distributor. */
export interface DemoWarehouse {
  id: string;
  name: string;
  city: string;
  region: string;
  country: string;
}

/** The three demo warehouses; stock across them is deliberately uneven. */
export const demoWarehouses: readonly DemoWarehouse[] = [
  { id: 'WH-EAST', name: 'East DC', city: 'Allentown', region: 'PA', country: 'US' },
  { id: 'WH-CENTRAL', name: 'Central DC', city: 'Joliet', region: 'IL', country: 'US' },
  { id: 'WH-WEST', name: 'West DC', city: 'Ontario', region: 'CA', country: 'US' },
];

/** An open (unpaid) ERP invoice: the receivables part of a customer's credit exposure. */
export interface OpenReceivable {
  invoiceNumber: string;
  /** Hub customer id. */
  customerId: string;
  /** ERP customer id (`C-10001`). */
  erpCustomerId: string;
  amount: number;
  currency: string;
  dueOn: string;
}

/** ERP-native customer master record (what the ERP simulator stores). */
export interface ErpCustomerSeed {
  erpId: string;
  /** The hub customer id, stored by the ERP as its cross-reference. */
  externalId: string;
  name: string;
  creditLimit: number;
  currency: string;
  paymentTerms: string;
  taxExempt: boolean;
  blocked: boolean;
  addresses: Address[];
}

/** The whole seeded estate: canonical records plus each simulator's native view. */
export interface DemoDataSet {
  seed: number;
  /** YYYY-MM-DD, from the injected clock; agreement validity and ETAs are relative to it. */
  today: string;
  generatedAt: string;
  warehouses: readonly DemoWarehouse[];
  customers: Customer[];
  products: Product[];
  priceAgreements: PriceAgreement[];
  inventory: InventoryPosition[];
  receivables: OpenReceivable[];
  /** CRM-native accounts (Salesforce-like ids), one per customer. */
  crmAccounts: CrmAccount[];
  /** ERP-native customer records, one per customer. */
  erpCustomers: ErpCustomerSeed[];
}

/** Inputs of `generateDemoData`; sizes are overridable for small, fast tests. */
export interface DemoDataOptions {
  seed: number;
  clock: Clock;
  /** Default 240 (the brief asks for at least 200). */
  customerCount?: number;
  /** Default 1,200 (at least 1,000). */
  productCount?: number;
}

const DAY_MS = 86_400_000;

function addDays(today: string, days: number): string {
  return new Date(Date.parse(`${today}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

const round2 = (n: number): number => Math.round(n * 100) / 100;
const round4 = (n: number): number => Math.round(n * 10_000) / 10_000;

// --- name and address material ------------------------------------------------------------

const companyFirst = [
  'Harbor',
  'Summit',
  'Keystone',
  'Prairie',
  'Granite',
  'Cascade',
  'Riverbend',
  'Ironwood',
  'Bluewater',
  'Northstar',
  'Redwood',
  'Lakeshore',
  'Pioneer',
  'Frontier',
  'Copperline',
  'Evergreen',
  'Tri-County',
  'Midland',
  'Atlas',
  'Beacon',
  'Crossroads',
  'Heartland',
  'Maple Leaf',
  'Coastal',
  'Allied',
  'Capitol',
  'Sterling',
  'Westfield',
  'Oakridge',
  'Silverline',
  'Great Lakes',
  'Pinecrest',
  'Sawtooth',
  'Tidewater',
];
const companyTrade = [
  'Mechanical',
  'Electric',
  'Plumbing',
  'HVAC',
  'Industrial',
  'Fastener',
  'Safety',
  'Building',
  'Facility',
  'Janitorial',
  'Fluid Power',
  'Welding',
  'Hardware',
  'Construction',
  'Packaging',
];
const companySuffix = ['Supply Co.', 'Contractors', 'Inc.', 'LLC', 'Services', 'Group', 'Ltd.', 'Corp.'];

interface Place {
  city: string;
  region: string;
  postal: () => string;
  country: 'US' | 'CA';
}

function usPlace(rng: Rng, city: string, region: string, zipPrefix: string): Place {
  return {
    city,
    region,
    country: 'US',
    postal: () => `${zipPrefix}${String(rng.int(0, 99)).padStart(2, '0')}`,
  };
}

function caPlace(rng: Rng, city: string, region: string, fsa: string): Place {
  const letters = 'ABCEGHJKLMNPRSTVWXYZ';
  return {
    city,
    region,
    country: 'CA',
    postal: () => `${fsa} ${rng.int(1, 9)}${rng.pick(letters.split(''))}${rng.int(0, 9)}`,
  };
}

function places(rng: Rng): Place[] {
  return [
    usPlace(rng, 'Columbus', 'OH', '432'),
    usPlace(rng, 'Indianapolis', 'IN', '462'),
    usPlace(rng, 'Charlotte', 'NC', '282'),
    usPlace(rng, 'Denver', 'CO', '802'),
    usPlace(rng, 'Phoenix', 'AZ', '850'),
    usPlace(rng, 'Nashville', 'TN', '372'),
    usPlace(rng, 'Houston', 'TX', '770'),
    usPlace(rng, 'Kansas City', 'MO', '641'),
    usPlace(rng, 'Sacramento', 'CA', '958'),
    usPlace(rng, 'Portland', 'OR', '972'),
    usPlace(rng, 'Milwaukee', 'WI', '532'),
    usPlace(rng, 'Albany', 'NY', '122'),
    usPlace(rng, 'Richmond', 'VA', '232'),
    usPlace(rng, 'Salt Lake City', 'UT', '841'),
    usPlace(rng, 'Tampa', 'FL', '336'),
    caPlace(rng, 'Toronto', 'ON', 'M5V'),
    caPlace(rng, 'Mississauga', 'ON', 'L5B'),
    caPlace(rng, 'Calgary', 'AB', 'T2P'),
    caPlace(rng, 'Vancouver', 'BC', 'V6B'),
    caPlace(rng, 'Montréal', 'QC', 'H3B'),
  ];
}

const streets = [
  'Industrial Pkwy',
  'Commerce Dr',
  'Main St',
  'Enterprise Way',
  'Mill Rd',
  'Depot St',
  'Route 9',
];
const firstNames = [
  'Ana',
  'Ben',
  'Chloé',
  'Dev',
  'Erin',
  'Femi',
  'Grace',
  'Hiro',
  'Ines',
  'Jon',
  'Kara',
  'Luis',
];
const lastNames = ['Nguyen', 'Okafor', 'Patel', 'Quinn', 'Rossi', 'Schmidt', 'Tremblay', 'Walsh', 'Yilmaz'];

// --- catalogue material -------------------------------------------------------------------

interface Family {
  prefix: string;
  nouns: string[];
  uoms: Uom[];
  weight: [number, number];
  price: [number, number];
  shippingClass: Product['shippingClass'];
}

const families: Family[] = [
  {
    prefix: 'FAS',
    nouns: ['Hex Bolt', 'Lag Screw', 'Flat Washer', 'Anchor', 'Rivet'],
    uoms: ['BOX', 'EA', 'CASE'],
    weight: [0.2, 6],
    price: [3, 90],
    shippingClass: 'parcel',
  },
  {
    prefix: 'ELC',
    nouns: ['Breaker', 'Junction Box', 'Conduit Fitting', 'LED Panel', 'Contactor'],
    uoms: ['EA', 'BOX'],
    weight: [0.1, 8],
    price: [6, 450],
    shippingClass: 'parcel',
  },
  {
    prefix: 'CBL',
    nouns: ['THHN Wire', 'Cat6 Cable', 'Wire Rope', 'Chain', 'Hose'],
    uoms: ['M', 'FT'],
    weight: [0.05, 1.5],
    price: [0.4, 12],
    shippingClass: 'parcel',
  },
  {
    prefix: 'PLB',
    nouns: ['Ball Valve', 'PEX Elbow', 'Copper Tee', 'Check Valve', 'Pipe Nipple'],
    uoms: ['EA', 'BOX'],
    weight: [0.1, 5],
    price: [2, 220],
    shippingClass: 'parcel',
  },
  {
    prefix: 'SAF',
    nouns: ['Nitrile Gloves', 'Hard Hat', 'Safety Glasses', 'Hi-Vis Vest', 'Ear Plugs'],
    uoms: ['BOX', 'CASE', 'EA'],
    weight: [0.1, 4],
    price: [2, 80],
    shippingClass: 'parcel',
  },
  {
    prefix: 'BLK',
    nouns: ['Floor Absorbent', 'Rock Salt', 'Grout', 'Sand Blast Media', 'Epoxy Resin'],
    uoms: ['KG', 'LB'],
    weight: [1, 1],
    price: [0.8, 9],
    shippingClass: 'ltl',
  },
  {
    prefix: 'MRO',
    nouns: ['Pallet Rack Beam', 'Dock Plate', 'Steel Shelving', 'Work Bench', 'Drum Dolly'],
    uoms: ['EA', 'PAL'],
    weight: [15, 220],
    price: [90, 2400],
    shippingClass: 'oversize',
  },
  {
    prefix: 'JAN',
    nouns: ['Floor Cleaner', 'Degreaser', 'Hand Soap', 'Glass Cleaner', 'Disinfectant'],
    uoms: ['GAL', 'L', 'CASE'],
    weight: [1, 4],
    price: [4, 60],
    shippingClass: 'parcel',
  },
];
const grades = ['Grade 5', 'Grade 8', 'Zinc', 'Stainless', 'Heavy Duty', 'Pro', 'Standard', 'Contractor'];
const sizes = ['1/4"', '3/8"', '1/2"', '3/4"', '1"', 'M8', 'M10', 'Small', 'Large', '12 AWG', '14 AWG'];

const hazmatKinds: { name: string; unNumber: string; hazardClass: string; uom: Uom }[] = [
  { name: 'Spray Paint Aerosol', unNumber: 'UN1950', hazardClass: '2.1', uom: 'CASE' },
  { name: 'Paint Thinner', unNumber: 'UN1263', hazardClass: '3', uom: 'GAL' },
  { name: 'Flammable Solvent', unNumber: 'UN1993', hazardClass: '3', uom: 'L' },
  { name: 'Battery Acid', unNumber: 'UN2796', hazardClass: '8', uom: 'L' },
  { name: 'Muriatic Acid', unNumber: 'UN1789', hazardClass: '8', uom: 'GAL' },
  { name: 'Lithium-Ion Battery Pack', unNumber: 'UN3480', hazardClass: '9', uom: 'EA' },
  { name: 'Propane Cylinder', unNumber: 'UN1978', hazardClass: '2.1', uom: 'EA' },
];

// --- the generator ------------------------------------------------------------------------

type CustomerTrait =
  | 'normal'
  | 'inactive'
  | 'blocked'
  | 'over_credit'
  | 'near_credit'
  | 'exempt_valid'
  | 'exempt_expired';

/**
 * Builds the whole demo estate. Pure: same `seed` and same `clock.now()` day → same data.
 * Proportions (with the default sizes): 240 customers of which 6 inactive, 4 blocked, 6 over
 * and 6 near their credit limit (5%), 14 tax-exempt with valid certificates and 8 with only
 * expired ones; 1,200 SKUs of which 60 hazmat (5%), 48 out of stock everywhere with inbound
 * receipts, about a fifth stocked in one warehouse only.
 */
export function generateDemoData(options: DemoDataOptions): DemoDataSet {
  const rng = new Rng(mulberry32(options.seed));
  const now = options.clock.now();
  const today = now.toISOString().slice(0, 10);
  const generatedAt = now.toISOString();
  const customerCount = options.customerCount ?? 240;
  const productCount = options.productCount ?? 1200;

  const products = generateProducts(rng, productCount, generatedAt);
  const { customers, receivables, crmAccounts, erpCustomers } = generateCustomers(
    rng,
    customerCount,
    today,
    generatedAt,
    options.seed,
  );
  const inventory = generateInventory(rng, products, today, generatedAt);
  const priceAgreements = generateAgreements(rng, customers, products, today);

  return {
    seed: options.seed,
    today,
    generatedAt,
    warehouses: demoWarehouses,
    customers,
    products,
    priceAgreements,
    inventory,
    receivables,
    crmAccounts,
    erpCustomers,
  };
}

function generateProducts(rng: Rng, count: number, updatedAt: string): Product[] {
  const hazmatCount = Math.round(count * 0.05);
  const hazmatIdx = new Set(rng.shuffle([...Array(count).keys()]).slice(0, hazmatCount));
  const products: Product[] = [];
  const seenSkus = new Set<string>();
  for (let i = 0; i < count; i++) {
    let sku: string;
    let product: Product;
    if (hazmatIdx.has(i)) {
      const kind = rng.pick(hazmatKinds);
      do sku = `CHM-${rng.int(10000, 99999)}`;
      while (seenSkus.has(sku));
      product = {
        sku,
        name: `${kind.name} ${rng.pick(['1 qt', '1 gal', '5 gal', '12 oz', '20 lb', '48V'])}`,
        uom: kind.uom,
        weightKg: rng.float(0.5, 25, 2),
        hazmat: { unNumber: kind.unNumber, hazardClass: kind.hazardClass },
        shippingClass: 'hazmat',
        taxClass: 'standard',
        listPrice: rng.float(8, 320, 2),
        active: true,
        externalIds: {},
        updatedAt,
      };
    } else {
      const fam = rng.pick(families);
      do sku = `${fam.prefix}-${rng.int(10000, 99999)}`;
      while (seenSkus.has(sku));
      const uom = rng.pick(fam.uoms);
      const taxRoll = rng.next();
      product = {
        sku,
        name: `${rng.pick(fam.nouns)} ${rng.pick(sizes)} ${rng.pick(grades)}`,
        uom,
        weightKg: rng.float(fam.weight[0], fam.weight[1], 3),
        hazmat: null,
        shippingClass: fam.shippingClass,
        taxClass: taxRoll < 0.9 ? 'standard' : taxRoll < 0.97 ? 'reduced' : 'exempt',
        listPrice: rng.float(fam.price[0], fam.price[1], 2),
        // About 1% discontinued: still in the catalogue, not sellable.
        active: !rng.chance(0.01),
        externalIds: {},
        updatedAt,
      };
    }
    seenSkus.add(sku);
    product.externalIds = { erp: `P-${String(20001 + i)}`, wms: `ITM${String(500001 + i)}` };
    products.push(product);
  }
  return products;
}

function generateCustomers(
  rng: Rng,
  count: number,
  today: string,
  updatedAt: string,
  seed: number,
): Pick<DemoDataSet, 'customers' | 'receivables' | 'crmAccounts' | 'erpCustomers'> {
  const slots: CustomerTrait[] = [];
  const scale = count / 240;
  const push = (trait: CustomerTrait, n: number) => {
    for (let i = 0; i < Math.max(1, Math.round(n * scale)); i++) slots.push(trait);
  };
  push('inactive', 6);
  push('blocked', 4);
  push('over_credit', 6);
  push('near_credit', 6);
  push('exempt_valid', 14);
  push('exempt_expired', 8);
  while (slots.length < count) slots.push('normal');
  // Keep index 0 a plain, in-policy key account: the most convenient customer for smoke tests.
  const traits: CustomerTrait[] = ['normal', ...rng.shuffle(slots.slice(0, count - 1))];

  const placeList = places(rng);
  const customers: Customer[] = [];
  const receivables: OpenReceivable[] = [];
  const crmAccounts: CrmAccount[] = [];
  const erpCustomers: ErpCustomerSeed[] = [];
  const usedNames = new Set<string>();
  const sfOffset = 1_000_000 + (seed % 100_000) * 997;
  let invoiceNo = 50001;

  for (let i = 0; i < count; i++) {
    const trait = traits[i]!;
    const segRoll = rng.next();
    const segment =
      i === 0 ? 'key_account' : segRoll < 0.15 ? 'key_account' : segRoll < 0.8 ? 'standard' : 'new_business';
    let name: string;
    do name = `${rng.pick(companyFirst)} ${rng.pick(companyTrade)} ${rng.pick(companySuffix)}`;
    while (usedNames.has(name));
    usedNames.add(name);

    const place = rng.pick(placeList);
    const billing: Address = {
      id: `ADDR-${i + 1}-B`,
      kind: 'billing',
      name,
      line1: `${rng.int(10, 9800)} ${rng.pick(streets)}`,
      city: place.city,
      region: place.region,
      postalCode: place.postal(),
      country: place.country,
    };
    const addresses: Address[] = [billing];
    const shipCount = segment === 'key_account' ? rng.int(1, 3) : 1;
    for (let s = 0; s < shipCount; s++) {
      const sp = s === 0 ? place : rng.pick(placeList.filter((p) => p.country === place.country));
      addresses.push({
        id: `ADDR-${i + 1}-S${s + 1}`,
        kind: 'shipping',
        name: s === 0 ? `${name} Receiving` : `${name} ${sp.city} Branch`,
        line1: `${rng.int(10, 9800)} ${rng.pick(streets)}`,
        line2: rng.chance(0.3) ? `Dock ${rng.int(1, 12)}` : undefined,
        city: sp.city,
        region: sp.region,
        postalCode: sp.postal(),
        country: sp.country,
      });
    }
    for (const a of addresses) if (a.line2 === undefined) delete a.line2;

    const creditLimit =
      segment === 'key_account'
        ? rng.int(25, 100) * 10_000
        : segment === 'standard'
          ? rng.int(5, 30) * 5_000
          : rng.int(2, 10) * 2_500;

    const exposureShare =
      trait === 'over_credit'
        ? rng.float(1.0, 1.15, 3)
        : trait === 'near_credit'
          ? rng.float(0.93, 0.99, 3)
          : segment === 'new_business'
            ? rng.float(0, 0.3, 3)
            : rng.float(0.05, 0.5, 3);
    const open = round2(creditLimit * exposureShare);
    const erpId = `C-${10001 + i}`;
    const id = `CUST-${String(i + 1).padStart(5, '0')}`;
    const crmId = salesforceId('001', sfOffset + i * 7919);
    if (open > 0) {
      const parts = rng.int(1, 5);
      let left = open;
      for (let p = 0; p < parts; p++) {
        const amount = p === parts - 1 ? round2(left) : round2(left * rng.float(0.2, 0.6, 3));
        left = round2(left - amount);
        if (amount <= 0) continue;
        receivables.push({
          invoiceNumber: `INV-${invoiceNo++}`,
          customerId: id,
          erpCustomerId: erpId,
          amount,
          currency: 'USD',
          dueOn: addDays(today, rng.int(-45, 60)),
        });
      }
    }

    const exempt = trait === 'exempt_valid' || trait === 'exempt_expired';
    const certRegion = billing.region ?? billing.country;
    const exemptionCertificates = exempt
      ? [
          {
            id: `EXC-${certRegion}-${rng.int(100000, 999999)}`,
            region: certRegion,
            expiresOn:
              trait === 'exempt_valid' ? addDays(today, rng.int(60, 700)) : addDays(today, -rng.int(1, 400)),
          },
        ]
      : [];
    const status: Customer['status'] =
      trait === 'inactive' ? 'inactive' : trait === 'blocked' ? 'blocked' : 'active';
    const paymentTerms =
      segment === 'new_business' ? rng.pick(['NET15', 'NET30']) : rng.pick(['NET30', 'NET45', 'NET60']);
    const contactFirst = rng.pick(firstNames);
    const contactLast = rng.pick(lastNames);
    const domain = `${name
      .toLowerCase()
      .replace(/[^a-z]+/g, '')
      .slice(0, 18)}.example`;

    customers.push({
      id,
      accountNumber: `ACCT-${String(70001 + i)}`,
      name,
      status,
      segment,
      contacts: [
        {
          name: `${contactFirst} ${contactLast}`,
          email: `${contactFirst
            .normalize('NFD')
            .replace(/[^a-zA-Z]/g, '')
            .toLowerCase()}.${contactLast.toLowerCase()}@${domain}`,
          phone: `+1-${rng.int(200, 989)}-555-${String(rng.int(0, 9999)).padStart(4, '0')}`,
          role: 'purchasing',
        },
      ],
      addresses,
      currency: 'USD',
      creditLimit,
      paymentTerms,
      taxStatus: exempt ? 'exempt' : 'taxable',
      exemptionCertificates,
      externalIds: { crm: crmId, erp: erpId },
      updatedAt,
    });
    crmAccounts.push({
      crmId,
      name,
      accountNumber: `ACCT-${String(70001 + i)}`,
      addresses: addresses.map((a) => ({ ...a })),
      active: status === 'active',
      segment,
    });
    erpCustomers.push({
      erpId,
      externalId: id,
      name,
      creditLimit,
      currency: 'USD',
      paymentTerms,
      taxExempt: exempt,
      blocked: status === 'blocked',
      addresses: addresses.map((a) => ({ ...a })),
    });
  }
  return { customers, receivables, crmAccounts, erpCustomers };
}

function generateInventory(rng: Rng, products: Product[], today: string, asOf: string): InventoryPosition[] {
  const n = products.length;
  const order = rng.shuffle([...Array(n).keys()]);
  const outOfStock = new Set(order.slice(0, Math.round(n * 0.04)));
  const singleWh = new Set(order.slice(Math.round(n * 0.04), Math.round(n * 0.24)));
  const twoWh = new Set(order.slice(Math.round(n * 0.24), Math.round(n * 0.4)));
  const positions: InventoryPosition[] = [];
  products.forEach((p, i) => {
    const fractional =
      p.uom === 'KG' || p.uom === 'LB' || p.uom === 'M' || p.uom === 'FT' || p.uom === 'L' || p.uom === 'GAL';
    const qty = (min: number, max: number) => (fractional ? rng.float(min, max, 1) : rng.int(min, max));
    const inboundFor = () => [{ quantity: qty(20, 400), eta: addDays(today, rng.int(3, 21)) }];
    let warehouses: DemoWarehouse[];
    if (outOfStock.has(i)) warehouses = [...demoWarehouses];
    else if (singleWh.has(i)) warehouses = [rng.pick(demoWarehouses)];
    else if (twoWh.has(i)) warehouses = rng.shuffle([...demoWarehouses]).slice(0, 2);
    else warehouses = [...demoWarehouses];
    // EAST is the big DC; WEST carries less.
    const scale: Record<string, number> = { 'WH-EAST': 1, 'WH-CENTRAL': 0.6, 'WH-WEST': 0.35 };
    for (const wh of warehouses) {
      if (outOfStock.has(i)) {
        positions.push({
          sku: p.sku,
          warehouseId: wh.id,
          onHand: 0,
          allocated: 0,
          reserved: 0,
          available: 0,
          inbound: wh.id === 'WH-EAST' || rng.chance(0.4) ? inboundFor() : [],
          asOf,
        });
        continue;
      }
      const onHand = qty(Math.ceil(20 * scale[wh.id]!), Math.ceil(1500 * scale[wh.id]!));
      const allocated = fractional
        ? round4(onHand * rng.float(0, 0.2, 2))
        : Math.floor(onHand * rng.float(0, 0.2, 2));
      positions.push({
        sku: p.sku,
        warehouseId: wh.id,
        onHand,
        allocated,
        reserved: 0,
        available: round4(Math.max(0, onHand - allocated)),
        inbound: rng.chance(0.15) ? inboundFor() : [],
        asOf,
      });
    }
  });
  return positions;
}

function generateAgreements(
  rng: Rng,
  customers: Customer[],
  products: Product[],
  today: string,
): PriceAgreement[] {
  const agreements: PriceAgreement[] = [];
  const sellable = products.filter((p) => p.active);
  const bySku = new Map(sellable.map((p) => [p.sku, p]));
  let seq = 1;
  for (const c of customers) {
    const has = c.segment === 'key_account' || (c.segment === 'standard' && rng.chance(0.55));
    if (!has) continue;
    // Never more distinct SKUs than the catalogue has: a small test catalogue must not spin here.
    const count = Math.min(sellable.length, c.segment === 'key_account' ? rng.int(12, 30) : rng.int(4, 12));
    const skus = new Set<string>();
    while (skus.size < count) skus.add(rng.pick(sellable).sku);
    for (const sku of skus) {
      const product = bySku.get(sku)!;
      const roll = rng.next();
      // ~12% expired, ~5% not yet valid, the rest valid today.
      const [validFrom, validTo] =
        roll < 0.12
          ? [addDays(today, -rng.int(200, 400)), addDays(today, -rng.int(1, 90))]
          : roll < 0.17
            ? [addDays(today, rng.int(5, 30)), addDays(today, rng.int(120, 365))]
            : [addDays(today, -rng.int(10, 300)), addDays(today, rng.int(20, 365))];
      agreements.push({
        id: `PA-${String(seq++).padStart(6, '0')}`,
        customerId: c.id,
        sku,
        unitPrice: round4(product.listPrice * rng.float(0.72, 0.95, 3)),
        currency: c.currency,
        validFrom,
        validTo,
        tolerancePct: 0.5,
      });
    }
  }
  return agreements;
}

// --- picks --------------------------------------------------------------------------------

/** A SKU a test can order: the price to submit and where it is in stock. */
export interface PickedLine {
  sku: string;
  /** Agreement price when one is valid today, else list price. */
  unitPrice: number;
  agreementId: string | null;
  warehouseId: string;
  available: number;
}

/** Records with known traits, picked from a data set so tests need no magic ids. */
export interface DemoPicks {
  /** Active, taxable, well inside its credit limit, with valid agreements on in-stock, non-hazmat SKUs. */
  inPolicy: { customer: Customer; lines: PickedLine[] };
  /** Open receivables at or above the credit limit: any confirm is refused. */
  overCredit: Customer;
  /** Open receivables between 93% and 99% of the limit: a large order tips it over. */
  nearCredit: Customer;
  /** Tax-exempt, but every exemption certificate expired before today. */
  expiredExemption: Customer;
  /** Tax-exempt with a certificate valid today. */
  validExemption: Customer;
  inactive: Customer;
  blocked: Customer;
  newBusiness: Customer;
  /** A hazmat SKU with stock somewhere. */
  hazmat: Product;
  /** A SKU with zero on hand everywhere and inbound receipts with ETAs. */
  outOfStock: Product;
  /** A SKU stocked in exactly one warehouse. */
  singleWarehouse: { product: Product; warehouseId: string };
  /** A fractional-UOM SKU (KG, M, …) with stock. */
  fractional: Product;
  /** An agreement whose validity ended before today (the hub should not honour its price). */
  expiredAgreement: PriceAgreement;
}

/** Picks trait-bearing records out of a data set (deterministic: first match in data order). */
export function demoPicks(data: DemoDataSet): DemoPicks {
  const today = data.today;
  const openByCustomer = new Map<string, number>();
  for (const r of data.receivables)
    openByCustomer.set(r.customerId, (openByCustomer.get(r.customerId) ?? 0) + r.amount);
  const stockBySku = new Map<string, InventoryPosition[]>();
  for (const p of data.inventory) {
    const list = stockBySku.get(p.sku);
    if (list) list.push(p);
    else stockBySku.set(p.sku, [p]);
  }
  const productBySku = new Map(data.products.map((p) => [p.sku, p]));
  const best = (sku: string) =>
    (stockBySku.get(sku) ?? []).reduce<InventoryPosition | null>(
      (b, p) => (b && b.available >= p.available ? b : p),
      null,
    );
  const share = (c: Customer) => (openByCustomer.get(c.id) ?? 0) / c.creditLimit;
  const find = <T>(items: T[], pred: (t: T) => boolean, what: string): T => {
    const hit = items.find(pred);
    if (hit === undefined) throw new Error(`demo data set has no ${what}`);
    return hit;
  };
  const valid = (a: PriceAgreement) => a.validFrom <= today && a.validTo >= today;

  const agreementsByCustomer = new Map<string, PriceAgreement[]>();
  for (const a of data.priceAgreements) {
    const list = agreementsByCustomer.get(a.customerId);
    if (list) list.push(a);
    else agreementsByCustomer.set(a.customerId, [a]);
  }
  const linesFor = (c: Customer): PickedLine[] =>
    (agreementsByCustomer.get(c.id) ?? [])
      .filter(valid)
      .flatMap((a) => {
        const p = productBySku.get(a.sku);
        const pos = best(a.sku);
        if (!p?.active || p.hazmat || !pos || pos.available < 50) return [];
        return [
          {
            sku: a.sku,
            unitPrice: a.unitPrice,
            agreementId: a.id,
            warehouseId: pos.warehouseId,
            available: pos.available,
          },
        ];
      })
      .slice(0, 5);

  const active = data.customers.filter((c) => c.status === 'active');
  const inPolicyCustomer = find(
    active,
    (c) => c.taxStatus === 'taxable' && share(c) < 0.5 && linesFor(c).length >= 3,
    'in-policy customer',
  );
  const isExpired = (c: Customer) =>
    c.taxStatus === 'exempt' &&
    c.exemptionCertificates.length > 0 &&
    c.exemptionCertificates.every((e) => e.expiresOn < today);
  const inStock = (p: Product) => (best(p.sku)?.available ?? 0) > 0;
  const single = find(
    data.products,
    (p) => p.active && !p.hazmat && stockBySku.get(p.sku)?.length === 1 && inStock(p),
    'single-warehouse sku',
  );
  return {
    inPolicy: { customer: inPolicyCustomer, lines: linesFor(inPolicyCustomer) },
    overCredit: find(active, (c) => share(c) >= 1, 'over-credit customer'),
    nearCredit: find(active, (c) => share(c) >= 0.9 && share(c) < 1, 'near-credit customer'),
    expiredExemption: find(active, isExpired, 'customer with an expired exemption'),
    validExemption: find(
      active,
      (c) => c.taxStatus === 'exempt' && c.exemptionCertificates.some((e) => e.expiresOn >= today),
      'customer with a valid exemption',
    ),
    inactive: find(data.customers, (c) => c.status === 'inactive', 'inactive customer'),
    blocked: find(data.customers, (c) => c.status === 'blocked', 'blocked customer'),
    newBusiness: find(active, (c) => c.segment === 'new_business' && share(c) < 0.5, 'new-business customer'),
    hazmat: find(data.products, (p) => p.active && p.hazmat !== null && inStock(p), 'hazmat sku'),
    outOfStock: find(
      data.products,
      (p) =>
        p.active &&
        (stockBySku.get(p.sku) ?? []).every((s) => s.onHand === 0) &&
        (stockBySku.get(p.sku) ?? []).some((s) => s.inbound.length > 0),
      'out-of-stock sku',
    ),
    singleWarehouse: { product: single, warehouseId: stockBySku.get(single.sku)![0]!.warehouseId },
    fractional: find(
      data.products,
      (p) => p.active && !p.hazmat && (p.uom === 'KG' || p.uom === 'M') && inStock(p),
      'fractional-uom sku',
    ),
    expiredAgreement: find(data.priceAgreements, (a) => a.validTo < today, 'expired agreement'),
  };
}
