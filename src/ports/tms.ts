/** TmsPort: carrier booking and tracking. */
export interface TmsBookingInput {
  idempotencyKey: string;
  hubOrderId: string;
  shipmentId: string;
  shippingMethod: string;
  weightKg: number;
  hazmat: boolean;
  destinationCountry: string;
}

export interface TmsPort {
  readonly system: string;
  /** Idempotent by key. Refuses what the carrier will not move (hazmat by air) as policy_violation. */
  bookShipment(input: TmsBookingInput): Promise<{ carrier: string; trackingNumber: string; duplicate: boolean }>;
}
