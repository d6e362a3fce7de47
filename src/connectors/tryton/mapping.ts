/**
 * Tryton ⇄ canonical mapping (party, address, product, price, sale, shipment, invoice).
 *
 * Why pure functions in their own file: the field table in docs/connectors/tryton.md is this
 * file; keeping it free of I/O lets it be unit-tested without a server and read in one sitting.
 */
import type { Address } from '../../domain/index.js';
import type {
  ErpCustomer,
  ErpInvoiceStatus,
  ErpOrderState,
  ErpProduct,
  ErpShipmentState,
} from '../../ports/erp.js';
import {
  idOf,
  idsOf,
  numberOf,
  stringOf,
  TrytonDateTime,
  type TrytonRecord,
  type TrytonValue,
} from './values.js';

/** Prefix of the sale `description` that anchors the hub's idempotency key. */
export const saleKeyPrefix = 'crossdock:';
/** Line of the sale `comment` that carries the hub order id. */
export const hubOrderMarker = 'crossdock-hub-order:';

/** The sale `description` storing an idempotency key (searched exactly before every create). */
export function saleAnchor(idempotencyKey: string): string {
  return `${saleKeyPrefix}${idempotencyKey}`;
}

/** The hub order id written into the sale comment, or null for sales not made by the hub. */
export function hubOrderIdFromComment(comment: TrytonValue | undefined): string | null {
  const text = stringOf(comment);
  if (!text) return null;
  for (const line of text.split('\n')) {
    if (line.startsWith(hubOrderMarker)) return line.slice(hubOrderMarker.length).trim() || null;
  }
  return null;
}

/** The party fields read for a customer. */
export const partyFields = [
  'id',
  'code',
  'name',
  'credit_limit_amount',
  'addresses',
  'write_date',
  'create_date',
];
/** The address fields read for a customer. */
export const addressFields = [
  'id',
  'party',
  'party_name',
  'street',
  'city',
  'postal_code',
  'country.code',
  'invoice',
  'delivery',
  'active',
];

/** Tryton's `write_date ?? create_date` with microseconds: the record's version and feed clock. */
export function recordVersion(record: TrytonRecord): string {
  const stamp = record['write_date'] instanceof TrytonDateTime ? record['write_date'] : record['create_date'];
  return stamp instanceof TrytonDateTime ? stamp.iso : '';
}

/** Tryton booleans arrive as true/false (PostgreSQL) or 1/0 (SQLite). */
export function truthy(value: TrytonValue | undefined): boolean {
  return value === true || value === 1;
}

function countryCode(record: TrytonRecord): string {
  const nested = record['country.'];
  if (nested && typeof nested === 'object' && !Array.isArray(nested) && 'code' in nested) {
    return String((nested as Record<string, TrytonValue>)['code'] ?? '');
  }
  return '';
}

/** party.address → canonical Address; `street` lines become line1/line2. */
export function toAddress(record: TrytonRecord): Address {
  const [line1 = '', ...rest] = (stringOf(record['street']) ?? '').split('\n');
  const address: Address = {
    id: String(record.id),
    kind: truthy(record['invoice']) && !truthy(record['delivery']) ? 'billing' : 'shipping',
    line1,
    city: stringOf(record['city']) ?? '',
    postalCode: stringOf(record['postal_code']) ?? '',
    country: countryCode(record),
  };
  const name = stringOf(record['party_name']);
  if (name) address.name = name;
  if (rest.length > 0) address.line2 = rest.join('\n');
  return address;
}

/** Canonical Address → party.address values (country resolved by the caller). */
export function fromAddress(
  address: Address,
  countryId: number,
  invoice: boolean,
): Record<string, TrytonValue> {
  return {
    street: address.line2 ? `${address.line1}\n${address.line2}` : address.line1,
    city: address.city,
    postal_code: address.postalCode,
    country: countryId,
    party_name: address.name ?? null,
    invoice,
    delivery: address.kind === 'shipping',
  };
}

