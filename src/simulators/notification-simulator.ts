/**
 * Customer-notification simulator (email/SMS/portal) behind `NotificationPort`.
 *
 * Why it records everything: a duplicate notification is the one effect a customer sees, so
 * tests (and the replay benchmark's `duplicates` count) read `delivered`, `effectCount` and
 * `deliveredTo()` to prove nobody got the same message twice.
 */
import type { Clock, CustomerNotification, NotificationPort } from '../ports/index.js';
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
}

/** The notification stand-in. */
export class NotificationSimulator implements NotificationPort {
  readonly system = 'notify-sim';
  /** Fault settings and call/effect counters of this system. */
  readonly faults: FaultInjector;
  /** Every distinct notification delivered, in order (never a duplicate). */
  readonly delivered: DeliveredNotification[] = [];
  private readonly clock: Clock;
  private readonly byKey = new Map<string, DeliveredNotification>();
  /** Sends that arrived with an already-used key (attempted duplicates, suppressed). */
  duplicateAttempts = 0;

  constructor(options: NotificationSimulatorOptions) {
    this.clock = options.clock;
    this.faults = options.faults;
  }

  async send(notification: CustomerNotification): Promise<{ notificationId: string; duplicate: boolean }> {
    const g = this.faults.before('send');
    if (g) await g;
    const seen = this.byKey.get(notification.idempotencyKey);
    if (seen) {
      this.duplicateAttempts++;
      return { notificationId: seen.notificationId, duplicate: true };
    }
    const record: DeliveredNotification = {
      ...notification,
      data: { ...notification.data },
      notificationId: `NTF-${String(this.delivered.length + 1).padStart(7, '0')}`,
      deliveredAt: this.clock.now().toISOString(),
    };
    this.byKey.set(notification.idempotencyKey, record);
    this.delivered.push(record);
    this.faults.effect();
    return { notificationId: record.notificationId, duplicate: false };
  }

  /** Number of notifications that reached a customer. */
  get effectCount(): number {
    return this.faults.effects;
  }

  /** Notifications a customer received, optionally for one order. */
  deliveredTo(customerId: string, orderId?: string): DeliveredNotification[] {
    return this.delivered.filter(
      (n) => n.customerId === customerId && (orderId === undefined || n.orderId === orderId),
    );
  }

  /** (customer, order, template) triples delivered more than once — always empty unless keys differ. */
  repeatedContent(): { customerId: string; orderId: string; template: string; count: number }[] {
    const counts = new Map<string, number>();
    for (const n of this.delivered) {
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
