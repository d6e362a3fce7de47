/**
 * The estate driver: makes the simulated warehouse, carriers and ERP act on their own clock, so
 * orders released by the hub move on without anyone scripting them (`npm start`, demos).
 *
 * What it does, through the simulators' public methods only:
 * - WMS: each warehouse order the hub releases is picked, packed and shipped, each step after its
 *   dwell time (`dwell.pick`, `dwell.pack`, `dwell.ship`); at the pick, with `shortPickRate`, the
 *   picker finds half of one line missing (`WmsSimulator.shortPick`: a `backordered` milestone,
 *   which the hub's backorder path takes) and the rest is picked.
 * - TMS: a shipment the hub booked (on `packed`) and the warehouse shipped goes in transit, out
 *   for delivery and is delivered; with `carrierExceptionRate` it is delayed on the way (an
 *   `exception` with a reason, then back in transit after `dwell.exceptionRecovery`).
 * - ERP: an order whose ordered quantity has all shipped is invoiced `invoiceAfterMs` after its
 *   last shipment, and paid `paymentAfterMs` after that.
 * - Stock: every `receiptEveryMs` inbound receipts arrive: what short picks and warehouse
 *   backorders were missing (plus a case), and the next due inbound line of positions out of
 *   stock (a rotating window over the SKUs). The hub's inventory refresh sees on-hand grow and its
 *   backorder path re-releases the waiting orders.
 * - Returns: with `returnRate`, one unit of a delivered shipment comes back: `returnAfterMs`
 *   after delivery the customer asks for it through the `requestReturn` hook (the hub wires its
 *   returns request, as a CRM case); once the hub has told the warehouse to expect it
 *   (`WmsSimulator.expectedReturn`), the parcel arrives `dwell.returnTransit` later and is
 *   received and accepted in full at inspection (`WmsSimulator.receiveReturn`). Without the hook
 *   a return due is only counted (`stats.returnsDue`).
 *
 * Why a driver of its own rather than timers inside each simulator: the simulators stay step by
 * step for tests (which drive them explicitly), and one place decides the estate's pace.
 *
 * Time: due times are read from the injected `Clock`; `tick()` performs what is due. `start()`
 * calls it every `tickMs` on a timer (unref'd), `stop()` clears it and unsubscribes, leaving no
 * timer. Tests with a manual clock move the clock and call `tick()` (or let the timer run).
 *
 * Deterministic: each warehouse order and shipment draws from its own PRNG stream, seeded from
 * the estate's seed and its id, so the same seed gives the same fates whatever order the hub's
 * asynchronous steps (releases, bookings) happen to come in.
 *
 * Bounded: a tick performs at most `maxStepsPerTick` due steps (the rest waits for the next
 * tick, oldest due first), and at most `maxTracked` steps and shipments are followed; past that
 * new work is counted as `dropped` and left alone. Nothing scans the simulators' records.
 */
import { CrossdockError } from '../domain/index.js';
import type { Clock } from '../ports/index.js';
import type { ErpSimulator } from './erp-simulator.js';
import type { InventoryBook } from './inventory-book.js';
import { mulberry32, Rng } from './random.js';
import type { TmsBookingRecord, TmsSimulator } from './tms-simulator.js';
import type { WmsMilestone, WmsSimulator } from './wms-simulator.js';

/** How long each step waits after the previous one, ms (before jitter). */
export interface EstateDwell {
  /** Released → picked. */
  pick: number;
  /** Picked → packed (the hub books the carrier on packed). */
  pack: number;
  /** Packed → shipped (leaves the dock). */
  ship: number;
  /** Shipped and booked → in transit (the carrier's first scan). */
  inTransit: number;
  /** In transit → out for delivery. */
  outForDelivery: number;
  /** Out for delivery → delivered. */
  deliver: number;
  /** A carrier exception → back in transit. */
  exceptionRecovery: number;
  /** A return requested → the parcel at the warehouse (received and inspected). */
  returnTransit: number;
}

