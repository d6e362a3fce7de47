/**
 * CRM simulator: a Salesforce-like CRM behind `CrmPort`.
 *
 * Why these semantics: the hub propagates order status to the CRM asynchronously and
 * at-least-once, so the CRM side must be an upsert by the hub's order id that ignores stale or
 * replayed updates (by `sequence`), and activities must be deduplicated by idempotency key.
 * Records stay inspectable (`orderStatus`, `activities`, `activityCount`, `faults.effects`) so
 * tests can prove that a redelivery changed nothing.
 *
 * Bounded: the last `maxRecords` order statuses and activities are kept. What the dedupe rules
 * need outlives the records: an evicted status leaves its sequence and record id behind (so a
 * late update still cannot win), and an activity's idempotency key is remembered `maxKeys`
 * activities past its eviction (so a redelivery is still a duplicate), both in light indexes.
 */
import { CrossdockError } from '../domain/index.js';
import type {
  Clock,
  CrmAccount,
  CrmActivity,
  CrmInvoice,
  CrmOrderStatusUpdate,
  CrmPort,
  CrmTask,
} from '../ports/index.js';
import { BoundedLog, BoundedMap, BoundedRecords, pageOf } from './bounded.js';
import type { DemoDataSet } from './demo-data.js';
import type { FaultInjector } from './faults.js';
import { salesforceId, salesforceId18 } from './random.js';

/** The CRM's stored order-status record (a custom object keyed by the hub order id). */
export interface CrmOrderStatusRecord {
  crmRecordId: string;
  hubOrderId: string;
  crmOpportunityId: string | null;
  status: string;
  state: string;
  erpOrderNumber: string | null;
  sequence: number;
  /** Updates applied (1 on create); ignored stale/duplicate updates do not count. */
  revision: number;
  createdAt: string;
  lastModifiedAt: string;
}

/** The CRM's stored activity (a Task on the order's timeline). */
export interface CrmActivityRecord extends CrmActivity {
  crmRecordId: string;
  createdAt: string;
}

/** The CRM's stored task (a follow-up assigned to the account's owner). */
export interface CrmTaskRecord extends CrmTask {
  crmRecordId: string;
  /** The account owner's user id (`005…`), or null for a task on no known account. */
  assignedTo: string | null;
  status: 'open';
  createdAt: string;
}

/** The CRM's stored invoice or credit memo (a custom object on the account, looked up from the order). */
export interface CrmInvoiceRecord extends Omit<CrmInvoice, 'idempotencyKey'> {
  crmRecordId: string;
  /** Updates applied (1 on create). */
  revision: number;
  createdAt: string;
  lastModifiedAt: string;
}

/** Options of the CRM simulator. */
export interface CrmSimulatorOptions {
  data: DemoDataSet;
  clock: Clock;
  faults: FaultInjector;
  /** Order statuses, and activities, kept; older ones are evicted. Default 50,000. */
  maxRecords?: number;
  /** Evicted records whose dedupe facts (sequence, idempotency key) are remembered; default 4 × `maxRecords`. */
  maxKeys?: number;
}

/** What an evicted order status leaves behind, so a late update still cannot win. */
interface EvictedStatus {
  crmRecordId: string;
  sequence: number;
  revision: number;
}

/** The CRM stand-in. */
export class CrmSimulator implements CrmPort {
  readonly system = 'crm-sim';
  /** Fault settings and call/effect counters of this system. */
  readonly faults: FaultInjector;
  private readonly clock: Clock;
  private readonly accounts = new Map<string, CrmAccount>();
  /** Kept order statuses by hub order id, in creation order. */
  private readonly statuses: BoundedRecords<string, CrmOrderStatusRecord>;
  /** Evicted order statuses' dedupe facts, by hub order id. */
  private readonly evictedStatuses: BoundedMap<string, EvictedStatus>;
  private readonly statusById = new Map<string, string>();
  /** Kept activities, in creation order. */
  private readonly activityLog: BoundedLog<CrmActivityRecord>;
  /** Activity idempotency key → record id, for kept activities and the last `maxKeys` evicted. */
  private readonly activityKeys: BoundedMap<string, string>;
  private readonly activitiesByOrder = new Map<string, CrmActivityRecord[]>();
  /** Tasks by idempotency key, and by hub order; the last `maxRecords` of each are kept. */
  private readonly taskKeys: BoundedMap<string, CrmTaskRecord>;
  private readonly tasksByOrder: BoundedMap<string, CrmTaskRecord[]>;
  /** Invoices and credit memos by the hub's invoice id; the last `maxRecords` are kept. */
  private readonly invoiceRecords: BoundedMap<string, CrmInvoiceRecord>;
  /** Invoice ids by hub order and by account (18-char id); entries of evicted records are skipped. */
  private readonly invoicesByOrder: BoundedMap<string, string[]>;
  private readonly invoicesByAccount: BoundedMap<string, string[]>;
  private nextRecord = 1;
  private nextAccount: number;
  /**
   * Invoice records created or changed. Counted apart from `faults.effects`, which has counted
   * one effect per order-status or activity write since before invoices reached the CRM (suites
   * compare it with the number of status events); a replayed invoice adds to neither.
   */
  private invoiceWriteCount = 0;

