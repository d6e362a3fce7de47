/**
 * NotificationPort: what a customer receives (email, SMS, portal message).
 * Idempotent by key: the one effect that must never happen twice in the customer's inbox.
 */
export interface CustomerNotification {
  idempotencyKey: string;
  customerId: string;
  orderId: string;
  template: string;
  data: Record<string, unknown>;
}

export interface NotificationPort {
  readonly system: string;
  send(notification: CustomerNotification): Promise<{ notificationId: string; duplicate: boolean }>;
}
