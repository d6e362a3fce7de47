/**
 * Warehouse and billing steps on Tryton (assign, pick, pack, ship; post invoices), guarded.
 *
 * Why it exists: the hub does not drive the warehouse in production (Tryton users or a WMS do),
 * but tests, demos and the operations console need to advance an order the way a warehouse
 * would, and must never do it unsafely: a shipment is picked only when `assign_try` really
 * assigned it (stock reserved), otherwise it stays waiting and the caller learns it is short.
 */
import { CrossdockError } from '../../domain/errors.js';
import type { ErpShipmentState } from '../../ports/erp.js';
import { relatedIds } from './mapping.js';
import type { TrytonRpcClient } from './rpc-client.js';
import {
  assignShipment,
  packShipment,
  pickShipment,
  postInvoice,
  pressGuarded,
  shipShipment,
} from './workflow.js';

/** How far to take the shipments of an order. */
export type FulfillmentTarget = Extract<ErpShipmentState, 'assigned' | 'picked' | 'packed' | 'done'>;

const steps = [
  { target: 'assigned', button: assignShipment },
  { target: 'picked', button: pickShipment },
  { target: 'packed', button: packShipment },
  { target: 'done', button: shipShipment },
] as const;

/** Guarded warehouse and billing operations for one Tryton connection. */
export class TrytonFulfillment {
  constructor(private readonly client: TrytonRpcClient) {}

  /** Advances every open customer shipment of the sale to `target`; throws if stock is short. */
  async advanceShipments(erpOrderId: string, target: FulfillmentTarget = 'done'): Promise<void> {
    const sale = (await this.client.read('sale.sale', [Number(erpOrderId)], ['shipments']))[0];
    if (!sale)
      throw CrossdockError.dataQuality(`sale ${erpOrderId} not found`, { details: { system: 'tryton' } });
    for (const shipmentId of relatedIds(sale, 'shipments')) {
      for (const step of steps) {
        const outcome = await pressGuarded(this.client, step.button, shipmentId);
        if (step.target === 'assigned' && outcome.after === 'waiting') {
          throw CrossdockError.policyViolation(`shipment ${shipmentId} cannot be assigned: stock is short`, {
            owner: 'inventory',
            details: { system: 'tryton', shipmentId, reason: 'insufficient_stock' },
          });
        }
        if (step.target === target) break;
      }
    }
  }

  /** Posts the sale's draft invoices (numbers them and books the receivable). */
  async postInvoices(erpOrderId: string): Promise<void> {
    const sale = (await this.client.read('sale.sale', [Number(erpOrderId)], ['invoices']))[0];
    if (!sale)
      throw CrossdockError.dataQuality(`sale ${erpOrderId} not found`, { details: { system: 'tryton' } });
    for (const invoiceId of relatedIds(sale, 'invoices')) {
      await pressGuarded(this.client, postInvoice, invoiceId);
    }
  }
}
