/**
 * Realistic order submissions over the demo data set, as the simulated CRM would send them when
 * reps convert quotes: mostly in-policy, with a configurable share of orders that should be held
 * (over-credit customers, off-contract prices) so the console and metrics show real variety.
 */
import type { OrderSubmission } from '../domain/index.js';
import { type DemoDataSet, mulberry32 } from '../simulators/index.js';

export interface DemoOrderOptions {
  seed?: number;
  /** Share of submissions meant to be held (0..1). */
  holdShare?: number;
  maxLines?: number;
}

export class DemoOrderGenerator {
  private readonly random: () => number;
  private readonly customers: DemoDataSet['customers'];
  private readonly overCredit: DemoDataSet['customers'];
  private readonly skus: { sku: string; listPrice: number }[];
  private readonly agreements = new Map<string, number>();
  private n = 0;

  constructor(
    data: DemoDataSet,
    private readonly options: DemoOrderOptions = {},
  ) {
    this.random = mulberry32(options.seed ?? 7);
    const open = new Map<string, number>();
    for (const rec of data.receivables)
      open.set(rec.customerId, (open.get(rec.customerId) ?? 0) + rec.amount);
    const eligible = data.customers.filter(
      (c) =>
        c.status === 'active' &&
        c.addresses.some((a) => a.kind === 'shipping') &&
        c.addresses.some((a) => a.kind === 'billing') &&
        (c.taxStatus === 'taxable' || c.exemptionCertificates.some((e) => e.expiresOn >= data.today)),
    );
    this.customers = eligible.filter((c) => (open.get(c.id) ?? 0) < c.creditLimit * 0.5);
    this.overCredit = eligible.filter((c) => (open.get(c.id) ?? 0) >= c.creditLimit);
    const stock = new Map<string, number>();
    for (const p of data.inventory) stock.set(p.sku, Math.max(stock.get(p.sku) ?? 0, p.available));
    this.skus = data.products
      .filter((p) => p.active && !p.hazmat && (stock.get(p.sku) ?? 0) >= 20)
      .map((p) => ({ sku: p.sku, listPrice: p.listPrice }));
    for (const a of data.priceAgreements) {
      if (a.validFrom <= data.today && a.validTo >= data.today)
        this.agreements.set(`${a.customerId}|${a.sku}`, a.unitPrice);
    }
    if (this.customers.length === 0 || this.skus.length === 0)
      throw new Error('demo data has no orderable customers or SKUs');
  }

  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.random() * list.length)]!;
  }

  /** The next submission; `ref` makes the CRM quote id unique. */
  next(): OrderSubmission {
    this.n++;
    const hold = this.random() < (this.options.holdShare ?? 0);
    const customer =
      hold && this.overCredit.length > 0 ? this.pick(this.overCredit) : this.pick(this.customers);
    const shipTo = customer.addresses.find((a) => a.kind === 'shipping') ?? customer.addresses[0]!;
    const count = 1 + Math.floor(this.random() * (this.options.maxLines ?? 3));
    const chosen = new Map<string, { sku: string; listPrice: number }>();
    while (chosen.size < count) {
      const s = this.pick(this.skus);
      chosen.set(s.sku, s);
    }
    return {
      source: { system: 'crm', ref: `0Q0${String(this.n).padStart(12, '0')}` },
      quoteId: `Q-${this.n}`,
      customer: customer.externalIds['crm']
        ? { system: 'crm', externalId: customer.externalIds['crm'] }
        : { id: customer.id },
      poNumber: `PO-${100000 + this.n}`,
      currency: customer.currency,
      shipTo,
      shippingMethod: 'ground',
      lines: [...chosen.values()].map((s) => ({
        sku: s.sku,
        quantity: 1 + Math.floor(this.random() * 3),
        unitPrice: this.agreements.get(`${customer.id}|${s.sku}`) ?? s.listPrice,
      })),
    };
  }
}
