import { describe, expect, it } from 'vitest';
import { decodeWatermark, encodeWatermark } from './change-feed.js';
import {
  hubOrderIdFromComment,
  saleAnchor,
  sameAddress,
  toAddress,
  toCustomer,
  toShipmentState,
} from './mapping.js';
import { TrytonDateTime, TrytonDecimal } from './values.js';

describe('Tryton mapping', () => {
  it('maps a party and its address to the canonical customer, with write_date as version', () => {
    const customer = toCustomer(
      {
        id: 7,
        code: 'CUST-1',
        name: 'Acme',
        credit_limit_amount: new TrytonDecimal('1500.00'),
        write_date: new TrytonDateTime('2026-01-01T10:00:00.123456'),
        create_date: new TrytonDateTime('2025-12-01T10:00:00.000001'),
      },
      [
        {
          id: 9,
          street: '1 Main Street\nSuite 4',
          city: 'Springfield',
          postal_code: '62701',
          'country.': { id: 1, code: 'US' },
          invoice: 1,
          delivery: 0,
          active: 1,
        },
      ],
      'USD',
    );
    expect(customer).toEqual({
      erpId: '7',
      externalId: 'CUST-1',
      name: 'Acme',
      creditLimit: 1500,
      currency: 'USD',
      version: '2026-01-01T10:00:00.123456',
      addresses: [
        {
          id: '9',
          kind: 'billing',
          line1: '1 Main Street',
          line2: 'Suite 4',
          city: 'Springfield',
          postalCode: '62701',
          country: 'US',
        },
      ],
    });
  });

  it('matches addresses on street, postcode and country regardless of case and spacing', () => {
    const a = toAddress({
      id: 1,
      street: '1  Main Street',
      city: 'X',
      postal_code: '62701',
      'country.': { code: 'US' },
    });
    expect(
      sameAddress(a, {
        kind: 'shipping',
        line1: '1 main street',
        city: 'Y',
        postalCode: '62701',
        country: 'US',
      }),
    ).toBe(true);
    expect(
      sameAddress(a, {
        kind: 'shipping',
        line1: '2 Main Street',
        city: 'X',
        postalCode: '62701',
        country: 'US',
      }),
    ).toBe(false);
  });

  it('stores the idempotency key in the sale description and reads the hub order id back from the comment', () => {
    expect(saleAnchor('ord-1:create')).toBe('crossdock:ord-1:create');
    expect(hubOrderIdFromComment('crossdock-hub-order: ord-1\nrequested date: 2026-01-01')).toBe('ord-1');
    expect(hubOrderIdFromComment('typed by hand')).toBeNull();
  });

  it('treats a draft shipment as waiting', () => {
    expect(toShipmentState('draft')).toBe('waiting');
    expect(toShipmentState('assigned')).toBe('assigned');
  });

  it('round-trips the change-feed watermark and starts from the beginning on garbage', () => {
    const cursor = { ts: '2026-01-01T10:00:00.123456', model: 1, id: 42 };
    expect(decodeWatermark(encodeWatermark(cursor))).toEqual(cursor);
    expect(decodeWatermark('nonsense').model).toBe(-1);
    expect(decodeWatermark(null).id).toBe(0);
  });
});