/** The estate's settings (config `simulators.estate`, without `enabled`). */
export interface EstateSettings {
  /** How often `tick()` runs once started, ms. */
  tickMs: number;
  /** Due steps performed per tick at most. */
  maxStepsPerTick: number;
  /** Steps waiting and shipments followed at most; new work past it is dropped (counted). */
  maxTracked: number;
  /** Each dwell is scaled by a random factor in [1 − jitter, 1 + jitter]. */
  jitter: number;
  dwell: EstateDwell;
  /** Share of warehouse orders short-picked (one line, half its allocation). */
  shortPickRate: number;
  /** Share of shipments delayed by a carrier exception on the way. */
  carrierExceptionRate: number;
  /** Share of delivered shipments to be returned. */
  returnRate: number;
  /** Delivered → return due, ms. */
  returnAfterMs: number;
  /** Last shipment of an order → ERP invoice, ms. */
  invoiceAfterMs: number;
  /** Invoice → payment recorded, ms. */
  paymentAfterMs: number;
  /** How often inbound receipts arrive, ms. */
  receiptEveryMs: number;
}

/**
 * Shipped defaults: a demo order is delivered about 1.5 minutes after the hub releases it
 * (plus the hub's own polling), invoiced about 2 minutes after it ships, paid 3 minutes later.
 */
export const defaultEstateSettings: EstateSettings = {
  tickMs: 1000,
  maxStepsPerTick: 500,
  maxTracked: 50_000,
  jitter: 0.3,
  dwell: {
    pick: 10_000,
    pack: 10_000,
    ship: 10_000,
    inTransit: 15_000,
    outForDelivery: 30_000,
    deliver: 20_000,
    exceptionRecovery: 30_000,
    returnTransit: 30_000,
  },
  shortPickRate: 0.05,
  carrierExceptionRate: 0.05,
  returnRate: 0.02,
  returnAfterMs: 120_000,
  invoiceAfterMs: 120_000,
  paymentAfterMs: 180_000,
  receiptEveryMs: 20_000,
};

/** A delivered shipment the estate wants returned (see `EstateHooks.requestReturn`). */
export interface EstateReturnDue {
  hubOrderId: string;
  shipmentId: string;
  trackingNumber: string;
  carrier: string;
  /** What the shipment carried, per SKU (from the warehouse's shipped milestone). */
  lines: { sku: string; quantity: number }[];
  /** What comes back: one unit of the first line, with the customer's reason. */
  returnLines: { sku: string; quantity: number; reason: string }[];
}

/** What the returns flow answered to a return request: the hub's return id. */
export interface EstateReturnRequested {
  returnId: string;
}

/** Where the estate reaches beyond the simulators. */
export interface EstateHooks {
  /**
   * A delivered shipment is to come back (`returnRate`): the hook into the returns flow. When it
   * answers the return's id, the estate's warehouse receives the parcel once the hub has told it
   * to expect it; without the hook the return is only counted (`stats.returnsDue`).
   */
  requestReturn?: (
    due: EstateReturnDue,
  ) => EstateReturnRequested | null | undefined | Promise<EstateReturnRequested | null | undefined>;
  /** A step failed other than by the order having moved on (cancelled, evicted). */
  onError?: (step: string, error: unknown) => void;
}

/** The timer functions `start()` uses (Node's by default; tests may count them). */
export interface EstateTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** Options of {@link Estate}. */
export interface EstateOptions {
  clock: Clock;
  seed: number;
  wms: WmsSimulator;
  tms: TmsSimulator;
  erp: ErpSimulator;
  /** The stock the WMS and ERP simulators share (`Simulators.inventory`), read for receipts. */
  inventory: InventoryBook;
  settings?: Partial<Omit<EstateSettings, 'dwell'>> & { dwell?: Partial<EstateDwell> };
  hooks?: EstateHooks;
  timers?: EstateTimers;
}

/** What the estate did so far. */
export interface EstateStats {
  picked: number;
  packed: number;
  shipped: number;
  shortPicks: number;
  inTransit: number;
  exceptions: number;
  recovered: number;
  outForDelivery: number;
  delivered: number;
  invoiced: number;
  paid: number;
  receipts: number;
  returnsDue: number;
  /** Returned parcels received and inspected at the warehouse. */
  returnsReceived: number;
  /** Steps given up because the record moved on (a cancelled order, an evicted record). */
  skipped: number;
  /** New work not followed because `maxTracked` was reached. */
  dropped: number;
  /** Steps that failed otherwise (reported to `onError`). */
  failed: number;
}

