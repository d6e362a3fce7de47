/**
 * Dead letters and the exception queue: operator actions as a public API over the Store.
 *
 * Why functions and not only HTTP handlers (graphile-worker's `permanentlyFailJobs`,
 * `rescheduleJobs`): the console, the CLI and runbooks all need the same actions with the same
 * audit trail, and the Store's `actOnException` already changes the delivery and writes the
 * audit row in one transaction, so an action is never done without being logged or vice versa.
 */
import type { ExceptionFilter, ExceptionRecord, Store } from '../ports/index.js';
import { type Clock, systemClock } from '../ports/index.js';

/** What the operator actions need. */
export interface DeadLetterDeps {
  store: Store;
  clock?: Clock;
}

/** Outcome of an action on one exception (a bulk retry reports each). */
export type ActionOutcome =
  | { id: string; ok: true; record: ExceptionRecord }
  | { id: string; ok: false; error: string };

/** Lists exceptions (parked deliveries and refused inbound messages) by status, kind, owner. */
export function listDeadLetters(
  deps: DeadLetterDeps,
  filter: ExceptionFilter = {},
): Promise<ExceptionRecord[]> {
  return deps.store.listExceptions({ status: 'open', ...filter });
}

async function act(
  deps: DeadLetterDeps,
  id: string,
  action: 'retry' | 'resolve' | 'discard',
  actor: string,
  note?: string,
): Promise<ActionOutcome> {
  try {
    const record = await deps.store.actOnException(
      id,
      action,
      {
        actor,
        action: `exception.${action}`,
        target: id,
        detail: note === undefined ? {} : { note },
        at: (deps.clock ?? systemClock).now().toISOString(),
      },
      note,
    );
    return { id, ok: true, record };
  } catch (err) {
    return { id, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Makes parked deliveries pending again (due now); each action audit-logged with who and when. */
export async function retryDeadLetters(
  deps: DeadLetterDeps,
  ids: readonly string[],
  actor: string,
  note?: string,
): Promise<ActionOutcome[]> {
  const out: ActionOutcome[] = [];
  for (const id of ids) out.push(await act(deps, id, 'retry', actor, note));
  return out;
}

/** Retries every open exception matching a filter (after an outage was fixed). */
export async function retryMatchingDeadLetters(
  deps: DeadLetterDeps,
  filter: ExceptionFilter,
  actor: string,
  note?: string,
): Promise<ActionOutcome[]> {
  const open = await listDeadLetters(deps, { ...filter, status: 'open', limit: filter.limit ?? 10_000 });
  return retryDeadLetters(
    deps,
    open.filter((e) => e.deliveryId !== null).map((e) => e.id),
    actor,
    note,
  );
}

/** Closes an exception as fixed by other means; the note says how (required). */
export function resolveDeadLetter(
  deps: DeadLetterDeps,
  id: string,
  actor: string,
  note: string,
): Promise<ActionOutcome> {
  if (note.trim().length === 0)
    return Promise.resolve({ id, ok: false, error: 'a note is required to resolve' });
  return act(deps, id, 'resolve', actor, note);
}

/** Closes an exception without delivering (the effect is not wanted any more). */
export function discardDeadLetter(
  deps: DeadLetterDeps,
  id: string,
  actor: string,
  note?: string,
): Promise<ActionOutcome> {
  return act(deps, id, 'discard', actor, note);
}
