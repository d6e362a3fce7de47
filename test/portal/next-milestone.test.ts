/**
 * The next milestone of an order (src/workflows/experience/next-milestone.ts) in every state the
 * account view shows, from the order document alone.
 */
import { describe, expect, test } from 'vitest';
import type { SalesOrder } from '../../src/domain/index.js';
import { order } from '../../src/storage/contract/fixtures.js';
import { nextMilestone } from '../../src/workflows/experience/next-milestone.js';
import { held, invoice, shipment } from './fixtures.js';

const code = (o: SalesOrder) => nextMilestone(o)?.code ?? null;

describe('nextMilestone', () => {
  test('before and during the decision: awaiting the decision', () => {
    expect(code(order('a', { state: 'received' }))).toBe('awaiting_decision');
    expect(code(order('a', { state: 'validating' }))).toBe('awaiting_decision');
  });

  test('on hold: the oldest open hold names the milestone and its owner; resolved holds do not count', () => {
    const o = held('h', [
      { reason: 'pricing', openedAt: '2026-12-01T08:00:00.000Z', resolvedAt: '2026-12-01T09:00:00.000Z' },
      { reason: 'inventory', openedAt: '2026-12-02T08:00:00.000Z' },
      { reason: 'credit', openedAt: '2026-12-01T10:00:00.000Z' },
    ]);
    expect(nextMilestone(o)).toEqual({
      code: 'awaiting_credit_release',
      label: 'Awaiting credit release',
      waitingOn: 'credit',
      expectedOn: null,
    });
    expect(
      nextMilestone(held('d', [{ reason: 'duplicate_po', openedAt: '2026-12-01T08:00:00.000Z' }])),
    ).toMatchObject({ code: 'awaiting_duplicate_po_review', waitingOn: 'sales' });
  });

  test('accepted: allocation; with a backordered line: the stock, with its promise date', () => {
    expect(code(order('a', { state: 'accepted' }))).toBe('awaiting_allocation');
    expect(code(order('a', { state: 'partially_allocated' }))).toBe('awaiting_allocation');
    const base = order('b', { state: 'backordered' });
    const short = {
      ...base,
      lines: [{ ...base.lines[0]!, backorderedQuantity: 2, promiseDate: '2026-12-20' }],
    };
    expect(nextMilestone(short)).toMatchObject({ code: 'awaiting_stock', expectedOn: '2026-12-20' });
    expect(nextMilestone({ ...short, state: 'accepted' })).toMatchObject({ code: 'awaiting_stock' });
    const unpromised = { ...short, lines: [{ ...short.lines[0]!, promiseDate: null }] };
    expect(nextMilestone(unpromised)).toMatchObject({ code: 'awaiting_stock', expectedOn: null });
  });

  test('allocated to packed, and a partial shipment: the (rest of the) shipment', () => {
    for (const state of ['allocated', 'released', 'picked', 'packed'] as const) {
      expect(code(order('s', { state }))).toBe('awaiting_shipment');
    }
    expect(nextMilestone(order('p', { state: 'partially_shipped' }))).toMatchObject({
      code: 'awaiting_shipment',
      label: 'Awaiting shipment of the rest',
    });
  });

  test('shipped: in transit until every shipment that left is delivered; then the invoice, then payment', () => {
    const moving = order('t', { state: 'shipped', shipments: [shipment('t', 'in_transit')] });
    expect(nextMilestone(moving)).toMatchObject({ code: 'in_transit', waitingOn: 'carrier' });
    const invoicedMoving = { ...moving, state: 'invoiced' as const, invoices: [invoice('t', 'open')] };
    expect(code(invoicedMoving)).toBe('in_transit');
    const arrived = order('d', { state: 'delivered', shipments: [shipment('d', 'delivered')] });
    expect(nextMilestone(arrived)).toMatchObject({ code: 'awaiting_invoice', waitingOn: 'erp' });
    const billed = { ...arrived, state: 'invoiced' as const, invoices: [invoice('d', 'open')] };
    expect(nextMilestone(billed)).toMatchObject({ code: 'awaiting_payment', waitingOn: 'customer' });
    expect(code({ ...billed, invoices: [invoice('d', 'paid')] })).toBeNull();
  });

  test('closed, cancelled and rejected orders wait for nothing', () => {
    for (const state of ['closed', 'cancelled', 'rejected'] as const)
      expect(code(order('x', { state }))).toBeNull();
  });
});