type WmsStep = 'picked' | 'packed' | 'shipped';
type CarrierStep = 'in_transit' | 'exception' | 'recovered' | 'out_for_delivery' | 'delivered';

/** Something the estate will do at `due`. */
type Step =
  | { kind: 'wms'; next: WmsStep; wmsOrderId: string; rng: Rng }
  | { kind: 'carrier'; next: CarrierStep; shipment: Followed; rng: Rng; reason?: ExceptionReason }
  | { kind: 'invoice'; hubOrderId: string }
  | { kind: 'payment'; hubOrderId: string; erpOrderId: string }
  | { kind: 'return'; due: EstateReturnDue }
  | { kind: 'return-receipt'; returnId: string; due: EstateReturnDue; since: number }
  | { kind: 'forget'; shipmentId: string };

/** A shipment between the warehouse and the customer. */
interface Followed {
  shipmentId: string;
  hubOrderId: string;
  /** Set once the warehouse shipped it. */
  lines: { sku: string; quantity: number }[] | null;
  booking: { trackingNumber: string; carrier: string } | null;
  warehouseId: string | null;
}

interface ExceptionReason {
  reason: string;
  detail: string;
}

/** Carrier delays the estate plays, each recovered from. */
const exceptionReasons: readonly ExceptionReason[] = [
  { reason: 'weather_delay', detail: 'Delayed: severe weather at the destination hub' },
  { reason: 'missed_connection', detail: 'Delayed: missed the linehaul connection' },
  { reason: 'address_correction', detail: 'Delayed: the carrier is correcting the address' },
  { reason: 'mechanical_delay', detail: 'Delayed: trailer breakdown, reloaded on another' },
];

/** Why the estate's customers send goods back. */
const returnReasons: readonly string[] = ['damaged_in_transit', 'wrong_item', 'no_longer_needed'];
/** How long a returned parcel waits for the hub to announce it (ERP authorization) before it is dropped. */
const returnWaitMs = 30 * 60_000;

/** Units added to what was missing when a replenishment receipt arrives (a case). */
const receiptCase = 10;
/** SKUs looked at per receipt round for due inbound lines, and lines received at most per round. */
const receiptScanSkus = 64;
const receiptLinesPerRound = 3;
/** Replenishments (what short picks and backorders missed) received per round at most. */
const replenishPerRound = 50;
/** How long a shipped warehouse order waits for the hub's carrier booking before it is let go. */
const bookingWaitMs = 15 * 60_000;

/** The estate driver; see the file comment. */
export class Estate {
  readonly settings: EstateSettings;
  private readonly clock: Clock;
  private readonly seed: number;
  private readonly wms: WmsSimulator;
  private readonly tms: TmsSimulator;
  private readonly erp: ErpSimulator;
  private readonly inventory: InventoryBook;
  private readonly hooks: EstateHooks;
  private readonly timers: EstateTimers;
  private readonly queue = new DueQueue<Step>();
  /** Shipments released and not yet handed to the carrier flow, by shipment (warehouse order) id. */
  private readonly shipments = new Map<string, Followed>();
  /** Quantity shipped so far per hub order not yet invoiced (to know when all has shipped). */
  private readonly shippedByOrder = new Map<string, number>();
  /** What receipts should bring, per `sku|warehouse`. */
  private readonly wanted = new Map<
    string,
    { sku: string; warehouseId: string; quantity: number; since: number }
  >();
  private skuRing: string[] = [];
  private skuAt = 0;
  private lastReceiptAt: number;
  private timer: unknown = null;
  private unsubscribe: (() => void)[] = [];
  private readonly counts: EstateStats = {
    picked: 0,
    packed: 0,
    shipped: 0,
    shortPicks: 0,
    inTransit: 0,
    exceptions: 0,
    recovered: 0,
    outForDelivery: 0,
    delivered: 0,
    invoiced: 0,
    paid: 0,
    receipts: 0,
    returnsDue: 0,
    returnsReceived: 0,
    skipped: 0,
    dropped: 0,
    failed: 0,
  };

