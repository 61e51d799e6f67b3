import { completeMaterializationWindow } from './complete.js';
import { forEachWithConcurrency } from './concurrency.js';
import { planMaterialization, type PlanOptions } from './plan.js';
import { runMaterializationUnit } from './run-unit.js';
import { MaterializationSummaryBuilder, type MaterializationSummary } from './summary.js';
import type { MaterializationPlan, MaterializeDeps } from './types.js';

export interface MaterializeOptions extends PlanOptions {
  /** Units run concurrently in this process; default 1. */
  readonly parallel?: number;
  /** Called once the plan is known (e.g. to size a progress bar). */
  readonly onPlan?: (plan: MaterializationPlan) => void;
}

/** A run failed; `summary` tells what was done before it (the watermark did not move). */
export class MaterializationRunError extends Error {
  override readonly name = 'MaterializationRunError';
  constructor(
    readonly summary: MaterializationSummary,
    options: { cause: unknown },
  ) {
    super((options.cause as Error)?.message ?? String(options.cause), options);
  }
}

/**
 * Feast's materialize-incremental, in one process: plan the window, run its units `parallel` at a
 * time through the same entry points a queue consumer uses (so the fan-out path is what runs
 * here too), then complete the window — which advances the watermarks only if every unit
 * succeeded. On the first failing unit no further units start; the error names the file and
 * column, and the watermark stays where it was, so the next run redoes the window.
 *
 * @example
 * const summary = await materializeIncremental(deps, { end: Date.now(), parallel: 4 });
 * console.log(JSON.stringify(summary));
 */
export async function materializeIncremental(
  deps: MaterializeDeps,
  options: MaterializeOptions,
): Promise<MaterializationSummary> {
  const summary = new MaterializationSummaryBuilder(deps);
  let plan: MaterializationPlan;
  try {
    plan = await planMaterialization(deps, options);
  } catch (error) {
    throw new MaterializationRunError(summary.failed(error), { cause: error });
  }
  summary.planned(plan);
  options.onPlan?.(plan);
  try {
    await forEachWithConcurrency(plan.units, options.parallel ?? 1, async (unit) => {
      summary.unitDone(await runMaterializationUnit(deps, unit));
    });
    summary.completed(await completeMaterializationWindow(deps, plan.windowId));
  } catch (error) {
    throw new MaterializationRunError(summary.failed(error), { cause: error });
  }
  return summary.build();
}