/** Whether a Tryton address is the same place as a canonical one (street, postcode, country). */
export function sameAddress(existing: Address, wanted: Address): boolean {
  const norm = (s: string | undefined): string => (s ?? '').trim().toLowerCase().replace(/\s+/g, ' ');
  return (
    norm(existing.line1) === norm(wanted.line1) &&
    norm(existing.postalCode) === norm(wanted.postalCode) &&
    norm(existing.country) === norm(wanted.country)
  );
}

/** party.party (+ its addresses) → ErpCustomer. */
export function toCustomer(party: TrytonRecord, addresses: TrytonRecord[], currency: string): ErpCustomer {
  return {
    erpId: String(party.id),
    externalId: stringOf(party['code']) ?? '',
    name: stringOf(party['name']) ?? '',
    creditLimit: numberOf(party['credit_limit_amount']),
    currency,
    addresses: addresses.filter((a) => a['active'] !== false && a['active'] !== 0).map(toAddress),
    version: recordVersion(party),
  };
}

const uomByTrytonSymbol: Record<string, string> = { u: 'EA', kg: 'KG', g: 'G', m: 'M', l: 'L' };

/** Tryton UoM symbol → the hub's unit code (`u` is Tryton's "Unit", EA in distribution). */
export function toUom(symbol: string | null): string {
  if (!symbol) return 'EA';
  return uomByTrytonSymbol[symbol] ?? symbol.toUpperCase();
}

function nestedString(record: TrytonRecord, field: string, key: string): string | null {
  const nested = record[`${field}.`];
  if (nested && typeof nested === 'object' && !Array.isArray(nested) && key in nested) {
    return stringOf((nested as Record<string, TrytonValue>)[key]);
  }
  return null;
}

/** product.product → ErpProduct (the SKU is the template code). */
export function toProduct(record: TrytonRecord): ErpProduct {
  return {
    sku: stringOf(record['code']) ?? '',
    erpId: String(record.id),
    name: stringOf(record['name']) ?? '',
    uom: toUom(nestedString(record, 'default_uom', 'symbol')),
    listPrice: roundMoney(numberOf(record['list_price'])),
    active: truthy(record['active']),
  };
}

/** Money at the canonical precision (4 places). */
export function roundMoney(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

/** sale.sale `state` → ErpOrderState (Tryton 6.0 uses the same six names). */
export function toOrderState(state: TrytonValue | undefined): ErpOrderState {
  switch (state) {
    case 'draft':
    case 'quotation':
    case 'confirmed':
    case 'processing':
    case 'done':
    case 'cancelled':
      return state;
    default:
      return 'draft';
  }
}

/** stock.shipment.out `state` → ErpShipmentState (`draft` counts as waiting). */
export function toShipmentState(state: TrytonValue | undefined): ErpShipmentState {
  switch (state) {
    case 'assigned':
    case 'picked':
    case 'packed':
    case 'done':
    case 'cancelled':
    case 'waiting':
      return state;
    default:
      return 'waiting';
  }
}

/** account.invoice `state` → canonical invoice state (`validated` is not yet posted: draft). */
export function toInvoiceState(state: TrytonValue | undefined): ErpInvoiceStatus['state'] {
  switch (state) {
    case 'posted':
    case 'paid':
    case 'cancelled':
      return state;
    default:
      return 'draft';
  }
}

/** account.invoice → ErpInvoiceStatus. */
export function toInvoice(record: TrytonRecord): ErpInvoiceStatus {
  return {
    erpInvoiceId: String(record.id),
    number: stringOf(record['number']),
    state: toInvoiceState(record['state']),
    amount: roundMoney(numberOf(record['total_amount'])),
    currency: nestedString(record, 'currency', 'code') ?? 'USD',
  };
}

/** The ids of a record's x2many field. */
export function relatedIds(record: TrytonRecord, field: string): number[] {
  return idsOf(record[field]);
}

/** The id of a record's many2one field. */
export function relatedId(record: TrytonRecord, field: string): number | null {
  return idOf(record[field]);
}