  constructor(options: EstateOptions) {
    const { dwell, ...rest } = options.settings ?? {};
    this.settings = {
      ...defaultEstateSettings,
      ...rest,
      dwell: { ...defaultEstateSettings.dwell, ...dwell },
    };
    this.clock = options.clock;
    this.seed = options.seed;
    this.wms = options.wms;
    this.tms = options.tms;
    this.erp = options.erp;
    this.inventory = options.inventory;
    this.hooks = options.hooks ?? {};
    this.timers = options.timers ?? {
      setInterval: (fn, ms) => {
        const t = setInterval(fn, ms);
        t.unref();
        return t;
      },
      clearInterval: (t) => clearInterval(t as NodeJS.Timeout),
    };
    this.lastReceiptAt = this.clock.now().getTime();
  }

  /** Follows the simulators' releases and bookings and runs `tick()` every `tickMs`. */
  start(): void {
    if (this.timer !== null) return;
    this.unsubscribe = [
      this.wms.onMilestone((m) => this.guard('wms listener', () => this.onWmsMilestone(m))),
      this.tms.onBooked((b) => this.guard('tms listener', () => this.onBooked(b))),
    ];
    this.timer = this.timers.setInterval(() => this.guard('tick', () => this.tick()), this.settings.tickMs);
  }

  /** Stops the timer and the subscriptions; what is due stays queued (a later `start` resumes). */
  stop(): void {
    if (this.timer !== null) this.timers.clearInterval(this.timer);
    this.timer = null;
    for (const u of this.unsubscribe.splice(0)) u();
  }

  /** Whether `start()` is in force (a timer is set). */
  get running(): boolean {
    return this.timer !== null;
  }

  /** Steps waiting. */
  get pending(): number {
    return this.queue.size;
  }

  /** Counters of what the estate did (a copy). */
  stats(): EstateStats {
    return { ...this.counts };
  }

  /** Performs what is due at the clock's time (at most `maxStepsPerTick` steps); returns how many. */
  tick(): number {
    const now = this.clock.now().getTime();
    if (now - this.lastReceiptAt >= this.settings.receiptEveryMs) {
      this.lastReceiptAt = now;
      this.receipts(now);
    }
    let done = 0;
    while (done < this.settings.maxStepsPerTick) {
      const step = this.queue.popDue(now);
      if (!step) break;
      done++;
      this.guard(step.kind, () => this.perform(step, now));
    }
    return done;
  }

  // --- what the simulators announce ---------------------------------------------------------

  private onWmsMilestone(m: WmsMilestone): void {
    if (m.type === 'backordered' && m.lines) {
      for (const l of m.lines) this.want(l.sku, m.warehouseId, l.quantity);
      return;
    }
    if (m.type !== 'released') return;
    const record = this.wms.order(m.wmsOrderId);
    // A warehouse order with nothing allocated has nothing to pick: its backorder waits for stock.
    if (!record?.lines.some((l) => l.allocated > 0)) return;
    if (this.shipments.size >= this.settings.maxTracked || this.queue.size >= this.settings.maxTracked) {
      this.counts.dropped++;
      return;
    }
    this.shipments.set(m.wmsOrderId, {
      shipmentId: m.wmsOrderId,
      hubOrderId: m.hubOrderId,
      lines: null,
      booking: null,
      warehouseId: m.warehouseId,
    });
    const rng = this.rngFor(`wms:${m.wmsOrderId}`);
    this.schedule({ kind: 'wms', next: 'picked', wmsOrderId: m.wmsOrderId, rng }, 'pick', rng);
  }

  private onBooked(b: TmsBookingRecord): void {
    const booking = { trackingNumber: b.trackingNumber, carrier: b.carrier };
    const known = this.shipments.get(b.shipmentId);
    if (known) {
      known.booking = booking;
      if (known.lines) this.handToCarrier(known);
      return;
    }
    // Not a warehouse order the estate follows (released before it started, or not a WMS one):
    // the goods are taken to have left already.
    if (this.shipments.size >= this.settings.maxTracked) {
      this.counts.dropped++;
      return;
    }
    this.handToCarrier({
      shipmentId: b.shipmentId,
      hubOrderId: b.hubOrderId,
      lines: [],
      booking,
      warehouseId: null,
    });
  }

  // --- steps ----------------------------------------------------------------------------------

