/**
 * ErpPort: what the hub needs from any ERP (the simulator, Tryton, NetSuite, Dynamics 365).
 *
 * Why this shape: it is the intersection of what a real ERP offers over its API and what the
 * quote-to-order and lifecycle flows need. Every method reports failure as a CrossdockError with
 * a kind (policy_violation for a credit refusal, data_quality for a missing field, transient for
 * timeouts, downstream_outage for refused connections, conflict for stale writes), and every
 * write is idempotent by a key the hub chooses, so a retry never makes a second record.
 */
import type { Address } from '../domain/index.js';

export interface ErpCustomerInput {
  /** The hub's customer id; the ERP stores it as the cross-reference (idempotency anchor). */
  externalId: string;
  name: string;
  addresses: Address[];
  creditLimit?: number;
  currency?: string;
  paymentTerms?: string;
  taxExempt?: boolean;
}

export interface ErpCustomer {
  erpId: string;
  externalId: string;
  name: string;
  creditLimit: number;
  currency: string;
  addresses: Address[];
  /** Opaque version token for optimistic writes (a write_date, an etag). */
  version: string;
}

export interface CreditExposure {
  erpCustomerId: string;
  creditLimit: number;
  /** Open receivables plus confirmed but uninvoiced orders, as the ERP counts them. */
  exposure: number;
  currency: string;
  asOf: string;
  /**
   * The parts of `exposure`, where the ERP tells them apart (optional: a connector that only
   * knows the total leaves them out). `openReceivables`: posted, unpaid invoices less open credit
   * memos; `overdueReceivables`: the part of those past their due date on the ERP's (the
   * injected) clock; `uninvoicedOrders`: confirmed orders not invoiced yet.
   */
  openReceivables?: number;
  overdueReceivables?: number;
  uninvoicedOrders?: number;
}

export interface ErpProduct {
  sku: string;
  erpId: string;
  name: string;
  uom: string;
  listPrice: number;
  active: boolean;
}

export interface ErpCustomerPrice {
  sku: string;
  unitPrice: number;
  currency: string;
}

export interface ErpStock {
  sku: string;
  warehouseId: string;
  onHand: number;
  forecast: number;
  asOf: string;
}

export interface ErpOrderLineInput {
  sku: string;
  quantity: number;
  unitPrice: number;
  warehouseId?: string;
}

export interface ErpOrderInput {
  /** Stable per hub order: a repeat with the same key returns the first ERP order. */
  idempotencyKey: string;
  hubOrderId: string;
  erpCustomerId: string;
  poNumber?: string;
  currency: string;
  shipTo: Address;
  requestedDate?: string;
  lines: ErpOrderLineInput[];
}

export interface ErpOrderRef {
  erpOrderId: string;
  erpOrderNumber: string;
  /** False when the idempotency key had been seen: this is the earlier order. */
  created: boolean;
}

export type ErpOrderState = 'draft' | 'quotation' | 'confirmed' | 'processing' | 'done' | 'cancelled';
export type ErpShipmentState = 'waiting' | 'assigned' | 'picked' | 'packed' | 'done' | 'cancelled';

export interface ErpShipmentStatus {
  erpShipmentId: string;
  state: ErpShipmentState;
  warehouseId?: string;
  lines: { sku: string; quantity: number }[];
}

/** One line of an invoice or credit memo. */
export interface ErpInvoiceLine {
  sku: string;
  quantity: number;
  unitPrice: number;
  /** quantity × unitPrice, rounded to 4 places. */
  amount: number;
}

/**
 * An invoice or a credit memo of a sales order. The detail fields are optional so a connector
 * that only knows state, number and amount still compiles; the simulator fills all of them.
 */
export interface ErpInvoiceStatus {
  erpInvoiceId: string;
  number: string | null;
  state: 'draft' | 'posted' | 'paid' | 'cancelled';
  /** Positive for both kinds: a credit memo's amount is what it credits. */
  amount: number;
  currency: string;
  /** `invoice` when absent. */
  kind?: 'invoice' | 'credit_memo';
  /** Invoice date (YYYY-MM-DD). */
  issueDate?: string;
  /** Due date from the customer's payment terms (YYYY-MM-DD); a credit memo has none. */
  dueDate?: string | null;
  /** The payment terms the due date was computed from (`NET30`, `DUE_ON_RECEIPT`, …). */
  paymentTerms?: string;
  lines?: ErpInvoiceLine[];
  /** A credit memo: the invoice it credits and the return (the hub's return id) it is for. */
  creditsInvoiceId?: string | null;
  returnId?: string | null;
}

export interface ErpOrderStatus {
  erpOrderId: string;
  erpOrderNumber: string;
  hubOrderId: string | null;
  state: ErpOrderState;
  shipments: ErpShipmentStatus[];
  invoices: ErpInvoiceStatus[];
}

/** A fulfillment or invoice milestone read from the ERP's change feed. */
export interface ErpChange {
  kind: 'shipment' | 'invoice' | 'order';
  erpOrderId: string;
  hubOrderId: string | null;
  /** shipment: an ErpShipmentState; invoice: an invoice state; order: an ErpOrderState. */
  milestone: string;
  recordId: string;
  at: string;
}

export interface ErpChangePage {
  changes: ErpChange[];
  /** Pass back as `since` to continue after the last change returned. */
  watermark: string;
}

