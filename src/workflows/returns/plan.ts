/**
 * What each step of a return does to its order: pure functions from (order, fact) to the next
 * order document, its timeline entry and its outbox events, like `planReport` for fulfillment.
 *
 * Why pure: every step commits as one unit with the order's optimistic version; on a conflict
 * the caller re-reads and plans again, so a plan may only depend on its inputs. The steps:
 * - `planReturnRequest`: a CRM case or an API client asks (checked against what shipped; the
 *   same CRM case again is the same return) → `requested`, `return.requested.v1`;
 * - `planAuthorization`: the ERP's answer → `authorized` (`return.authorized.v1`, with the RMA
 *   number) or `rejected` (`return.rejected.v1`);
 * - `planReceipt`: the warehouse received and inspected the goods → `inspected`
 *   (`return.received.v1`, per line accepted/rejected and why), or `rejected` when nothing was
 *   accepted;
 * - `planCredit`: the ERP's credit memo for the accepted lines → the memo on the order's
 *   invoices (`credit_memo.issued.v1`) and the return `credited` (`return.credited.v1`). The ERP
 *   change feed and the returns processor both may bring the same memo: whichever commits first
 *   applies it, the other finds it there and changes nothing.
 */
import {
  type CloudEvent,
  CrossdockError,
  checkReturnRequest,
  type EventData,
  findReturn,
  type Invoice,
  moveReturn,
  newEvent,
  type ReturnAuthorization,
  type ReturnRequestLine,
  returnCustomerStatus,
  returnsOf,
  type SalesOrder,
} from '../../domain/index.js';
import type { ErpInvoiceStatus, ErpReturnResult, TimelineInput } from '../../ports/index.js';

/** Stable id of the returns workflow (event source suffix, cursor and dedupe prefixes). Never rename. */
export const returnsWorkflowId = 'returns';

/** A planned step: the order to commit (from `expectedVersion`), its timeline entry and events. */
export interface ReturnPlan {
  next: SalesOrder;
  expectedVersion: number;
  /** The return as planned (null for a credit memo that is for no return of the order). */
  ret: ReturnAuthorization | null;
  timeline: TimelineInput[];
  events: CloudEvent[];
}

/** Options every plan takes. */
export interface PlanContext {
  now: Date;
  eventSource: string;
  traceparent?: string;
}

/** Who asked for a return, and with what. */
export interface ReturnRequestInput {
  /** `crm` (a case) or `api` (a client's key name in `by`). */
  system: string;
  caseId?: string;
  by: string;
  note?: string;
  lines: ReturnRequestLine[];
}

/** The data every return event carries. */
export function returnEventData(order: SalesOrder, r: ReturnAuthorization) {
  return {
    orderId: order.id,
    customerId: order.customerId,
    state: order.state,
    customerStatus: order.customerStatus,
    returnId: r.id,
    returnState: r.state,
    returnStatus: r.customerStatus,
    caseId: r.source.caseId ?? null,
    lines: r.lines.map((l) => {
      const out: EventData<'return.requested.v1'>['lines'][number] = {
        sku: l.sku,
        quantity: l.quantity,
        reason: l.reason,
      };
      if (l.acceptedQuantity !== undefined) out.acceptedQuantity = l.acceptedQuantity;
      if (l.rejectedQuantity !== undefined) out.rejectedQuantity = l.rejectedQuantity;
      if (l.rejectionReason !== undefined) out.rejectionReason = l.rejectionReason;
      return out;
    }),
  };
}

function withReturn(order: SalesOrder, r: ReturnAuthorization, nowIso: string): SalesOrder {
  const list = returnsOf(order);
  const i = list.findIndex((x) => x.id === r.id);
  const returns = i < 0 ? [...list, r] : list.map((x, j) => (j === i ? r : x));
  return { ...order, version: order.version + 1, returns, updatedAt: nowIso };
}

function entry(
  order: SalesOrder,
  name: string,
  outcome: string,
  system: string,
  nowIso: string,
  summary: Record<string, unknown>,
): TimelineInput {
  return {
    orderId: order.id,
    at: nowIso,
    kind: 'event',
    name,
    system,
    outcome,
    durationMs: null,
    summary,
    correlationId: order.correlationId,
  };
}

function options(ctx: PlanContext) {
  return {
    source: ctx.eventSource,
    time: ctx.now,
    ...(ctx.traceparent ? { traceparent: ctx.traceparent } : {}),
  };
}