  private perform(step: Step, now: number): void {
    switch (step.kind) {
      case 'wms':
        this.wmsStep(step);
        return;
      case 'carrier':
        this.carrierStep(step);
        return;
      case 'invoice': {
        const record = this.erp.orderByIdempotencyKey(step.hubOrderId);
        if (!record) {
          this.counts.skipped++;
          return;
        }
        this.erp.invoiceOrder(record.erpOrderId);
        this.counts.invoiced++;
        this.queue.push(now + this.settings.paymentAfterMs, {
          kind: 'payment',
          hubOrderId: step.hubOrderId,
          erpOrderId: record.erpOrderId,
        });
        return;
      }
      case 'payment':
        this.erp.payInvoice(step.erpOrderId);
        this.counts.paid++;
        return;
      case 'forget':
        // Shipped, but the hub never booked a carrier for it (refused, parked): stop waiting.
        if (this.shipments.get(step.shipmentId)?.booking === null) {
          this.shipments.delete(step.shipmentId);
          this.counts.skipped++;
        }
        return;
      case 'return': {
        this.counts.returnsDue++;
        const requested = this.hooks.requestReturn;
        if (!requested) return;
        const due = step.due;
        Promise.resolve()
          .then(() => requested(due))
          .then(
            (r) => {
              if (r?.returnId)
                this.queue.push(this.clock.now().getTime() + this.settings.dwell.returnTransit, {
                  kind: 'return-receipt',
                  returnId: r.returnId,
                  due,
                  since: this.clock.now().getTime(),
                });
            },
            (err: unknown) => this.failed('return', err),
          );
        return;
      }
      case 'return-receipt':
        this.returnReceipt(step);
        return;
    }
  }

  /**
   * The returned parcel at the warehouse: received and accepted in full once the hub has told
   * the warehouse to expect it; until then it checks again every transit time, for
   * `returnWaitMs` at most.
   */
  private returnReceipt(step: Extract<Step, { kind: 'return-receipt' }>): void {
    const expected = this.wms.expectedReturn(step.returnId);
    if (!expected) {
      const now = this.clock.now().getTime();
      if (now - step.since > returnWaitMs) {
        this.counts.skipped++;
        return;
      }
      this.queue.push(now + Math.max(1000, this.settings.dwell.returnTransit), step);
      return;
    }
    if (expected.received) return;
    this.wms.receiveReturn(
      step.returnId,
      step.due.returnLines.map((l) => ({ sku: l.sku, received: l.quantity, accepted: l.quantity })),
    );
    this.counts.returnsReceived++;
  }

  private wmsStep(step: Extract<Step, { kind: 'wms' }>): void {
    try {
      this.advanceWms(step);
    } catch (err) {
      // Cancelled or evicted: the shipment is no longer followed.
      this.shipments.delete(step.wmsOrderId);
      throw err;
    }
  }

  private advanceWms(step: Extract<Step, { kind: 'wms' }>): void {
    const { wmsOrderId, rng } = step;
    if (step.next === 'picked') {
      if (rng.chance(this.settings.shortPickRate)) this.shortPick(wmsOrderId);
      this.wms.advance(wmsOrderId, 'picked');
      this.counts.picked++;
      this.schedule({ ...step, next: 'packed' }, 'pack', rng);
      return;
    }
    if (step.next === 'packed') {
      this.wms.advance(wmsOrderId, 'packed');
      this.counts.packed++;
      this.schedule({ ...step, next: 'shipped' }, 'ship', rng);
      return;
    }
    const m = this.wms.advance(wmsOrderId, 'shipped');
    this.counts.shipped++;
    const lines = m.lines ?? [];
    const followed = this.shipments.get(wmsOrderId);
    if (followed) {
      followed.lines = lines;
      if (followed.booking) this.handToCarrier(followed);
      else
        this.queue.push(this.clock.now().getTime() + bookingWaitMs, {
          kind: 'forget',
          shipmentId: wmsOrderId,
        });
    }
    this.countShipped(m.hubOrderId, lines);
  }

  /** Half of the first line with two or more allocated goes missing at the pick. */
  private shortPick(wmsOrderId: string): void {
    const line = this.wms.order(wmsOrderId)?.lines.find((l) => l.allocated >= 2);
    if (!line) return;
    this.wms.shortPick(wmsOrderId, line.sku, Math.floor(line.allocated / 2));
    this.counts.shortPicks++;
  }