  constructor(options: CrmSimulatorOptions) {
    this.clock = options.clock;
    this.faults = options.faults;
    const maxRecords = options.maxRecords ?? 50_000;
    const maxKeys = options.maxKeys ?? 4 * maxRecords;
    this.evictedStatuses = new BoundedMap(maxKeys);
    this.statuses = new BoundedRecords(maxRecords, (hubOrderId, r) => {
      this.statusById.delete(r.crmRecordId);
      this.evictedStatuses.set(hubOrderId, {
        crmRecordId: r.crmRecordId,
        sequence: r.sequence,
        revision: r.revision,
      });
    });
    this.activityKeys = new BoundedMap(maxRecords + maxKeys);
    this.taskKeys = new BoundedMap(maxRecords);
    this.invoiceRecords = new BoundedMap(maxRecords);
    this.invoicesByOrder = new BoundedMap(maxRecords);
    this.invoicesByAccount = new BoundedMap(maxRecords);
    this.tasksByOrder = new BoundedMap(maxRecords);
    this.activityLog = new BoundedLog(maxRecords, (a) => {
      // The evicted activity is the oldest, so it is the first of its order's list.
      const list = this.activitiesByOrder.get(a.hubOrderId);
      if (list?.[0] === a) list.shift();
      if (list?.length === 0) this.activitiesByOrder.delete(a.hubOrderId);
    });
    for (const a of options.data.crmAccounts) {
      this.accounts.set(a.crmId, { ...a, addresses: a.addresses.map((x) => ({ ...x })) });
    }
    this.nextAccount = 9_000_000 + (options.data.seed % 1000);
  }

  async getAccount(crmId: string): Promise<CrmAccount | null> {
    const g = this.faults.before('getAccount');
    if (g) await g;
    const a = this.accounts.get(salesforceId18(crmId));
    return a ? { ...a, addresses: a.addresses.map((x) => ({ ...x })) } : null;
  }

  async upsertOrderStatus(update: CrmOrderStatusUpdate): Promise<{ crmRecordId: string; applied: boolean }> {
    const g = this.faults.before('upsertOrderStatus');
    if (g) await g;
    if (!update.hubOrderId) {
      throw CrossdockError.dataQuality('Required fields are missing: [Hub_Order_Id__c]', {
        details: { system: this.system, field: 'hubOrderId', vendorCode: 'REQUIRED_FIELD_MISSING' },
      });
    }
    const now = this.clock.now().toISOString();
    const existing = this.statuses.get(update.hubOrderId);
    if (!existing) {
      // An evicted record still wins over an older or equal sequence, and keeps its id. Its
      // facts stay in `evictedStatuses` while the record lives again (the live record is read
      // first) and are overwritten in place when it is evicted again.
      const evicted = this.evictedStatuses.get(update.hubOrderId);
      if (evicted && update.sequence <= evicted.sequence) {
        return { crmRecordId: evicted.crmRecordId, applied: false };
      }
      const record: CrmOrderStatusRecord = {
        crmRecordId: evicted?.crmRecordId ?? salesforceId('a0B', this.nextRecord++),
        hubOrderId: update.hubOrderId,
        crmOpportunityId: update.crmOpportunityId ?? null,
        status: update.status,
        state: update.state,
        erpOrderNumber: update.erpOrderNumber ?? null,
        sequence: update.sequence,
        revision: (evicted?.revision ?? 0) + 1,
        createdAt: now,
        lastModifiedAt: now,
      };
      this.statuses.add(update.hubOrderId, record);
      this.statusById.set(record.crmRecordId, update.hubOrderId);
      this.faults.effect();
      return { crmRecordId: record.crmRecordId, applied: true };
    }
    // An older or equal sequence is a late or replayed delivery: keep the newer state.
    if (update.sequence <= existing.sequence) return { crmRecordId: existing.crmRecordId, applied: false };
    existing.status = update.status;
    existing.state = update.state;
    if (update.erpOrderNumber !== undefined) existing.erpOrderNumber = update.erpOrderNumber;
    if (update.crmOpportunityId !== undefined) existing.crmOpportunityId = update.crmOpportunityId;
    existing.sequence = update.sequence;
    existing.revision++;
    existing.lastModifiedAt = now;
    this.faults.effect();
    return { crmRecordId: existing.crmRecordId, applied: true };
  }