/** The return already made for this CRM case on the order, if any. */
export function returnForCase(
  order: SalesOrder,
  caseId: string | undefined,
): ReturnAuthorization | undefined {
  if (caseId === undefined) return undefined;
  return returnsOf(order).find((r) => r.source.caseId === caseId);
}

/**
 * A new return on the order, `requested`; or `{ existing }` when the same CRM case asked before.
 * Refusals (nothing shipped, unknown SKU, more than may be returned) are thrown, see
 * `checkReturnRequest`.
 */
export function planReturnRequest(
  order: SalesOrder,
  input: ReturnRequestInput,
  ctx: PlanContext,
): ReturnPlan | { existing: ReturnAuthorization } {
  const existing = returnForCase(order, input.caseId);
  if (existing) return { existing };
  checkReturnRequest(order, input.lines);
  const nowIso = ctx.now.toISOString();
  const draft: ReturnAuthorization = {
    id: `${order.id}-R${returnsOf(order).length + 1}`,
    orderId: order.id,
    state: 'requested',
    customerStatus: '',
    source: {
      system: input.system,
      by: input.by,
      ...(input.caseId !== undefined ? { caseId: input.caseId } : {}),
    },
    lines: input.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, reason: l.reason })),
    history: [{ state: 'requested', at: nowIso }],
    externalIds: input.caseId !== undefined ? { crm: input.caseId } : {},
    createdAt: nowIso,
    updatedAt: nowIso,
    ...(input.note !== undefined ? { note: input.note } : {}),
  };
  const ret = { ...draft, customerStatus: returnCustomerStatus(draft) };
  const next = withReturn(order, ret, nowIso);
  return {
    next,
    expectedVersion: order.version,
    ret,
    timeline: [
      entry(next, 'return.requested', 'requested', input.system, nowIso, {
        returnId: ret.id,
        caseId: input.caseId ?? null,
        by: input.by,
        lines: ret.lines,
        ...(input.note !== undefined ? { note: input.note } : {}),
      }),
    ],
    events: [newEvent('return.requested.v1', order.id, returnEventData(next, ret), options(ctx))],
  };
}

/** The ERP's answer to the authorization; null when the return is no longer `requested`. */
export function planAuthorization(
  order: SalesOrder,
  returnId: string,
  answer: ErpReturnResult,
  system: string,
  ctx: PlanContext,
): ReturnPlan | null {
  const current = findReturn(order, returnId);
  if (current?.state !== 'requested') return null;
  const nowIso = ctx.now.toISOString();
  if (answer.outcome === 'authorized') {
    const ret = moveReturn(current, 'authorized', nowIso, {
      rmaNumber: answer.rmaNumber,
      externalIds: { ...current.externalIds, erp: answer.erpReturnId },
    });
    const next = withReturn(order, ret, nowIso);
    return {
      next,
      expectedVersion: order.version,
      ret,
      timeline: [
        entry(next, 'return.authorized', 'applied', system, nowIso, {
          returnId,
          rmaNumber: answer.rmaNumber,
          erpReturnId: answer.erpReturnId,
        }),
      ],
      events: [
        newEvent(
          'return.authorized.v1',
          order.id,
          { ...returnEventData(next, ret), rmaNumber: answer.rmaNumber },
          options(ctx),
        ),
      ],
    };
  }
  const rejection = { code: `erp_${answer.reason}`, detail: answer.detail };
  const ret = moveReturn(current, 'rejected', nowIso, { rejection });
  const next = withReturn(order, ret, nowIso);
  return {
    next,
    expectedVersion: order.version,
    ret,
    timeline: [entry(next, 'return.rejected', 'refused', system, nowIso, { returnId, ...rejection })],
    events: [
      newEvent('return.rejected.v1', order.id, { ...returnEventData(next, ret), ...rejection }, options(ctx)),
    ],
  };
}

/** One inspected line as the warehouse reports it. */
export interface ReceiptLine {
  sku: string;
  received: number;
  accepted: number;
  rejected: number;
  /** Why what was rejected was (required when `rejected` > 0). */
  reason?: string;
}

/**
 * The warehouse's receipt and inspection of an authorized return: `inspected`, or `rejected`
 * when nothing was accepted. Refused (`data_quality`, field named) when a line is for a SKU not
 * on the return or accepts more than it authorized; null when the return was inspected already
 * (a re-sent receipt) or is not `authorized`/`received`.
 */