  private carrierStep(step: Extract<Step, { kind: 'carrier' }>): void {
    const { shipment, rng } = step;
    const tn = shipment.booking!.trackingNumber;
    switch (step.next) {
      case 'in_transit':
        this.tms.track(tn, 'in_transit', 'Picked up by the carrier', shipment.warehouseId ?? undefined);
        this.counts.inTransit++;
        if (rng.chance(this.settings.carrierExceptionRate)) {
          const reason = rng.pick(exceptionReasons);
          this.schedule({ ...step, next: 'exception', reason }, 'outForDelivery', rng, 0.5);
        } else this.schedule({ ...step, next: 'out_for_delivery' }, 'outForDelivery', rng);
        return;
      case 'exception': {
        const r = step.reason ?? exceptionReasons[0]!;
        this.tms.track(tn, 'exception', r.detail, undefined, r.reason);
        this.counts.exceptions++;
        this.schedule({ ...step, next: 'recovered' }, 'exceptionRecovery', rng);
        return;
      }
      case 'recovered':
        this.tms.track(tn, 'in_transit', `Back in transit after ${step.reason?.reason ?? 'a delay'}`);
        this.counts.recovered++;
        this.schedule({ ...step, next: 'out_for_delivery' }, 'outForDelivery', rng);
        return;
      case 'out_for_delivery':
        this.tms.track(tn, 'out_for_delivery', 'Out for delivery');
        this.counts.outForDelivery++;
        this.schedule({ ...step, next: 'delivered' }, 'deliver', rng);
        return;
      case 'delivered': {
        this.tms.track(tn, 'delivered', 'Delivered');
        this.counts.delivered++;
        const first = shipment.lines?.[0];
        if (rng.chance(this.settings.returnRate) && first) {
          this.queue.push(this.clock.now().getTime() + this.settings.returnAfterMs, {
            kind: 'return',
            due: {
              hubOrderId: shipment.hubOrderId,
              shipmentId: shipment.shipmentId,
              trackingNumber: tn,
              carrier: shipment.booking!.carrier,
              lines: (shipment.lines ?? []).map((l) => ({ ...l })),
              returnLines: [
                { sku: first.sku, quantity: Math.min(1, first.quantity), reason: rng.pick(returnReasons) },
              ],
            },
          });
        }
        return;
      }
    }
  }

  /** A shipment that left and is booked starts its carrier flow. */
  private handToCarrier(shipment: Followed): void {
    this.shipments.delete(shipment.shipmentId);
    const rng = this.rngFor(`tms:${shipment.shipmentId}`);
    this.schedule({ kind: 'carrier', next: 'in_transit', shipment, rng }, 'inTransit', rng);
  }

  /**
   * Counts what shipped for the order; once all it ordered has, its invoice is due. An order the
   * ERP simulator does not hold (evicted, or not its order) is not followed. Past `maxTracked`
   * partly shipped orders (a remainder cancelled, a backorder never served), the oldest is let go.
   */
  private countShipped(hubOrderId: string, lines: readonly { quantity: number }[]): void {
    const record = this.erp.orderByIdempotencyKey(hubOrderId);
    if (!record) {
      this.shippedByOrder.delete(hubOrderId);
      this.counts.skipped++;
      return;
    }
    const shipped = (this.shippedByOrder.get(hubOrderId) ?? 0) + lines.reduce((n, l) => n + l.quantity, 0);
    const ordered = record.lines.reduce((n, l) => n + l.quantity, 0);
    if (shipped >= ordered - 1e-9) {
      this.shippedByOrder.delete(hubOrderId);
      this.queue.push(this.clock.now().getTime() + this.settings.invoiceAfterMs, {
        kind: 'invoice',
        hubOrderId,
      });
      return;
    }
    if (!this.shippedByOrder.has(hubOrderId) && this.shippedByOrder.size >= this.settings.maxTracked) {
      const oldest = this.shippedByOrder.keys().next().value;
      if (oldest !== undefined) this.shippedByOrder.delete(oldest);
      this.counts.dropped++;
    }
    this.shippedByOrder.set(hubOrderId, shipped);
  }

  // --- receipts -------------------------------------------------------------------------------

