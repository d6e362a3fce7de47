/**
 * Backorders after the decision: what an order is short of is promised from inbound receipts,
 * announced once per revision (customer notice, CRM task for the account's sales owner), and
 * released to the warehouse when stock arrives.
 *
 * Why a subscription on the hub's own events (`order.accepted.v1`, `shipment.milestone.v1`
 * `backordered`, `inventory.received.v1`) rather than steps of the decision or the sync: each
 * trigger is in the outbox in the commit that caused it, so a backorder is never forgotten across
 * a crash, and it inherits the backbone's retries, dead letters and replay. The handler is this
 * class, passed to `standardSubscriptions` by the composition root (the events layer does not
 * import workflows).
 *
 * Where backorders come from:
 * - the decision accepted the order with lines it could not allocate (`backorderedQuantity`,
 *   promise date from the receipts, strategy `backorder`): announced as revision `decision`;
 * - the warehouse could not allocate all it was released (its `backordered` milestone with lines):
 *   `planReport` moves that quantity from the warehouse's allocation to the line's backorder and
 *   clears its promise; here the promise is revised from the receipts and announced as
 *   `short_allocation`. The order keeps its state (a released order is not moved back).
 *
 * A revision is one commit: the lines' promise dates, a timeline entry and `order.backordered.v1`
 * (lines, latest promise date, and for new shortfalls a task for the account's sales owner), with
 * the inbound dedupe record `(backorders, <order>:<revision key>)`, the key naming what is
 * backordered and promised: a redelivered trigger announces nothing twice.
 *
 * Release on receipt: when stock arrives (`inventory.received.v1`, from the inventory refresh),
 * open orders with that SKU backordered are served oldest first from what is free at that
 * warehouse (the warehouse's free stock less the hub's soft reservations there). Each release is
 * a warehouse order (`WmsPort.releaseOrder`, key `backorder:<order>:<version>:<warehouse>`: a
 * retry after a crash before the commit makes no second one) and one commit moving the quantity
 * from the line's backorder to an allocation at that warehouse, reserving it softly until the
 * warehouse reports its allocation, and announcing revision `released`.
 *
 * Promise dates: the earliest inbound receipts of the SKU (any warehouse) that cover the
 * backordered quantity, else `leadDays` from today (the segment default of quote-to-order, 14).
 */
import { createHash } from 'node:crypto';
import {
  type CloudEvent,
  CrossdockError,
  type EventData,
  type InventoryPosition,
  newEvent,
  type OrderLine,
  type OrderState,
  type SalesOrder,
  toCrossdockError,
} from '../../domain/index.js';
import type { Clock, CommitUnit, Store, TimelineInput, WmsPort } from '../../ports/index.js';
import { customerStatusFor } from './shipment-progress.js';

/** Stable name of the backorder subscription and source of its dedupe records. Stored: never rename. */
export const backordersId = 'backorders';

/** What {@link Backorders} needs. */
export interface BackordersDeps {
  store: Store;
  clock: Clock;
  wms: WmsPort;
  /** Days to promise a backorder no inbound receipt covers. Default 14. */
  leadDays?: number;
  /** Open orders looked at per receipt (oldest first). Default 2,000. */
  maxOrdersPerReceipt?: number;
  /** CloudEvents source of the events emitted. Default `/crossdock/backorders`. */
  eventSource?: string;
}

/** What one trigger came to. */
export type BackorderOutcome =
  | {
      status: 'revised';
      orderId: string;
      reason: 'decision' | 'short_allocation';
      promiseDate: string | null;
    }
  | {
      status: 'released';
      releases: { orderId: string; warehouseId: string; sku: string; quantity: number }[];
    }
  | { status: 'skipped'; reason: string };

/** States in which an order can still have a backorder to serve. */
const openStates: OrderState[] = [
  'accepted',
  'backordered',
  'partially_allocated',
  'allocated',
  'released',
  'picked',
  'packed',
  'partially_shipped',
];

/** Conflicts retried (each re-reads the order) before the conflict is thrown. */
const attempts = 8;

/** Revises, announces and releases backorders; see the file comment. */
export class Backorders {
  private readonly leadDays: number;
  private readonly eventSource: string;

