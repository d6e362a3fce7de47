/** The return state machine and the request checks, as pure functions. */
import { describe, expect, test } from 'vitest';
import {
  CrossdockError,
  canReturnTransition,
  checkReturnRequest,
  moveReturn,
  orderIdOfReturn,
  type ReturnAuthorization,
  returnableQuantities,
  returnStates,
  type SalesOrder,
} from '../../src/domain/index.js';

const at = '2026-12-04T10:00:00.000Z';

function ret(state: ReturnAuthorization['state'], quantity = 2): ReturnAuthorization {
  return {
    id: 'ord_1-R1',
    orderId: 'ord_1',
    state,
    customerStatus: '',
    source: { system: 'api', by: 'test' },
    lines: [{ sku: 'A', quantity, reason: 'damaged' }],
    history: [],
    externalIds: {},
    createdAt: at,
    updatedAt: at,
  };
}

function order(state: SalesOrder['state'], shipped: number, returns: ReturnAuthorization[] = []): SalesOrder {
  return {
    id: 'ord_1',
    state,
    lines: [
      {
        lineNo: 1,
        sku: 'A',
        quantity: 5,
        uom: 'EA',
        unitPrice: 10,
        agreedPrice: null,
        allocations: [],
        backorderedQuantity: 0,
        promiseDate: null,
      },
    ],
    shipments:
      shipped > 0
        ? [
            {
              id: 'S1',
              orderId: 'ord_1',
              warehouseId: 'WH',
              lines: [{ sku: 'A', quantity: shipped }],
              status: 'shipped',
              events: [],
              externalIds: {},
            },
          ]
        : [],
    returns,
  } as unknown as SalesOrder;
}

function refusal(fn: () => void): CrossdockError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CrossdockError);
    return e as CrossdockError;
  }
  throw new Error('expected a refusal');
}

describe('return state machine', () => {
  test('moves only forward along requested → authorized → received → inspected → credited, or to its terminal branches', () => {
    const allowed = returnStates.flatMap((from) =>
      returnStates.filter((to) => canReturnTransition(from, to)).map((to) => `${from}->${to}`),
    );
    expect(allowed.sort()).toEqual(
      [
        'requested->authorized',
        'requested->rejected',
        'requested->cancelled',
        'authorized->received',
        'authorized->inspected',
        'authorized->cancelled',
        'received->inspected',
        'received->rejected',
        'inspected->credited',
        'inspected->rejected',
      ].sort(),
    );
  });

  test('moveReturn records history and customer status, and refuses a move the machine forbids', () => {
    const a = moveReturn(ret('requested'), 'authorized', at, { rmaNumber: 'RMA/1' });
    expect(a).toMatchObject({ state: 'authorized', customerStatus: 'Return authorized (RMA RMA/1)' });
    expect(a.history).toEqual([{ state: 'authorized', at }]);
    const e = refusal(() => moveReturn(ret('credited'), 'authorized', at));
    expect(e.kind).toBe('conflict');
    expect(e.details['reason']).toBe('return_state');
  });

  test('a return id names its order', () => {
    expect(orderIdOfReturn('ord_01ABC-R12')).toBe('ord_01ABC');
    expect(orderIdOfReturn('ord_01ABC')).toBeNull();
  });

  test('requests are checked against what shipped less what other returns claim', () => {
    expect(
      refusal(() => checkReturnRequest(order('released', 0), [{ sku: 'A', quantity: 1, reason: 'x' }]))
        .details,
    ).toMatchObject({ reason: 'not_returnable' });
    expect(
      refusal(() => checkReturnRequest(order('cancelled', 3), [{ sku: 'A', quantity: 1, reason: 'x' }]))
        .details,
    ).toMatchObject({ reason: 'not_returnable' });
    expect(
      refusal(() => checkReturnRequest(order('shipped', 3), [{ sku: 'B', quantity: 1, reason: 'x' }]))
        .details,
    ).toMatchObject({ reason: 'unknown_sku', field: 'lines[0].sku' });
    expect(
      refusal(() => checkReturnRequest(order('shipped', 3), [{ sku: 'A', quantity: 4, reason: 'x' }]))
        .details,
    ).toMatchObject({ reason: 'over_return', field: 'lines[0].quantity' });
    const withOpen = order('delivered', 3, [ret('authorized', 2)]);
    expect(returnableQuantities(withOpen).get('A')).toBe(1);
    expect(() => checkReturnRequest(withOpen, [{ sku: 'A', quantity: 1, reason: 'x' }])).not.toThrow();
    expect(
      refusal(() => checkReturnRequest(withOpen, [{ sku: 'A', quantity: 2, reason: 'x' }])).details['reason'],
    ).toBe('over_return');
    // A rejected return gives its claim back; an inspected one keeps only what was accepted.
    expect(returnableQuantities(order('shipped', 3, [ret('rejected', 3)])).get('A')).toBe(3);
    const inspected = {
      ...ret('inspected', 2),
      lines: [{ sku: 'A', quantity: 2, reason: 'x', acceptedQuantity: 1, rejectedQuantity: 1 }],
    };
    expect(returnableQuantities(order('shipped', 3, [inspected])).get('A')).toBe(2);
  });
});