export function planReceipt(
  order: SalesOrder,
  returnId: string,
  lines: readonly ReceiptLine[],
  system: string,
  ctx: PlanContext,
): ReturnPlan | null {
  const current = findReturn(order, returnId);
  if (!current || (current.state !== 'authorized' && current.state !== 'received')) return null;
  const nowIso = ctx.now.toISOString();
  const byKey = new Map(lines.map((l) => [l.sku, l]));
  for (const [i, l] of lines.entries()) {
    const want = current.lines.find((x) => x.sku === l.sku);
    if (!want) {
      throw CrossdockError.dataQuality(`receipt line ${i + 1}: ${l.sku} is not on return ${returnId}`, {
        owner: 'logistics',
        details: { reason: 'unknown_sku', field: `lines[${i}].sku`, returnId },
      });
    }
    if (l.accepted + l.rejected > l.received + 1e-9 || l.accepted > want.quantity + 1e-9) {
      throw CrossdockError.dataQuality(
        `receipt line ${i + 1}: ${l.sku} accepts ${l.accepted} and rejects ${l.rejected} of ${l.received} received (${want.quantity} authorized)`,
        { owner: 'logistics', details: { reason: 'over_receipt', field: `lines[${i}].accepted`, returnId } },
      );
    }
  }
  const inspected = current.lines.map((l) => {
    const r = byKey.get(l.sku);
    const out = {
      ...l,
      receivedQuantity: r?.received ?? 0,
      acceptedQuantity: r?.accepted ?? 0,
      rejectedQuantity: r?.rejected ?? 0,
    };
    if (r?.reason !== undefined && r.rejected > 0) return { ...out, rejectionReason: r.reason };
    return out;
  });
  const accepted = inspected.reduce((s, l) => s + l.acceptedQuantity, 0);
  const via = current.state === 'authorized' ? moveReturn(current, 'received', nowIso) : current;
  const ctxOpts = options(ctx);
  if (accepted <= 0) {
    const rejection = { code: 'inspection', detail: 'nothing was accepted at inspection' };
    const ret = moveReturn({ ...via, lines: inspected }, 'rejected', nowIso, { rejection });
    const next = withReturn(order, ret, nowIso);
    return {
      next,
      expectedVersion: order.version,
      ret,
      timeline: [
        entry(next, 'return.received', 'applied', system, nowIso, { returnId, lines: inspected }),
        entry(next, 'return.rejected', 'refused', system, nowIso, { returnId, ...rejection }),
      ],
      events: [
        newEvent('return.received.v1', order.id, returnEventData(next, ret), ctxOpts),
        newEvent('return.rejected.v1', order.id, { ...returnEventData(next, ret), ...rejection }, ctxOpts),
      ],
    };
  }
  const ret = moveReturn({ ...via, lines: inspected }, 'inspected', nowIso);
  const next = withReturn(order, ret, nowIso);
  return {
    next,
    expectedVersion: order.version,
    ret,
    timeline: [entry(next, 'return.received', 'applied', system, nowIso, { returnId, lines: inspected })],
    events: [newEvent('return.received.v1', order.id, returnEventData(next, ret), ctxOpts)],
  };
}

/** The hub's invoice (or credit memo) for an ERP document of the order. */
export function invoiceFromErp(
  order: Pick<SalesOrder, 'id' | 'total' | 'currency'>,
  erpInvoiceId: string,
  doc: ErpInvoiceStatus | undefined,
  status: Invoice['status'],
  reportedAt: string,
): Invoice {
  const inv: Invoice = {
    id: `erp:${erpInvoiceId}`,
    orderId: order.id,
    number: doc?.number ?? erpInvoiceId,
    kind: doc?.kind ?? 'invoice',
    amount: doc?.amount ?? order.total,
    currency: doc?.currency ?? order.currency,
    issuedAt: doc?.issueDate ? `${doc.issueDate}T00:00:00.000Z` : reportedAt,
    status,
    externalIds: { erp: erpInvoiceId },
  };
  if (doc?.dueDate) inv.dueOn = doc.dueDate;
  if (doc?.paymentTerms) inv.paymentTerms = doc.paymentTerms;
  if (doc?.lines) inv.lines = doc.lines.map((l) => ({ ...l }));
  if (doc?.creditsInvoiceId) inv.creditsInvoiceId = `erp:${doc.creditsInvoiceId}`;
  if (doc?.returnId) inv.returnId = doc.returnId;
  return inv;
}

