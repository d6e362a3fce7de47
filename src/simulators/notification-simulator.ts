/**
 * Customer-notification simulator (email/SMS/portal) behind `NotificationPort`.
 *
 * Why it records what it sent: a duplicate notification is the one effect a customer sees, so
 * tests (and the replay benchmark's `duplicates` count) read `delivered`, `effectCount` and
 * `deliveredTo()` to prove nobody got the same message twice.
 *
 * Bounded: the last `maxRecords` notifications are kept; the idempotency keys, much lighter
 * (key → notification number), are kept for the last `maxKeys` sends, so a redelivery of an
 * evicted notification is still recognised as a duplicate.
 */
import type { Clock, CustomerNotification, NotificationPort } from '../ports/index.js';
import { BoundedLog, BoundedMap } from './bounded.js';
import type { FaultInjector } from './faults.js';

/** A notification as the simulator delivered it. */
export interface DeliveredNotification extends CustomerNotification {
  notificationId: string;
  deliveredAt: string;
}

/** Options of the notification simulator. */
export interface NotificationSimulatorOptions {
  clock: Clock;
  faults: FaultInjector;
  /** Notifications kept for inspection; older ones are evicted. Default 50,000. */
  maxRecords?: number;
  /** Idempotency keys remembered; default 4 × `maxRecords`. */
  maxKeys?: number;
}

const notificationId = (n: number): string => `NTF-${String(n).padStart(7, '0')}`;

/** The notification stand-in. */
export class NotificationSimulator implements NotificationPort {
  readonly system = 'notify-sim';
  /** Fault settings and call/effect counters of this system. */
  readonly faults: FaultInjector;
  private readonly clock: Clock;
  /** The last `maxRecords` distinct notifications, numbered from 1. */
  private readonly log: BoundedLog<DeliveredNotification>;
  /** Idempotency key → notification number. */
  private readonly byKey: BoundedMap<string, number>;
  /** Sends that arrived with an already-used key (attempted duplicates, suppressed). */
  duplicateAttempts = 0;

  constructor(options: NotificationSimulatorOptions) {
    this.clock = options.clock;
    this.faults = options.faults;
    const maxRecords = options.maxRecords ?? 50_000;
    this.log = new BoundedLog(maxRecords);
    this.byKey = new BoundedMap(options.maxKeys ?? 4 * maxRecords);
  }

  /** The kept distinct notifications, in order (never a duplicate): the last `maxRecords`. */
  get delivered(): DeliveredNotification[] {
    return this.log.toArray();
  }

  /** Kept notifications, oldest first, paged (for the inspection route). */
  listDelivered(offset: number, limit: number): { items: DeliveredNotification[]; total: number } {
    return { items: this.log.page(offset, limit), total: this.log.size };
  }

  /** Distinct notifications sent so far, evicted ones included. */
  get sentCount(): number {
    return this.log.length;
  }

  /** Notifications evicted from memory so far. */
  get evictedCount(): number {
    return this.log.evicted;
  }

  async send(notification: CustomerNotification): Promise<{ notificationId: string; duplicate: boolean }> {
    const g = this.faults.before('send');
    if (g) await g;
    const seen = this.byKey.get(notification.idempotencyKey);
    if (seen !== undefined) {
      this.duplicateAttempts++;
      return { notificationId: notificationId(seen), duplicate: true };
    }
    const n = this.log.length + 1;
    const record: DeliveredNotification = {
      ...notification,
      data: { ...notification.data },
      notificationId: notificationId(n),
      deliveredAt: this.clock.now().toISOString(),
    };
    this.log.push(record);
    this.byKey.set(notification.idempotencyKey, n);
    this.faults.effect();
    return { notificationId: record.notificationId, duplicate: false };
  }

  /** Number of notifications that reached a customer. */
  get effectCount(): number {
    return this.faults.effects;
  }

  /** Kept notifications a customer received, optionally for one order. */
  deliveredTo(customerId: string, orderId?: string): DeliveredNotification[] {
    return this.delivered.filter(
      (n) => n.customerId === customerId && (orderId === undefined || n.orderId === orderId),
    );
  }

  /**
   * (customer, order, template) triples delivered more than once among the kept notifications —
   * always empty unless keys differ.
   */
  repeatedContent(): { customerId: string; orderId: string; template: string; count: number }[] {
    const counts = new Map<string, number>();
    for (const n of this.log.toArray()) {
      const k = `${n.customerId}\u0000${n.orderId}\u0000${n.template}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    return [...counts]
      .filter(([, c]) => c > 1)
      .map(([k, count]) => {
        const [customerId = '', orderId = '', template = ''] = k.split('\u0000');
        return { customerId, orderId, template, count };
      });
  }
}
