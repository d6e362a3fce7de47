/**
 * CrmPort: the CRM (Salesforce-like) as the hub sees it: accounts to link unknown customers,
 * and the order status / activity records the hub keeps in step. Writes are upserts by the
 * hub's external id, so a retried delivery never makes a second record.
 */
import type { Address } from '../domain/index.js';

export interface CrmAccount {
  crmId: string;
  name: string;
  accountNumber?: string;
  addresses: Address[];
  active: boolean;
  segment?: string;
}

export interface CrmOrderStatusUpdate {
  /** Upsert key in the CRM: the hub order id. */
  hubOrderId: string;
  crmOpportunityId?: string;
  status: string;
  state: string;
  erpOrderNumber?: string | null;
  /** The event's position in the order's stream; the CRM ignores older ones. */
  sequence: number;
  idempotencyKey: string;
}

export interface CrmActivity {
  hubOrderId: string;
  subject: string;
  body: string;
  occurredAt: string;
  idempotencyKey: string;
}

/** A follow-up task for a person in the CRM (a Salesforce Task), idempotent by key. */
export interface CrmTask {
  /** The account it is about; the CRM assigns it to the account's owner (its sales rep). */
  accountCrmId: string | null;
  hubOrderId: string;
  subject: string;
  description: string;
  /** When it is due (YYYY-MM-DD), if it has a date. */
  dueOn: string | null;
  idempotencyKey: string;
}

/**
 * An invoice or credit memo as the CRM keeps it (a Salesforce custom object on the account,
 * looked up from the order): upserted by `invoiceId`, the hub's id (`erp:<ERP invoice id>`).
 */
export interface CrmInvoice {
  invoiceId: string;
  kind: 'invoice' | 'credit_memo';
  hubOrderId: string;
  /** The account (CRM id) it is billed to; null when the hub does not know the customer's CRM id. */
  accountCrmId: string | null;
  number: string;
  /** Positive for both kinds. */
  amount: number;
  currency: string;
  /** Invoice date (YYYY-MM-DD or ISO time). */
  issuedAt: string;
  dueOn: string | null;
  status: 'open' | 'paid' | 'credited';
  lines: { sku: string; quantity: number; unitPrice: number; amount: number }[];
  /** A credit memo: the hub's id of the invoice it credits, and the return it is for. */
  creditsInvoiceId: string | null;
  returnId: string | null;
  /** The event's position in the order's stream; the CRM ignores older ones. */
  sequence: number;
  idempotencyKey: string;
}

export interface CrmPort {
  readonly system: string;
  getAccount(crmId: string): Promise<CrmAccount | null>;
  upsertOrderStatus(update: CrmOrderStatusUpdate): Promise<{ crmRecordId: string; applied: boolean }>;
  addActivity(activity: CrmActivity): Promise<{ crmRecordId: string; duplicate: boolean }>;
  /**
   * Opens a task for the account's owner (backorder follow-up). Optional: a CRM connector without
   * tasks leaves it out, and the hub records the activity only.
   */
  createTask?(task: CrmTask): Promise<{ crmRecordId: string; assignedTo: string | null; duplicate: boolean }>;
  /**
   * Records an invoice or credit memo on the account and the order, upserting by `invoiceId`
   * (an older `sequence` changes nothing). Optional: a CRM connector without it gets the order
   * status (`invoiced`) and the activity only.
   */
  upsertInvoice?(invoice: CrmInvoice): Promise<{ crmRecordId: string; applied: boolean }>;
}
