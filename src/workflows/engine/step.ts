/**
 * A small step runner: plain async functions, each with a stable id, timed and recorded.
 *
 * Why not a workflow DSL: plain `if`/`await` read better and test better (STYLE.md on Medusa).
 * What we keep from Medusa is the discipline: every step has a stored id that is never renamed,
 * and whatever a step did that must be undone is recorded so it can be compensated.
 */
import type { TimelineInput } from '../../ports/index.js';

/** The outcome a step reports; holds and rejects are business outcomes, not errors. */
export type StepOutcome = 'passed' | 'hold' | 'reject' | 'skipped' | 'failed' | 'pending';

export interface StepReport {
  outcome: StepOutcome;
  /** A short, secret-free summary of inputs and results for the timeline. */
  summary: Record<string, unknown>;
}

/** Who ran a step, for its timeline entry. */
export interface StepMeta {
  orderId: string;
  correlationId: string;
  system: string;
  stepId: string;
  now: () => Date;
}

/** The timeline entry of one step run: one shape for every step, however it was run. */
export function stepTimelineEntry(
  meta: StepMeta,
  outcome: string,
  durationMs: number,
  summary: Record<string, unknown>,
): TimelineInput {
  return {
    orderId: meta.orderId,
    at: meta.now().toISOString(),
    kind: 'step',
    name: meta.stepId,
    system: meta.system,
    outcome,
    durationMs: Math.round(durationMs * 1000) / 1000,
    summary,
    correlationId: meta.correlationId,
  };
}

/** Records a step's run into a timeline list, with its duration. */
export async function runStep(
  timeline: TimelineInput[],
  meta: StepMeta,
  body: () => Promise<StepReport> | StepReport,
): Promise<StepReport> {
  const started = performance.now();
  const report = await body();
  timeline.push(stepTimelineEntry(meta, report.outcome, performance.now() - started, report.summary));
  return report;
}