  async addActivity(activity: CrmActivity): Promise<{ crmRecordId: string; duplicate: boolean }> {
    const g = this.faults.before('addActivity');
    if (g) await g;
    const seen = this.activityKeys.get(activity.idempotencyKey);
    if (seen !== undefined) return { crmRecordId: seen, duplicate: true };
    const record: CrmActivityRecord = {
      ...activity,
      crmRecordId: salesforceId('00T', this.nextRecord++),
      createdAt: this.clock.now().toISOString(),
    };
    this.activityKeys.set(activity.idempotencyKey, record.crmRecordId);
    this.activityLog.push(record);
    const list = this.activitiesByOrder.get(activity.hubOrderId);
    if (list) list.push(record);
    else this.activitiesByOrder.set(activity.hubOrderId, [record]);
    this.faults.effect();
    return { crmRecordId: record.crmRecordId, duplicate: false };
  }

  /**
   * Opens a task for the account's owner, idempotent by key. Each account has an owner (a sales
   * rep user id derived from the account id, as Salesforce's `OwnerId`); a task on an account the
   * CRM does not know is kept unassigned.
   */
  async createTask(
    task: CrmTask,
  ): Promise<{ crmRecordId: string; assignedTo: string | null; duplicate: boolean }> {
    const g = this.faults.before('createTask');
    if (g) await g;
    const seen = this.taskKeys.get(task.idempotencyKey);
    if (seen) return { crmRecordId: seen.crmRecordId, assignedTo: seen.assignedTo, duplicate: true };
    const account = task.accountCrmId ? this.accounts.get(salesforceId18(task.accountCrmId)) : undefined;
    const record: CrmTaskRecord = {
      ...task,
      crmRecordId: salesforceId('00T', this.nextRecord++),
      assignedTo: account ? ownerOf(account.crmId) : null,
      status: 'open',
      createdAt: this.clock.now().toISOString(),
    };
    this.taskKeys.set(task.idempotencyKey, record);
    const list = this.tasksByOrder.get(task.hubOrderId);
    if (list) list.push(record);
    else this.tasksByOrder.set(task.hubOrderId, [record]);
    this.faults.effect();
    return { crmRecordId: record.crmRecordId, assignedTo: record.assignedTo, duplicate: false };
  }

  /**
   * Upserts an invoice or credit memo by the hub's invoice id: a new id creates the record (on
   * the account and the order), a newer `sequence` updates it (paid, credited), an older or equal
   * one is a replay and changes nothing.
   */
  async upsertInvoice(invoice: CrmInvoice): Promise<{ crmRecordId: string; applied: boolean }> {
    const g = this.faults.before('upsertInvoice');
    if (g) await g;
    if (!invoice.invoiceId || !invoice.hubOrderId) {
      throw CrossdockError.dataQuality('Required fields are missing: [Hub_Invoice_Id__c, Hub_Order_Id__c]', {
        details: { system: this.system, field: 'invoiceId', vendorCode: 'REQUIRED_FIELD_MISSING' },
      });
    }
    const now = this.clock.now().toISOString();
    const { idempotencyKey: _key, ...fields } = invoice;
    const existing = this.invoiceRecords.get(invoice.invoiceId);
    if (!existing) {
      const record: CrmInvoiceRecord = {
        ...structuredClone(fields),
        crmRecordId: salesforceId('a0I', this.nextRecord++),
        revision: 1,
        createdAt: now,
        lastModifiedAt: now,
      };
      this.invoiceRecords.set(invoice.invoiceId, record);
      const index = (map: BoundedMap<string, string[]>, key: string) => {
        const list = map.get(key);
        if (list) list.push(invoice.invoiceId);
        else map.set(key, [invoice.invoiceId]);
      };
      index(this.invoicesByOrder, invoice.hubOrderId);
      if (invoice.accountCrmId) index(this.invoicesByAccount, salesforceId18(invoice.accountCrmId));
      this.invoiceWriteCount++;
      return { crmRecordId: record.crmRecordId, applied: true };
    }
    if (invoice.sequence <= existing.sequence) return { crmRecordId: existing.crmRecordId, applied: false };
    Object.assign(existing, structuredClone(fields), {
      revision: existing.revision + 1,
      lastModifiedAt: now,
    });
    this.faults.effect();
    return { crmRecordId: existing.crmRecordId, applied: true };
  }