  private want(sku: string, warehouseId: string, quantity: number): void {
    if (!(quantity > 0)) return;
    const key = `${sku}|${warehouseId}`;
    const w = this.wanted.get(key);
    if (w) w.quantity += quantity;
    else if (this.wanted.size < this.settings.maxTracked)
      this.wanted.set(key, { sku, warehouseId, quantity, since: this.clock.now().getTime() });
    else this.counts.dropped++;
  }

  /**
   * One round of receipts: what was found missing at least a round ago (plus a case; not sooner,
   * so the hub has heard of the shortage before the stock that covers it arrives), then the next
   * inbound line of positions out of free stock or whose receipt is due, from a rotating window
   * of SKUs.
   */
  private receipts(now: number): void {
    let n = 0;
    for (const [key, w] of this.wanted) {
      // Oldest first: the first one not yet a whole round old ends this round's replenishments.
      if (n++ >= replenishPerRound || now - w.since < this.settings.receiptEveryMs) break;
      this.wanted.delete(key);
      this.guard('receipt', () => {
        this.wms.receiveStock(w.sku, w.warehouseId, Math.ceil(w.quantity) + receiptCase);
        this.counts.receipts++;
      });
    }
    if (this.skuAt >= this.skuRing.length) {
      this.skuRing = [...this.inventory.skus()];
      this.skuAt = 0;
    }
    const today = this.clock.now().toISOString().slice(0, 10);
    let received = 0;
    const end = Math.min(this.skuRing.length, this.skuAt + receiptScanSkus);
    for (; this.skuAt < end && received < receiptLinesPerRound; this.skuAt++) {
      for (const p of this.inventory.positions(this.skuRing[this.skuAt]!)) {
        const next = p.inbound[0];
        if (!next || !(next.quantity > 0)) continue;
        if (p.onHand - p.allocated > 0 && next.eta > today) continue;
        this.guard('receipt', () => {
          this.wms.receiveStock(p.sku, p.warehouseId, next.quantity);
          this.counts.receipts++;
          received++;
        });
      }
    }
  }

  // --- helpers --------------------------------------------------------------------------------

  /** Queues `step` after the dwell of `dwell` (scaled by `factor`, with jitter from `rng`). */
  private schedule(step: Step, dwell: keyof EstateDwell, rng: Rng, factor = 1): void {
    if (this.queue.size >= this.settings.maxTracked) {
      this.counts.dropped++;
      return;
    }
    const j = this.settings.jitter;
    const ms = this.settings.dwell[dwell] * factor * (1 + j * (2 * rng.next() - 1));
    this.queue.push(this.clock.now().getTime() + Math.max(0, Math.round(ms)), step);
  }

  /** A PRNG stream of its own for one warehouse order or shipment (see the file comment). */
  private rngFor(id: string): Rng {
    // FNV-1a over the id, mixed with the seed.
    let h = 0x811c9dc5 ^ this.seed;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    return new Rng(mulberry32(h >>> 0));
  }

  /** Runs `fn`; a record that moved on (conflict, gone) is skipped, anything else reported. */
  private guard(step: string, fn: () => unknown): void {
    try {
      fn();
    } catch (err) {
      if (err instanceof CrossdockError && (err.kind === 'conflict' || err.kind === 'data_quality')) {
        this.counts.skipped++;
        return;
      }
      this.failed(step, err);
    }
  }

  private failed(step: string, err: unknown): void {
    this.counts.failed++;
    this.hooks.onError?.(step, err);
  }
}

/**
 * Steps by due time (ties in the order they were queued): a binary heap. Hand-written (20 lines)
 * rather than a dependency: nothing in the project's dependencies offers one.
 */
class DueQueue<T> {
  private readonly heap: { due: number; seq: number; item: T }[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(due: number, item: T): void {
    const h = this.heap;
    h.push({ due, seq: this.seq++, item });
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  /** The earliest step due at or before `now`, removed; undefined when none is due. */
  popDue(now: number): T | undefined {
    const h = this.heap;
    if (h.length === 0 || h[0]!.due > now) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(l, m)) m = l;
        if (r < h.length && this.less(r, m)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top.item;
  }

  private less(a: number, b: number): boolean {
    const x = this.heap[a]!;
    const y = this.heap[b]!;
    return x.due < y.due || (x.due === y.due && x.seq < y.seq);
  }
}
