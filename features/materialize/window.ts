import type { FeatureViewDefinition } from '../definitions.js';
import { MaterializationOptionsError } from './errors.js';
import type { ViewWindow } from './types.js';
import type { WatermarkStore } from './watermark-store.js';

export interface WindowOptions {
  /** Window end, epoch ms (inclusive). */
  readonly end: number;
  /**
   * Backfill start, epoch ms (exclusive), overriding the watermark — as Feast's
   * `materialize START END`. Needed for late-arriving rows older than the watermark, which
   * incremental runs (like Feast's materialize-incremental) never pick up.
   */
  readonly start?: number;
}

/**
 * Each view's window (start, end]: from its watermark, or end − TTL on a first run (older rows
 * would be stale at `end` anyway). A view already materialized up to `end` gets an empty window
 * (start = end) and contributes no units.
 */
export async function viewWindows(
  watermarks: WatermarkStore,
  views: readonly FeatureViewDefinition[],
  options: WindowOptions,
): Promise<ViewWindow[]> {
  const { end } = options;
  if (!Number.isFinite(end))
    throw new MaterializationOptionsError('window end is not a valid time');
  if (options.start !== undefined && !(options.start < end)) {
    throw new MaterializationOptionsError(
      `window start ${iso(options.start)} must be before its end ${iso(end)}`,
    );
  }
  return Promise.all(
    views.map(async (view): Promise<ViewWindow> => {
      const previousWatermark = await watermarks.getWatermark(view.name);
      const start = options.start ?? previousWatermark ?? end - view.ttlSeconds * 1000;
      return { view: view.name, start: Math.min(start, end), end, previousWatermark };
    }),
  );
}

export function iso(epochMs: number): string {
  return Number.isFinite(epochMs) ? new Date(epochMs).toISOString() : String(epochMs);
}

/** True when a row group's event_timestamp statistics prove it holds no row of (start, end]. */
export function rowGroupOutsideWindow(
  min: number | string | undefined,
  max: number | string | undefined,
  start: number,
  end: number,
): boolean {
  // Missing statistics prove nothing: the row group must be read.
  if (typeof max === 'number' && max <= start) return true;
  if (typeof min === 'number' && min > end) return true;
  return false;
}