/** What the hub asks an ERP to cancel (`ErpPort.cancelSalesOrder`). */
export interface ErpCancelInput {
  /** The key the order was created with (`ErpOrderInput.idempotencyKey`): how the ERP finds it. */
  idempotencyKey: string;
  hubOrderId: string;
  /** The ERP's order id, when the hub knows it (else the ERP finds the order by the key). */
  erpOrderId?: string;
  /**
   * `order`: the whole order; refused once anything shipped or was invoiced. `remainder`: what
   * has not shipped after a partial shipment; `lines` (per SKU) when the hub knows the quantities,
   * else every shipment not done yet.
   */
  scope: 'order' | 'remainder';
  lines?: { sku: string; quantity: number }[];
  /** Why, as a short code (`customer_request`, …): kept on the ERP order where it has a place. */
  reason: string;
}

/** Why an ERP would not cancel: goods left, an invoice is booked, or its workflow has no way. */
export type ErpCancelRefusal = 'shipped' | 'invoiced' | 'unsupported';

/**
 * The ERP's answer to a cancellation. Refusals are answers, not errors: the order is as it was.
 * Failures to reach the ERP are thrown as usual (transient, downstream_outage).
 */
export type ErpCancelResult =
  | {
      outcome: 'cancelled';
      erpOrderId: string;
      /** The ERP order's state after (a processed Tryton sale closes as `done` with nothing left). */
      state: ErpOrderState;
      /** False when there was nothing left to cancel (a repeat). */
      changed: boolean;
      /** What was cancelled now, per SKU. */
      lines: { sku: string; quantity: number }[];
      detail?: string;
    }
  /** No ERP order was ever created for the key: nothing to cancel. */
  | { outcome: 'not_found' }
  | {
      outcome: 'refused';
      erpOrderId: string;
      state: ErpOrderState;
      reason: ErpCancelRefusal;
      detail: string;
    };

/** A return authorization the hub asks the ERP for (`ErpPort.createReturnAuthorization`). */
export interface ErpReturnInput {
  /** The hub's return id: a repeat with the same id returns the first authorization. */
  returnId: string;
  hubOrderId: string;
  /** The ERP's order id, when the hub knows it. */
  erpOrderId?: string;
  /** The key the order was created with: how the ERP finds the order otherwise. */
  orderIdempotencyKey: string;
  lines: { sku: string; quantity: number; reason: string }[];
}

/** Why an ERP would not authorize a return. */
export type ErpReturnRefusal = 'not_shipped' | 'over_return' | 'unknown_sku' | 'cancelled' | 'unsupported';

/** The ERP's answer to a return authorization; refusals are answers, not errors. */
export type ErpReturnResult =
  | {
      outcome: 'authorized';
      erpReturnId: string;
      /** The RMA number the customer writes on the parcel. */
      rmaNumber: string;
      /** False when the return id had been seen: this is the earlier authorization. */
      created: boolean;
    }
  | { outcome: 'refused'; reason: ErpReturnRefusal; detail: string };

/** What was accepted at inspection, to be credited (`ErpPort.creditReturn`). */
export interface ErpReturnCreditInput {
  returnId: string;
  erpReturnId: string;
  /** Accepted quantities per SKU (priced by the ERP from the sales order's lines). */
  lines: { sku: string; quantity: number }[];
}

export interface ErpPort {
  /** A short system name for timelines and metrics, e.g. `erp-sim` or `tryton`. */
  readonly system: string;
  findCustomerByExternalId(externalId: string): Promise<ErpCustomer | null>;
  /** Idempotent by `input.externalId`: a repeat returns the existing customer. */
  createCustomer(input: ErpCustomerInput): Promise<ErpCustomer>;
  /** Optimistic write: `expectedVersion` stale → CrossdockError kind conflict. */
  updateCustomer(
    erpId: string,
    patch: Partial<Omit<ErpCustomerInput, 'externalId'>>,
    expectedVersion?: string,
  ): Promise<ErpCustomer>;
  getCreditExposure(erpCustomerId: string): Promise<CreditExposure>;
  getProducts(skus?: string[]): Promise<ErpProduct[]>;
  getCustomerPrices(erpCustomerId: string, skus: string[]): Promise<ErpCustomerPrice[]>;
  getStock(skus: string[]): Promise<ErpStock[]>;
  /** Idempotent by `input.idempotencyKey`. */
  createSalesOrder(input: ErpOrderInput): Promise<ErpOrderRef>;
  /** Confirms a draft/quoted order; a repeat on a confirmed order is a no-op. Credit refusal → policy_violation. */
  confirmSalesOrder(erpOrderId: string): Promise<ErpOrderStatus>;
  getSalesOrder(erpOrderId: string): Promise<ErpOrderStatus>;
  /**
   * Cancels the order, or its unshipped remainder: idempotent (a repeat answers `cancelled` with
   * `changed: false`), and all or nothing (a refusal leaves the order as it was). The credit
   * exposure of what was cancelled is released in the ERP. Optional so a connector that cannot
   * cancel yet still compiles; the hub then refuses to cancel an order that reached that ERP.
   */
  cancelSalesOrder?(input: ErpCancelInput): Promise<ErpCancelResult>;
  /**
   * Authorizes a return of shipped goods (an RMA), idempotent by `input.returnId`. Optional like
   * `cancelSalesOrder`: without it the hub rejects returns for that ERP (`unsupported`).
   */
  createReturnAuthorization?(input: ErpReturnInput): Promise<ErpReturnResult>;
  /**
   * Issues (and posts) the credit memo for a return's accepted lines, idempotent by `returnId`:
   * a repeat returns the same credit memo. It also appears on the change feed as an `invoice`
   * change (`posted`) whose record is a `credit_memo`. Refused (`policy_violation`) when the
   * return is unknown or the quantities exceed what it authorized.
   */
  creditReturn?(input: ErpReturnCreditInput): Promise<ErpInvoiceStatus>;
  changesSince(since: string | null, limit?: number): Promise<ErpChangePage>;
}
