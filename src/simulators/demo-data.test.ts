import { describe, expect, test } from 'vitest';
import { Customer, InventoryPosition, PriceAgreement, Product } from '../domain/index.js';
import { demoPicks, generateDemoData } from './demo-data.js';

const clock = { now: () => new Date('2025-06-15T12:00:00Z') };
const data = generateDemoData({ seed: 42, clock });
const today = '2025-06-15';

describe('demo data set', () => {
  test('every canonical record passes its zod schema', () => {
    for (const c of data.customers) expect(Customer.safeParse(c).error).toBeUndefined();
    for (const p of data.products) expect(Product.safeParse(p).error).toBeUndefined();
    for (const a of data.priceAgreements) expect(PriceAgreement.safeParse(a).error).toBeUndefined();
    for (const i of data.inventory) expect(InventoryPosition.safeParse(i).error).toBeUndefined();
  });

  test('the same seed and clock give identical data, and another seed gives different data', () => {
    const again = generateDemoData({ seed: 42, clock });
    expect(JSON.stringify(again)).toBe(JSON.stringify(data));
    const other = generateDemoData({ seed: 43, clock });
    expect(other.customers.map((c) => c.name)).not.toEqual(data.customers.map((c) => c.name));
  });

  test('customers number at least 200 with the intended segments, statuses and address kinds', () => {
    expect(data.customers.length).toBeGreaterThanOrEqual(200);
    const segments = new Set(data.customers.map((c) => c.segment));
    expect(segments).toEqual(new Set(['key_account', 'standard', 'new_business']));
    const inactive = data.customers.filter((c) => c.status === 'inactive').length;
    const blocked = data.customers.filter((c) => c.status === 'blocked').length;
    expect(inactive).toBeGreaterThanOrEqual(3);
    expect(blocked).toBeGreaterThanOrEqual(2);
    expect(inactive + blocked).toBeLessThan(data.customers.length * 0.1);
    expect(new Set(data.customers.flatMap((c) => c.addresses.map((a) => a.country)))).toEqual(
      new Set(['US', 'CA']),
    );
    for (const c of data.customers) {
      expect(c.addresses.some((a) => a.kind === 'billing')).toBe(true);
      expect(c.addresses.some((a) => a.kind === 'shipping')).toBe(true);
    }
  });

  test('customers carry Salesforce-style 18-character CRM ids and C-1xxxx ERP ids', () => {
    for (const c of data.customers) {
      expect(c.externalIds['crm']).toMatch(/^001[0-9A-Za-z]{15}$/);
      expect(c.externalIds['erp']).toMatch(/^C-1\d{4}$/);
    }
    expect(new Set(data.customers.map((c) => c.externalIds['crm'])).size).toBe(data.customers.length);
  });

  test('about 5% of customers are over or near their credit limit', () => {
    const open = new Map<string, number>();
    for (const r of data.receivables) open.set(r.customerId, (open.get(r.customerId) ?? 0) + r.amount);
    const tight = data.customers.filter((c) => (open.get(c.id) ?? 0) / c.creditLimit >= 0.9);
    const share = tight.length / data.customers.length;
    expect(share).toBeGreaterThanOrEqual(0.03);
    expect(share).toBeLessThanOrEqual(0.08);
    expect(tight.some((c) => (open.get(c.id) ?? 0) >= c.creditLimit)).toBe(true);
  });

  test('some tax-exempt customers hold valid certificates and some only expired ones', () => {
    const exempt = data.customers.filter((c) => c.taxStatus === 'exempt');
    const valid = exempt.filter((c) => c.exemptionCertificates.some((e) => e.expiresOn >= today));
    const expired = exempt.filter((c) => c.exemptionCertificates.every((e) => e.expiresOn < today));
    expect(valid.length).toBeGreaterThanOrEqual(5);
    expect(expired.length).toBeGreaterThanOrEqual(3);
  });

  test('the catalogue has at least 1,000 SKUs with fractional UOMs and about 5% hazmat', () => {
    expect(data.products.length).toBeGreaterThanOrEqual(1000);
    expect(new Set(data.products.map((p) => p.sku)).size).toBe(data.products.length);
    const hazmat = data.products.filter((p) => p.hazmat !== null);
    expect(hazmat.length / data.products.length).toBeCloseTo(0.05, 2);
    for (const p of hazmat) {
      expect(p.shippingClass).toBe('hazmat');
      expect(p.hazmat?.unNumber).toMatch(/^UN\d{4}$/);
    }
    const uoms = new Set(data.products.map((p) => p.uom));
    expect(uoms.has('KG')).toBe(true);
    expect(uoms.has('M')).toBe(true);
    expect(new Set(data.products.map((p) => p.taxClass)).size).toBe(3);
  });

  test('stock is uneven across three warehouses, with SKUs out of stock everywhere awaiting inbound receipts', () => {
    const bySku = new Map<string, InventoryPosition[]>();
    for (const p of data.inventory) bySku.set(p.sku, [...(bySku.get(p.sku) ?? []), p]);
    expect(new Set(data.inventory.map((p) => p.warehouseId))).toEqual(
      new Set(['WH-EAST', 'WH-CENTRAL', 'WH-WEST']),
    );
    const single = [...bySku.values()].filter((l) => l.length === 1).length;
    expect(single / data.products.length).toBeGreaterThan(0.1);
    const outEverywhere = [...bySku.values()].filter((l) => l.every((p) => p.onHand === 0));
    expect(outEverywhere.length).toBeGreaterThanOrEqual(20);
    for (const l of outEverywhere) {
      const inbound = l.flatMap((p) => p.inbound);
      expect(inbound.length).toBeGreaterThan(0);
      for (const r of inbound) expect(r.eta > today).toBe(true);
    }
    for (const p of data.inventory)
      expect(p.available).toBe(Math.max(0, Math.round((p.onHand - p.allocated) * 1e4) / 1e4));
  });

  test('contract agreements straddle today: most valid, some expired, some not yet started', () => {
    const valid = data.priceAgreements.filter((a) => a.validFrom <= today && a.validTo >= today);
    const expired = data.priceAgreements.filter((a) => a.validTo < today);
    const future = data.priceAgreements.filter((a) => a.validFrom > today);
    expect(valid.length).toBeGreaterThan(data.priceAgreements.length * 0.7);
    expect(expired.length).toBeGreaterThan(0);
    expect(future.length).toBeGreaterThan(0);
    const listPrice = new Map(data.products.map((p) => [p.sku, p.listPrice]));
    for (const a of data.priceAgreements) expect(a.unitPrice).toBeLessThan(listPrice.get(a.sku)!);
  });

  test('demo picks find each trait and the records really have it', () => {
    const picks = demoPicks(data);
    const open = (id: string) =>
      data.receivables.filter((r) => r.customerId === id).reduce((s, r) => s + r.amount, 0);
    expect(picks.inPolicy.customer.status).toBe('active');
    expect(picks.inPolicy.lines.length).toBeGreaterThanOrEqual(3);
    for (const l of picks.inPolicy.lines) {
      expect(l.agreementId).not.toBeNull();
      expect(l.available).toBeGreaterThanOrEqual(50);
    }
    expect(open(picks.overCredit.id)).toBeGreaterThanOrEqual(picks.overCredit.creditLimit);
    expect(picks.expiredExemption.exemptionCertificates.every((e) => e.expiresOn < today)).toBe(true);
    expect(picks.inactive.status).toBe('inactive');
    expect(picks.blocked.status).toBe('blocked');
    expect(picks.hazmat.hazmat).not.toBeNull();
    expect(data.inventory.filter((p) => p.sku === picks.outOfStock.sku).every((p) => p.onHand === 0)).toBe(
      true,
    );
    expect(data.inventory.filter((p) => p.sku === picks.singleWarehouse.product.sku)).toHaveLength(1);
    expect(['KG', 'M']).toContain(picks.fractional.uom);
    expect(picks.expiredAgreement.validTo < today).toBe(true);
  });

  test('a small data set for fast tests still contains every picked trait', () => {
    const small = generateDemoData({ seed: 7, clock, customerCount: 60, productCount: 200 });
    expect(() => demoPicks(small)).not.toThrow();
  });
});

describe('small data sets for fast tests', () => {
  test('a catalogue smaller than a key account price list still generates (no endless SKU draw)', () => {
    const data = generateDemoData({
      seed: 42,
      clock: { now: () => new Date('2026-11-28T00:00:00Z') },
      customerCount: 10,
      productCount: 10,
    });
    expect(data.products).toHaveLength(10);
    expect(data.priceAgreements.every((a) => data.products.some((p) => p.sku === a.sku))).toBe(true);
  });
});
