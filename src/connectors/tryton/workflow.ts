/**
 * Workflow safety for Tryton buttons: state checked before and after every press.
 *
 * Why: Tryton's RPC does not enforce workflow button visibility. Measured: `pick` on a shipment
 * whose `assign_try` returned false succeeds and drives stock negative. So no button is pressed
 * unless the record is in a state the button is meant for, a record already past the button is
 * treated as done (which makes every press idempotent and therefore retryable), and the state
 * is re-read afterwards so a press that silently did nothing is reported, not assumed.
 */
import { CrossdockError } from '../../domain/errors.js';
import type { TrytonRpcClient } from './rpc-client.js';
import { stringOf } from './values.js';

/** One guarded transition. */
export interface GuardedButton {
  model: string;
  button: string;
  /** States in which pressing is allowed. */
  from: readonly string[];
  /** States that count as done (already there → no press). */
  to: readonly string[];
  /** States the record may legitimately stay in after the press (e.g. `assign_try` → waiting). */
  mayStayIn?: readonly string[];
}

/** The outcome of a guarded press. */
export interface GuardedResult {
  before: string;
  after: string;
  pressed: boolean;
  /** The button's own return value (e.g. `assign_try` → true/false). */
  result: unknown;
}

/** Reads the `state` field of one record. */
export async function readState(client: TrytonRpcClient, model: string, id: number): Promise<string> {
  const rows = await client.read(model, [id], ['state']);
  const state = stringOf(rows[0]?.['state']);
  if (!state)
    throw CrossdockError.dataQuality(`${model} ${id} not found in Tryton`, {
      details: { system: 'tryton', model, id },
    });
  return state;
}

/** Presses `spec.button` on record `id` only from an allowed state, and verifies the result. */
export async function pressGuarded(
  client: TrytonRpcClient,
  spec: GuardedButton,
  id: number,
  /** The state just read by the caller in the same step, to save one round trip. */
  knownState?: string,
): Promise<GuardedResult> {
  const before = knownState ?? (await readState(client, spec.model, id));
  if (spec.to.includes(before)) return { before, after: before, pressed: false, result: null };
  if (!spec.from.includes(before)) {
    throw CrossdockError.conflict(
      `${spec.model} ${id} is ${before}; ${spec.button} needs ${spec.from.join('/')}`,
      {
        details: { system: 'tryton', model: spec.model, id, state: before, button: spec.button },
      },
    );
  }
  const result = await client.button(spec.model, spec.button, [id]);
  const after = await readState(client, spec.model, id);
  if (!spec.to.includes(after) && !(spec.mayStayIn ?? []).includes(after)) {
    throw CrossdockError.conflict(
      `${spec.model} ${id} is ${after} after ${spec.button}; expected ${spec.to.join('/')}`,
      {
        details: { system: 'tryton', model: spec.model, id, before, after, button: spec.button },
      },
    );
  }
  return { before, after, pressed: true, result };
}

/** sale.sale quote: draft → quotation. */
export const quoteSale: GuardedButton = {
  model: 'sale.sale',
  button: 'quote',
  from: ['draft'],
  to: ['quotation', 'confirmed', 'processing', 'done'],
};
/** sale.sale confirm: quotation → confirmed/processing (processing when no worker runs). */
export const confirmSale: GuardedButton = {
  model: 'sale.sale',
  button: 'confirm',
  from: ['quotation'],
  to: ['confirmed', 'processing', 'done'],
};
/** sale.sale cancel: draft/quotation → cancelled (Tryton offers it on no later state). */
export const cancelSale: GuardedButton = {
  model: 'sale.sale',
  button: 'cancel',
  from: ['draft', 'quotation'],
  to: ['cancelled'],
};
/** sale.sale draft: a confirmed sale not processed yet goes back to draft (then it can be cancelled). */
export const draftSale: GuardedButton = {
  model: 'sale.sale',
  button: 'draft',
  from: ['confirmed'],
  to: ['draft', 'cancelled'],
};
/** stock.shipment.out cancel: any state before done → cancelled (its moves are cancelled with it). */
export const cancelShipment: GuardedButton = {
  model: 'stock.shipment.out',
  button: 'cancel',
  from: ['draft', 'waiting', 'assigned', 'picked', 'packed'],
  to: ['cancelled'],
};
/** account.invoice cancel: a draft or validated invoice (not posted: that needs a credit note). */
export const cancelInvoice: GuardedButton = {
  model: 'account.invoice',
  button: 'cancel',
  from: ['draft', 'validated'],
  to: ['cancelled'],
};

/** stock.shipment.out assign_try: waiting → assigned, or stays waiting when stock is short. */
export const assignShipment: GuardedButton = {
  model: 'stock.shipment.out',
  button: 'assign_try',
  from: ['waiting'],
  to: ['assigned', 'picked', 'packed', 'done'],
  mayStayIn: ['waiting'],
};
/** stock.shipment.out pick: assigned → picked. Never from waiting (would drive stock negative). */
export const pickShipment: GuardedButton = {
  model: 'stock.shipment.out',
  button: 'pick',
  from: ['assigned'],
  to: ['picked', 'packed', 'done'],
};
/** stock.shipment.out pack: picked → packed. */
export const packShipment: GuardedButton = {
  model: 'stock.shipment.out',
  button: 'pack',
  from: ['picked'],
  to: ['packed', 'done'],
};
/** stock.shipment.out done: packed → done (goods left the warehouse). */
export const shipShipment: GuardedButton = {
  model: 'stock.shipment.out',
  button: 'done',
  from: ['packed'],
  to: ['done'],
};
/** account.invoice post: draft/validated → posted. */
export const postInvoice: GuardedButton = {
  model: 'account.invoice',
  button: 'post',
  from: ['draft', 'validated'],
  to: ['posted', 'paid'],
};