  // --- inspection and drivers (no fault injection) -----------------------------------------

  /** Invoice and credit-memo records created or changed (a replay changes nothing, so counts nothing). */
  get invoiceWrites(): number {
    return this.invoiceWriteCount;
  }

  /** The invoices and credit memos recorded on a hub order (copies), oldest first. */
  invoicesOfOrder(hubOrderId: string): CrmInvoiceRecord[] {
    return this.invoicesOf(this.invoicesByOrder.get(hubOrderId));
  }

  /** The invoices and credit memos recorded on an account (copies), oldest first. */
  invoicesOfAccount(accountCrmId: string): CrmInvoiceRecord[] {
    return this.invoicesOf(this.invoicesByAccount.get(salesforceId18(accountCrmId)));
  }

  private invoicesOf(ids: string[] | undefined): CrmInvoiceRecord[] {
    const out: CrmInvoiceRecord[] = [];
    for (const id of ids ?? []) {
      const r = this.invoiceRecords.get(id);
      if (r) out.push(structuredClone(r));
    }
    return out;
  }

  /** Tasks opened about a hub order (copies). */
  tasks(hubOrderId: string): CrmTaskRecord[] {
    return (this.tasksByOrder.get(hubOrderId) ?? []).map((t) => ({ ...t }));
  }

  /** The owner (sales rep user id) of an account. */
  accountOwner(crmId: string): string {
    return ownerOf(salesforceId18(crmId));
  }

  /** Creates an account out of band (a sales rep adding a prospect); returns its 18-char id. */
  createAccount(input: Omit<CrmAccount, 'crmId'>): CrmAccount {
    const account: CrmAccount = { ...input, crmId: salesforceId('001', this.nextAccount++) };
    this.accounts.set(account.crmId, account);
    return { ...account };
  }

  /** The stored account, by 18- or 15-char id, without counting a port call. */
  account(crmId: string): CrmAccount | null {
    const a = this.accounts.get(salesforceId18(crmId));
    return a ? { ...a, addresses: a.addresses.map((x) => ({ ...x })) } : null;
  }

  /** Accounts in seed order, paged. */
  listAccounts(offset: number, limit: number): { items: CrmAccount[]; total: number } {
    const all = [...this.accounts.values()];
    return { items: all.slice(offset, offset + limit), total: all.length };
  }

  /** The stored order status of a hub order, or null. */
  orderStatus(hubOrderId: string): CrmOrderStatusRecord | null {
    const r = this.statuses.get(hubOrderId);
    return r ? { ...r } : null;
  }

  /** The stored order status by its CRM record id. */
  orderStatusByRecordId(crmRecordId: string): CrmOrderStatusRecord | null {
    const hub = this.statusById.get(crmRecordId);
    return hub ? this.orderStatus(hub) : null;
  }

  /** Kept order statuses in creation order, paged. */
  listOrderStatuses(offset: number, limit: number): { items: CrmOrderStatusRecord[]; total: number } {
    return {
      items: pageOf(this.statuses.values(), offset, limit).map((r) => ({ ...r })),
      total: this.statuses.size,
    };
  }

  /** Kept activities recorded on a hub order's timeline, in order. */
  activities(hubOrderId: string): CrmActivityRecord[] {
    return (this.activitiesByOrder.get(hubOrderId) ?? []).map((a) => ({ ...a }));
  }

  /** Kept activities in creation order, paged. */
  listActivities(offset: number, limit: number): { items: CrmActivityRecord[]; total: number } {
    return { items: this.activityLog.page(offset, limit), total: this.activityLog.size };
  }

  /** Number of distinct activities recorded, evicted ones included (duplicates never count). */
  get activityCount(): number {
    return this.activityLog.length;
  }

  /** Records evicted from memory so far, per kind. */
  get evictedCounts(): { orderStatuses: number; activities: number } {
    return { orderStatuses: this.statuses.evicted, activities: this.activityLog.evicted };
  }
}

/** The owner of an account: a stable user id (`005…`) derived from the account id. */
function ownerOf(accountCrmId: string): string {
  let h = 0;
  for (const c of accountCrmId) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return salesforceId('005', (h % 40) + 1);
}