/** The data of `invoice.issued.v1` / `credit_memo.issued.v1` for a hub invoice. */
export function invoiceEventData(order: SalesOrder, inv: Invoice) {
  const data: EventData<'invoice.issued.v1'> = {
    orderId: order.id,
    customerId: order.customerId,
    state: order.state,
    customerStatus: order.customerStatus,
    invoiceId: inv.id,
    number: inv.number,
    amount: inv.amount,
    currency: inv.currency,
    kind: inv.kind,
    issuedAt: inv.issuedAt,
    dueOn: inv.dueOn ?? null,
  };
  if (inv.externalIds['erp']) data.erpInvoiceId = inv.externalIds['erp'];
  if (inv.paymentTerms) data.paymentTerms = inv.paymentTerms;
  if (inv.lines) data.lines = inv.lines.map((l) => ({ ...l }));
  return data;
}

/** The event a posted hub invoice or credit memo publishes. */
export function invoiceEvent(order: SalesOrder, inv: Invoice, ctx: PlanContext): CloudEvent {
  if (inv.kind === 'credit_memo') {
    return newEvent(
      'credit_memo.issued.v1',
      order.id,
      {
        ...invoiceEventData(order, inv),
        creditsInvoiceId: inv.creditsInvoiceId ?? null,
        returnId: inv.returnId ?? null,
      },
      options(ctx),
    );
  }
  return newEvent('invoice.issued.v1', order.id, invoiceEventData(order, inv), options(ctx));
}

/**
 * A credit memo the ERP issued: on the order's invoices (with the invoice it credits marked
 * `credited` when fully credited), and its return `credited`. Null when the memo is on the order
 * already (the feed or the processor brought it first).
 */
export function planCredit(
  order: SalesOrder,
  memo: ErpInvoiceStatus,
  system: string,
  ctx: PlanContext,
): ReturnPlan | null {
  if (order.invoices.some((i) => i.externalIds['erp'] === memo.erpInvoiceId)) return null;
  const nowIso = ctx.now.toISOString();
  const applied = applyCreditMemo(order, memo, nowIso, ctx);
  return {
    next: { ...applied.next, version: order.version + 1, updatedAt: nowIso },
    expectedVersion: order.version,
    ret: applied.ret,
    timeline: applied.timeline.map((t) => ({ ...t, system })),
    events: applied.events,
  };
}

/**
 * The order with a credit memo added (not versioned: the caller bumps it once for everything it
 * plans together), its events, and timeline entries. Used by `planCredit` and by the ERP change
 * feed (`planReport`).
 */
export function applyCreditMemo(
  order: SalesOrder,
  memo: ErpInvoiceStatus,
  nowIso: string,
  ctx: PlanContext,
): { next: SalesOrder; ret: ReturnAuthorization | null; events: CloudEvent[]; timeline: TimelineInput[] } {
  const inv = invoiceFromErp(order, memo.erpInvoiceId, { ...memo, kind: 'credit_memo' }, 'open', nowIso);
  const invoices = order.invoices.map((i) => {
    if (i.id !== inv.creditsInvoiceId) return i;
    const credited = order.invoices
      .filter((x) => x.kind === 'credit_memo' && x.creditsInvoiceId === i.id)
      .reduce((s, x) => s + x.amount, inv.amount);
    return credited + 1e-9 >= i.amount && i.status === 'open' ? { ...i, status: 'credited' as const } : i;
  });
  invoices.push(inv);
  let next: SalesOrder = { ...order, invoices };
  const events: CloudEvent[] = [];
  const timeline: TimelineInput[] = [
    entry(next, 'credit_memo.issued', 'applied', 'erp', nowIso, {
      invoiceId: inv.id,
      number: inv.number,
      amount: inv.amount,
      returnId: inv.returnId ?? null,
      creditsInvoiceId: inv.creditsInvoiceId ?? null,
    }),
  ];
  let ret: ReturnAuthorization | null = null;
  const current = inv.returnId ? findReturn(order, inv.returnId) : undefined;
  if (current && current.state === 'inspected') {
    ret = moveReturn(current, 'credited', nowIso, { creditMemoId: inv.id, creditAmount: inv.amount });
    next = { ...next, returns: returnsOf(order).map((r) => (r.id === ret!.id ? ret! : r)) };
    timeline.push(
      entry(next, 'return.credited', 'applied', 'erp', nowIso, {
        returnId: ret.id,
        creditMemoId: inv.id,
        amount: inv.amount,
      }),
    );
  }
  events.push(invoiceEvent(next, inv, ctx));
  if (ret) {
    events.push(
      newEvent(
        'return.credited.v1',
        order.id,
        {
          ...returnEventData(next, ret),
          creditMemoId: inv.id,
          creditAmount: inv.amount,
          currency: inv.currency,
        },
        options(ctx),
      ),
    );
  }
  return { next, ret, events, timeline };
}
