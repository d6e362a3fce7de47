/**
 * Change feed over Tryton: polls `write_date` (or `create_date` for never-written records) of
 * sales, customer shipments and customer invoices behind a watermark.
 *
 * Why polling: Tryton 6.0 has no outbound webhooks for these models, and its bus is for UI
 * notifications. Why this watermark: `(timestamp with microseconds, model, id)` is a total order,
 * so paging is exact keyset pagination (no skipped record when several share a timestamp).
 * Delivery is at-least-once: a record written again reappears with its new state, and a write
 * that did not change the state repeats a milestone; the hub's state machine ignores repeats.
 * Each model is queried as two streams (written records by write_date, never-written records by
 * create_date) because Tryton cannot order by `COALESCE(write_date, create_date)`.
 */
import type { ErpChange, ErpChangePage } from '../../ports/erp.js';
import {
  hubOrderIdFromComment,
  recordVersion,
  toInvoiceState,
  toOrderState,
  toShipmentState,
} from './mapping.js';
import type { TrytonDomain, TrytonRpcClient } from './rpc-client.js';
import { TrytonDateTime, type TrytonRecord, type TrytonValue } from './values.js';

interface FeedModel {
  model: string;
  kind: ErpChange['kind'];
  extraDomain: TrytonDomain;
  milestone: (state: TrytonValue | undefined) => string;
}

/** The models followed, in watermark order (index is part of the watermark). */
const feedModels: FeedModel[] = [
  { model: 'sale.sale', kind: 'order', extraDomain: [], milestone: toOrderState },
  { model: 'stock.shipment.out', kind: 'shipment', extraDomain: [], milestone: toShipmentState },
  {
    model: 'account.invoice',
    kind: 'invoice',
    extraDomain: [['type', '=', 'out']],
    milestone: toInvoiceState,
  },
];

interface Cursor {
  ts: string;
  model: number;
  id: number;
}

const origin: Cursor = { ts: '1970-01-01T00:00:00.000000', model: -1, id: 0 };

/** Parses a watermark produced by {@link encodeWatermark}; null or garbage → the beginning. */
export function decodeWatermark(watermark: string | null): Cursor {
  if (!watermark) return origin;
  const [ts, model, id] = watermark.split('|');
  if (!ts || model === undefined || id === undefined || !/^\d{4}-\d{2}-\d{2}T/.test(ts)) return origin;
  return { ts, model: Number(model), id: Number(id) };
}

/** Serialises a cursor: `<write_date ISO with µs>|<model index>|<id>`. */
export function encodeWatermark(cursor: Cursor): string {
  return `${cursor.ts}|${cursor.model}|${cursor.id}`;
}

function compare(a: Cursor, b: Cursor): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  if (a.model !== b.model) return a.model - b.model;
  return a.id - b.id;
}

/** Domain selecting records of model `index` strictly after `cursor` on timestamp `field`. */
function afterDomain(field: string, cursor: Cursor, index: number): TrytonDomain {
  const ts = new TrytonDateTime(cursor.ts);
  if (index < cursor.model) return [[field, '>', ts]];
  if (index > cursor.model) return [[field, '>=', ts]];
  return [
    'OR',
    [[field, '>', ts]],
    [
      [field, '=', ts],
      ['id', '>', cursor.id],
    ],
  ];
}

/** Reads up to `limit` changes after `since`, oldest first. */
export async function readChanges(
  client: TrytonRpcClient,
  since: string | null,
  limit: number,
): Promise<ErpChangePage> {
  const cursor = decodeWatermark(since);
  const candidates: { cursor: Cursor; model: FeedModel; record: TrytonRecord }[] = [];
  const fields = ['id', 'state', 'write_date', 'create_date'];
  for (const [index, feed] of feedModels.entries()) {
    const written = await client.searchRead(
      feed.model,
      [...feed.extraDomain, ['write_date', '!=', null], afterDomain('write_date', cursor, index)],
      fields,
      {
        limit,
        order: [
          ['write_date', 'ASC'],
          ['id', 'ASC'],
        ],
      },
    );
    const fresh = await client.searchRead(
      feed.model,
      [...feed.extraDomain, ['write_date', '=', null], afterDomain('create_date', cursor, index)],
      fields,
      {
        limit,
        order: [
          ['create_date', 'ASC'],
          ['id', 'ASC'],
        ],
      },
    );
    for (const record of [...written, ...fresh]) {
      candidates.push({
        cursor: { ts: recordVersion(record), model: index, id: record.id },
        model: feed,
        record,
      });
    }
  }
  candidates.sort((a, b) => compare(a.cursor, b.cursor));
  const page = candidates.filter((c) => compare(c.cursor, cursor) > 0).slice(0, limit);
  const saleOf = await salesFor(
    client,
    page.map((c) => ({ model: c.model.model, id: c.record.id })),
  );
  const changes: ErpChange[] = [];
  for (const c of page) {
    const sale =
      c.model.model === 'sale.sale'
        ? saleOf.self.get(c.record.id)
        : saleOf.byRecord.get(`${c.model.model},${c.record.id}`);
    // Shipments and invoices not born from a sale (manual ones) carry no order to update.
    if (!sale) continue;
    changes.push({
      kind: c.model.kind,
      erpOrderId: String(sale.id),
      hubOrderId: sale.hubOrderId,
      milestone: c.model.milestone(c.record['state']),
      recordId: String(c.record.id),
      at: new TrytonDateTime(c.cursor.ts).toInstant(),
    });
  }
  const last = page[page.length - 1];
  return { changes, watermark: encodeWatermark(last ? last.cursor : cursor) };
}

interface SaleRef {
  id: number;
  hubOrderId: string | null;
}

async function salesFor(
  client: TrytonRpcClient,
  records: { model: string; id: number }[],
): Promise<{ self: Map<number, SaleRef>; byRecord: Map<string, SaleRef> }> {
  const self = new Map<number, SaleRef>();
  const byRecord = new Map<string, SaleRef>();
  const ids = (model: string): number[] => records.filter((r) => r.model === model).map((r) => r.id);
  const saleIds = ids('sale.sale');
  const shipmentIds = ids('stock.shipment.out');
  const invoiceIds = ids('account.invoice');
  const domain: TrytonDomain = ['OR'];
  if (saleIds.length > 0) domain.push([['id', 'in', saleIds]]);
  if (shipmentIds.length > 0) domain.push([['shipments', 'in', shipmentIds]]);
  if (invoiceIds.length > 0) domain.push([['invoices', 'in', invoiceIds]]);
  if (domain.length === 1) return { self, byRecord };
  const sales = await client.searchRead('sale.sale', domain, ['id', 'comment', 'shipments', 'invoices']);
  for (const sale of sales) {
    const ref = { id: sale.id, hubOrderId: hubOrderIdFromComment(sale['comment']) };
    self.set(sale.id, ref);
    for (const s of (sale['shipments'] as number[] | null) ?? [])
      byRecord.set(`stock.shipment.out,${s}`, ref);
    for (const i of (sale['invoices'] as number[] | null) ?? []) byRecord.set(`account.invoice,${i}`, ref);
  }
  return { self, byRecord };
}
