/**
 * Holds nobody works: a hold open longer than its reason's limit (`holdAgeLimitHours` in the
 * quote-to-order policies) becomes an escalated exception for the hold's owner, one per order and
 * reason (`hold-aged:<order>:<reason>`), raised again at each further multiple of the limit; an
 * escalation whose hold has since been released, rejected or cancelled is resolved.
 *
 * Why the exception queue and not a notification of its own: it is where every team already
 * looks for work with an owner, it is audited, and ops can see, filter and close it. Why a pass
 * over held orders rather than a timer per hold: holds are few (hundreds), a pass is a handful of
 * indexed page reads, and it is naturally idempotent: run it from one worker on an interval
 * (`crossdock start` wiring) or on demand; two runs at once write the same record twice at worst
 * (coalesced, so `attempts` then counts one escalation twice).
 */
import { type Hold, holdOwners, type SalesOrder } from '../../domain/index.js';
import type { Clock, ExceptionInput, Store, TimelineInput } from '../../ports/index.js';
import type { HoldAgeLimits } from './policy.js';

/** What {@link escalateAgedHolds} needs. */
export interface AgedHoldsDeps {
  store: Store;
  clock: Clock;
  policies: { holdAgeLimitHours: HoldAgeLimits };
}

/** What one pass did. */
export interface AgedHoldsResult {
  /** Held orders looked at. */
  orders: number;
  /** Exceptions written (new, or raised to a higher multiple of the limit). */
  escalated: number;
  /** Escalations closed because their hold is no longer open. */
  closed: number;
}

/** Where the exceptions say they come from. */
export const agedHoldSource = 'quote-to-order:holds';

/** The one exception of an order's aged hold of a reason. */
export function agedHoldExceptionId(orderId: string, reason: string): string {
  return `hold-aged:${orderId}:${reason}`;
}

const hourMs = 3_600_000;

/**
 * One pass: escalates every open hold past its limit that is not escalated at its current
 * multiple yet, and closes escalations whose hold is gone. Pages through held orders
 * (`pageSize` at a time) so one pass reads every held order whatever their number.
 */
export async function escalateAgedHolds(
  deps: AgedHoldsDeps,
  options: { pageSize?: number } = {},
): Promise<AgedHoldsResult> {
  const { store, clock } = deps;
  const pageSize = options.pageSize ?? 200;
  const now = clock.now();
  const result: AgedHoldsResult = { orders: 0, escalated: 0, closed: 0 };
  let afterId: string | undefined;
  for (;;) {
    const page = await store.listOrders({
      states: ['on_hold'],
      limit: pageSize,
      ...(afterId === undefined ? {} : { afterId }),
    });
    for (const order of page) {
      result.orders++;
      for (const hold of order.holds) {
        if (hold.resolvedAt) continue;
        if (await escalate(deps, order, hold, now)) result.escalated++;
      }
    }
    if (page.length < pageSize) break;
    afterId = page[page.length - 1]!.id;
  }
  result.closed = await closeStale(deps, now);
  return result;
}

/** Writes the hold's exception when it is past a multiple of its limit it was not escalated at. */
async function escalate(deps: AgedHoldsDeps, order: SalesOrder, hold: Hold, now: Date): Promise<boolean> {
  const limitHours = deps.policies.holdAgeLimitHours[hold.reason];
  const ageMs = now.getTime() - Date.parse(hold.openedAt);
  const level = Math.floor(ageMs / (limitHours * hourMs));
  if (level < 1) return false;
  const id = agedHoldExceptionId(order.id, hold.reason);
  const existing = await deps.store.getException(id);
  const seen = Number(existing?.lastError['level'] ?? 0);
  if (existing && seen >= level) return false;
  const ageHours = Math.round((ageMs / hourMs) * 10) / 10;
  const owner = holdOwners[hold.reason];
  const message = `${hold.reason} hold of order ${order.id} open for ${ageHours} h (limit ${limitHours} h)`;
  const exception: ExceptionInput = {
    id,
    kind: 'policy_violation',
    owner,
    source: agedHoldSource,
    subscription: null,
    deliveryId: null,
    eventId: null,
    orderId: order.id,
    error: {
      kind: 'policy_violation',
      message,
      retryable: false,
      owner,
      escalated: true,
      reason: hold.reason,
      detail: hold.detail,
      openedAt: hold.openedAt,
      ageHours,
      limitHours,
      level,
      customerId: order.customerId,
      total: order.total,
      currency: order.currency,
    },
    attempts: 1,
    coalesce: true,
  };
  const entry: TimelineInput = {
    orderId: order.id,
    at: now.toISOString(),
    kind: 'note',
    name: 'hold.escalated',
    system: 'hub',
    outcome: 'escalated',
    durationMs: null,
    summary: { reason: hold.reason, owner, ageHours, limitHours, level, exceptionId: id },
    correlationId: order.correlationId,
  };
  await deps.store.commit({ exceptions: [exception], timeline: [entry] });
  return true;
}

/** Resolves open escalations whose hold is no longer open (released, rejected, cancelled). */
async function closeStale(deps: AgedHoldsDeps, now: Date): Promise<number> {
  const open = await deps.store.listExceptions({ status: 'open', kind: 'policy_violation', limit: 1000 });
  let closed = 0;
  for (const e of open) {
    if (e.source !== agedHoldSource || e.orderId === null) continue;
    const reason = String(e.lastError['reason'] ?? '');
    const order = await deps.store.getOrder(e.orderId);
    const stillOpen = order?.holds.some((h) => h.reason === reason && !h.resolvedAt) ?? false;
    if (stillOpen) continue;
    try {
      await deps.store.actOnException(
        e.id,
        'resolve',
        {
          actor: 'crossdock:holds',
          action: 'exception.resolve',
          target: e.id,
          detail: { why: 'hold no longer open', orderId: e.orderId, reason, state: order?.state ?? null },
          at: now.toISOString(),
        },
        `the ${reason} hold is no longer open (order ${order?.state ?? 'gone'})`,
      );
      closed++;
    } catch {
      // Closed meanwhile by an operator or another pass: nothing to do.
    }
  }
  return closed;
}