  constructor(private readonly deps: BackordersDeps) {
    this.leadDays = deps.leadDays ?? 14;
    this.eventSource = deps.eventSource ?? `/crossdock/${backordersId}`;
  }

  /** The subscription's handler (see the file comment); `skipped` for events that need nothing. */
  handle = async (event: CloudEvent): Promise<'skipped' | undefined> => {
    let outcome: BackorderOutcome;
    if (event.type === 'order.accepted.v1') {
      // The decision's lines say whether anything is backordered: most orders need no read.
      const lines = Array.isArray(event.data['lines'])
        ? (event.data['lines'] as { backorderedQuantity?: unknown }[])
        : [];
      if (!lines.some((l) => typeof l.backorderedQuantity === 'number' && l.backorderedQuantity > 0)) {
        return 'skipped';
      }
      outcome = await this.revise(event.subject, 'decision');
    } else if (event.type === 'shipment.milestone.v1' && event.data['milestone'] === 'backordered') {
      outcome = await this.revise(event.subject, 'short_allocation');
    } else if (event.type === 'inventory.received.v1') {
      const sku = event.data['sku'];
      const warehouseId = event.data['warehouseId'];
      if (typeof sku !== 'string' || typeof warehouseId !== 'string') {
        throw CrossdockError.dataQuality('inventory.received.v1 without sku or warehouseId', {
          owner: 'integration',
          details: { eventId: event.id, field: typeof sku !== 'string' ? 'data.sku' : 'data.warehouseId' },
        });
      }
      outcome = await this.releaseReceived(sku, warehouseId);
    } else return 'skipped';
    return outcome.status === 'skipped' ? 'skipped' : undefined;
  };

  /**
   * Promises the order's backordered lines from the receipts and announces the revision, once
   * per revision (see the file comment).
   */
  async revise(orderId: string, reason: 'decision' | 'short_allocation'): Promise<BackorderOutcome> {
    const { store } = this.deps;
    for (let attempt = 1; ; attempt++) {
      const order = await store.getOrder(orderId);
      if (!order) return { status: 'skipped', reason: 'unknown_order' };
      if (!openStates.includes(order.state)) return { status: 'skipped', reason: `order_${order.state}` };
      const short = order.lines.filter((l) => l.backorderedQuantity > 0);
      if (short.length === 0) return { status: 'skipped', reason: 'nothing_backordered' };
      const inventory = await store.getInventory([...new Set(short.map((l) => l.sku))]);
      const today = this.deps.clock.now().toISOString().slice(0, 10);
      const lines = order.lines.map((l) =>
        l.backorderedQuantity > 0 && l.promiseDate === null
          ? { ...l, promiseDate: promiseDate(inventory, l.sku, l.backorderedQuantity, today, this.leadDays) }
          : l,
      );
      const status = customerStatusFor({ ...order, lines });
      const changed = lines.some((l, i) => l !== order.lines[i]) || status !== order.customerStatus;
      const next: SalesOrder = changed
        ? {
            ...order,
            version: order.version + 1,
            lines,
            customerStatus: status,
            updatedAt: this.deps.clock.now().toISOString(),
          }
        : order;
      const customer = order.customerId ? await store.getCustomer(order.customerId) : null;
      const unit = this.revisionUnit(order, next, reason, customer?.externalIds['crm'] ?? null);
      try {
        const result = await store.commit(unit);
        if (result.status === 'duplicate') return { status: 'skipped', reason: 'announced_before' };
        return { status: 'revised', orderId, reason, promiseDate: latestPromise(next.lines) };
      } catch (err) {
        const e = toCrossdockError(err);
        if (e.kind !== 'conflict' || attempt >= attempts) throw e;
      }
    }
  }

