import { describe, expect, test } from 'vitest';
import { CloudEvent, CrossdockError } from '../domain/index.js';
import { isTraceparent, makeEvent } from './event-factory.js';

const data = {
  orderId: 'ord-1',
  customerId: 'cus-1',
  state: 'accepted' as const,
  customerStatus: 'confirmed',
  erpOrderNumber: 'SO-1',
  total: 10,
  currency: 'USD',
  lines: [{ sku: 'A', quantity: 1, backorderedQuantity: 0 }],
};

describe('makeEvent', () => {
  test('An event is a valid CloudEvents 1.0 envelope carrying the given traceparent', () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const e = makeEvent('order.accepted.v1', 'ord-1', data, {
      traceparent: tp,
      now: new Date('2025-03-03T10:00:00Z'),
      source: '/crossdock/test',
    });
    expect(CloudEvent.parse(e)).toEqual(e);
    expect(e).toMatchObject({
      specversion: '1.0',
      type: 'order.accepted.v1',
      subject: 'ord-1',
      traceparent: tp,
    });
    expect(e.time).toBe('2025-03-03T10:00:00.000Z');
  });

  test('An event without a traceparent gets a fresh valid one', () => {
    const e = makeEvent('order.accepted.v1', 'ord-1', data);
    expect(isTraceparent(e.traceparent ?? '')).toBe(true);
  });

  test('Data that does not match the catalogue schema is refused as data quality', () => {
    const bad = { ...data, total: 'ten' } as unknown as typeof data;
    expect(() => makeEvent('order.accepted.v1', 'ord-1', bad)).toThrowError(CrossdockError);
    try {
      makeEvent('order.accepted.v1', 'ord-1', bad);
    } catch (err) {
      expect((err as CrossdockError).kind).toBe('data_quality');
      expect(JSON.stringify((err as CrossdockError).details)).toContain('total');
    }
  });
});
