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

/** Records a step's run into a timeline list, with its duration. */
export async function runStep(
  timeline: TimelineInput[],
  meta: { orderId: string; correlationId: string; system: string; stepId: string; now: () => Date },
  body: () => Promise<StepReport> | StepReport,
): Promise<StepReport> {
  const started = performance.now();
  const report = await body();
  timeline.push({
    orderId: meta.orderId,
    at: meta.now().toISOString(),
    kind: 'step',
    name: meta.stepId,
    system: meta.system,
    outcome: report.outcome,
    durationMs: Math.round((performance.now() - started) * 1000) / 1000,
    summary: report.summary,
    correlationId: meta.correlationId,
  });
  return report;
}