  /** Serves backordered orders of `sku` from what arrived at `warehouseId` (see the file comment). */
  async releaseReceived(sku: string, warehouseId: string): Promise<BackorderOutcome> {
    const { store, wms } = this.deps;
    const wmsFree = (await wms.getInventory([sku]))
      .filter((p) => p.warehouseId === warehouseId)
      .reduce((n, p) => n + Math.max(0, p.onHand - p.allocated), 0);
    const hubReserved = (await store.getInventory([sku]))
      .filter((p) => p.warehouseId === warehouseId)
      .reduce((n, p) => n + p.reserved, 0);
    let free = round4(wmsFree - hubReserved);
    if (free <= 0) return { status: 'skipped', reason: 'nothing_free' };
    const releases: { orderId: string; warehouseId: string; sku: string; quantity: number }[] = [];
    for (const candidate of await this.waiting(sku)) {
      if (free <= 0) break;
      const released = await this.releaseOne(candidate.id, sku, warehouseId, free);
      if (released > 0) {
        releases.push({ orderId: candidate.id, warehouseId, sku, quantity: released });
        free = round4(free - released);
      }
    }
    return releases.length > 0
      ? { status: 'released', releases }
      : { status: 'skipped', reason: 'none_waiting' };
  }

  /** Open orders with `sku` backordered, oldest first (paged over the open states). */
  private async waiting(sku: string): Promise<SalesOrder[]> {
    const max = this.deps.maxOrdersPerReceipt ?? 2_000;
    const out: SalesOrder[] = [];
    let afterId: string | undefined;
    for (let seen = 0; seen < max; ) {
      const page = await this.deps.store.listOrders({
        states: openStates,
        limit: 200,
        ...(afterId ? { afterId } : {}),
      });
      if (page.length === 0) break;
      seen += page.length;
      afterId = page.at(-1)!.id;
      for (const o of page) if (o.lines.some((l) => l.sku === sku && l.backorderedQuantity > 0)) out.push(o);
      if (page.length < 200) break;
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Releases up to `free` of the order's backorder of `sku` at `warehouseId`; returns how much. */
  private async releaseOne(orderId: string, sku: string, warehouseId: string, free: number): Promise<number> {
    const { store, wms } = this.deps;
    let order = await store.getOrder(orderId);
    if (!order || !openStates.includes(order.state)) return 0;
    const want = round4(
      order.lines.filter((l) => l.sku === sku).reduce((n, l) => n + l.backorderedQuantity, 0),
    );
    const quantity = round4(Math.min(want, free));
    if (quantity <= 0) return 0;
    // The key names the order as it was before this release: a retry after a crash between the
    // warehouse's answer and our commit reads the same version and gets the same warehouse order.
    const key = `${backordersId}:${order.id}:${order.version}:${warehouseId}`;
    await wms.releaseOrder({
      idempotencyKey: key,
      hubOrderId: order.id,
      warehouseId,
      shipTo: order.shipTo,
      shippingMethod: order.shippingMethod,
      lines: [{ sku, quantity }],
    });
    for (let attempt = 1; ; attempt++) {
      const next = releasedOrder(order, sku, warehouseId, quantity, this.deps.clock.now().toISOString());
      const unit = this.revisionUnit(order, next, 'released', null);
      unit.inbound = { source: backordersId, id: key };
      unit.inventory = [{ sku, warehouseId, reservedDelta: quantity }];
      try {
        const result = await store.commit(unit);
        return result.status === 'duplicate' ? 0 : quantity;
      } catch (err) {
        const e = toCrossdockError(err);
        if (e.kind !== 'conflict' || attempt >= attempts) throw e;
        if (typeof e.details['sku'] === 'string') {
          // The hub's view has not caught up with the receipt: the warehouse allocated it already.
          const fresh = releasedOrder(order, sku, warehouseId, quantity, this.deps.clock.now().toISOString());
          const plain = this.revisionUnit(order, fresh, 'released', null);
          plain.inbound = { source: backordersId, id: key };
          const r = await store.commit(plain);
          return r.status === 'duplicate' ? 0 : quantity;
        }
        const fresh = await store.getOrder(orderId);
        if (!fresh) return 0;
        order = fresh;
      }
    }
  }

  /** The commit of one revision: order (if changed), timeline, `order.backordered.v1`, dedupe record. */
  private revisionUnit(
    order: SalesOrder,
    next: SalesOrder,
    reason: 'decision' | 'short_allocation' | 'released',
    accountCrmId: string | null,
  ): CommitUnit {
    const now = this.deps.clock.now();
    const lines = next.lines
      .filter((l) => l.backorderedQuantity > 0)
      .map((l) => ({ sku: l.sku, backorderedQuantity: l.backorderedQuantity, promiseDate: l.promiseDate }));
    const promise = latestPromise(next.lines);
    const data: EventData<'order.backordered.v1'> = {
      orderId: order.id,
      customerId: order.customerId,
      state: next.state,
      customerStatus: next.customerStatus,
      reason,
      lines,
      promiseDate: promise,
    };
    if (reason !== 'released') {
      data.salesTask = {
        accountCrmId,
        subject: `Backorder on order ${order.poNumber ?? order.id}: ${lines.map((l) => `${l.sku} × ${l.backorderedQuantity}`).join(', ')}${promise ? `, promised ${promise}` : ''}`,
        dueOn: promise,
      };
    }
    const revisionKey = createHash('sha256')
      .update(JSON.stringify([reason === 'released' ? 'released' : 'open', lines]))
      .digest('hex')
      .slice(0, 24);
    const timeline: TimelineInput = {
      orderId: order.id,
      at: now.toISOString(),
      kind: 'event',
      name: `backorder.${reason}`,
      system: 'crossdock',
      outcome: 'applied',
      durationMs: null,
      summary: { reason, lines, promiseDate: promise, revisionKey },
      correlationId: order.correlationId,
    };
    const unit: CommitUnit = {
      timeline: [timeline],
      events: [newEvent('order.backordered.v1', order.id, data, { source: this.eventSource, time: now })],
      inbound: { source: backordersId, id: `${order.id}:${revisionKey}` },
    };
    if (next !== order) unit.order = { next, expectedVersion: order.version };
    return unit;
  }
}

/** The order with `quantity` of `sku` moved from its lines' backorder to an allocation at `warehouseId`. */
function releasedOrder(
  order: SalesOrder,
  sku: string,
  warehouseId: string,
  quantity: number,
  nowIso: string,
): SalesOrder {
  let left = quantity;
  const lines: OrderLine[] = order.lines.map((l) => {
    if (l.sku !== sku || l.backorderedQuantity <= 0 || left <= 0) return l;
    const take = round4(Math.min(l.backorderedQuantity, left));
    left = round4(left - take);
    const allocations = [...l.allocations.map((a) => ({ ...a }))];
    const at = allocations.find((a) => a.warehouseId === warehouseId);
    if (at) at.quantity = round4(at.quantity + take);
    else allocations.push({ warehouseId, quantity: take });
    const backorderedQuantity = round4(l.backorderedQuantity - take);
    return {
      ...l,
      allocations,
      backorderedQuantity,
      promiseDate: backorderedQuantity > 0 ? l.promiseDate : null,
    };
  });
  return {
    ...order,
    version: order.version + 1,
    lines,
    customerStatus: customerStatusFor({ ...order, lines }),
    updatedAt: nowIso,
  };
}

/**
 * The date the earliest inbound receipts of `sku` cover `shortfall`, else `leadDays` from today.
 * Receipts whose ETA has passed count only with `overdueReceipts` (the decision step counts them,
 * as it always has; a revision does not promise a date already gone).
 */
export function promiseDate(
  inventory: readonly InventoryPosition[],
  sku: string,
  shortfall: number,
  today: string,
  leadDays: number,
  options: { overdueReceipts?: boolean } = {},
): string {
  const receipts = inventory
    .filter((p) => p.sku === sku)
    .flatMap((p) => p.inbound)
    .filter((r) => options.overdueReceipts === true || r.eta >= today)
    .sort((a, b) => a.eta.localeCompare(b.eta));
  let covered = 0;
  for (const r of receipts) {
    covered += r.quantity;
    if (covered >= shortfall) return r.eta;
  }
  const d = new Date(`${today}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + leadDays);
  return d.toISOString().slice(0, 10);
}

function latestPromise(lines: readonly OrderLine[]): string | null {
  const dates = lines
    .filter((l) => l.backorderedQuantity > 0 && l.promiseDate)
    .map((l) => l.promiseDate!)
    .sort();
  return dates.at(-1) ?? null;
}

function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}
