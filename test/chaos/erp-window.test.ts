import { describe, expect, test } from 'vitest';
import { type OrderState, stateRank } from '../../src/domain/index.js';
import { runErpWindowCrash } from './harness.js';

/** Accepted, or moved on by warehouse milestones since (the hub's fulfillment sync runs too). */
const acceptedOrLater = (s: string) =>
  s !== 'rejected' && s !== 'cancelled' && stateRank(s as OrderState) >= stateRank('accepted');

describe('a crash between the ERP create call and the local commit', () => {
  test('A hub killed after the ERP created the sales order but before its own commit finishes the order on restart with that same ERP order, and tells the customer once.', async () => {
    const r = await runErpWindowCrash();
    // The kill landed inside the window: the ERP order existed, not yet confirmed.
    expect(r.erpStateAtKill).toBe('quotation');
    expect(r.erpOrdersForTheOrder).toBe(1);
    expect(acceptedOrLater(r.hubState)).toBe(true);
    expect(r.hubErpNumber).toBe(r.erpOrderNumber);
    expect(r.erpStateAfter).toBe('confirmed');
    expect(r.decisionNotifications).toBe(1);
    expect(acceptedOrLater(r.crmState ?? 'missing')).toBe(true);
  }, 120_000);
});
