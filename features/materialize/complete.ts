import type { FeatureViewName } from '../definitions.js';
import { MaterializationError } from './errors.js';
import type { MaterializeDeps, WindowCompletion } from './types.js';

/**
 * Advances the watermark of every view of a window once all of its units have completed; before
 * that it only reports progress. Safe to call any number of times from any number of places (the
 * last unit's consumer, a scheduler sweeping old windows): the watermark store only ever moves a
 * watermark forward, so a late or repeated call is a no-op.
 *
 * @example
 * // scheduler, after planning a window with no units (nothing new in it)
 * if (plan.units.length === 0) await completeMaterializationWindow(deps, plan.windowId);
 */
export async function completeMaterializationWindow(
  deps: Pick<MaterializeDeps, 'watermarks'>,
  windowId: string,
): Promise<WindowCompletion> {
  const window = await deps.watermarks.getWindow(windowId);
  if (!window) {
    throw new MaterializationError(
      `materialization window ${windowId} is not recorded in ${deps.watermarks.name} (expired or never planned); plan again`,
    );
  }
  const unitsCompleted = await deps.watermarks.completedUnitCount(windowId);
  const complete = unitsCompleted >= window.unitCount;
  const advanced: FeatureViewName[] = [];
  if (complete) {
    for (const view of window.windows) {
      if (view.start >= view.end) continue;
      if (await deps.watermarks.advanceWatermark(view.view, view.end)) advanced.push(view.view);
    }
  }
  return { windowId, unitsTotal: window.unitCount, unitsCompleted, complete, advanced };
}
