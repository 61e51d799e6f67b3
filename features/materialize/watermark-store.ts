import type { FeatureViewName } from '../definitions.js';
import type { ViewWindow } from './types.js';

/**
 * Durable materialization state: per-view watermarks and, per planned window, which units have
 * completed. Where it lives (chosen by the entry point, see `chooseWatermarkStore` in state.ts):
 * - DynamoDB, in the feature table, when DYNAMODB_TABLE is configured: durable, conditional writes
 *   make "never move backwards" and "count each unit once" atomic across Lambda invocations.
 * - else Redis (a small hash plus per-window keys): the watermark describes what the store holds,
 *   so it lives with the store — pointing the job at a fresh Redis starts from end − TTL again.
 * - else a JSON file (local runs and tests only; one process at a time).
 */
export interface WatermarkStore {
  readonly name: 'dynamodb' | 'redis' | 'file';
  /** The end (epoch ms) of the last completed window of the view; null before the first run. */
  getWatermark(view: FeatureViewName): Promise<number | null>;
  /**
   * Moves the view's watermark to `to` unless it is already at or past it. Returns whether it
   * moved. Atomic: concurrent calls can never move a watermark backwards.
   */
  advanceWatermark(view: FeatureViewName, to: number): Promise<boolean>;
  /** Records a planned window before any of its units run. Re-recording the same id is a no-op. */
  recordWindow(window: PlannedWindow): Promise<void>;
  getWindow(windowId: string): Promise<PlannedWindow | null>;
  /** Marks one unit of a window done. Idempotent; returns how many distinct units are done now. */
  markUnitComplete(windowId: string, unitIndex: number): Promise<number>;
  completedUnitCount(windowId: string): Promise<number>;
  close?(): Promise<void>;
}

export interface PlannedWindow {
  readonly windowId: string;
  readonly unitCount: number;
  readonly windows: readonly ViewWindow[];
  /** epoch ms, for expiry of stale window records */
  readonly plannedAt: number;
}

/** How long window bookkeeping is kept: long enough for a queue's retries and dead letters. */
export const WINDOW_RECORD_TTL_SECONDS = 14 * 86_400;

export class WatermarkStateError extends Error {
  override readonly name = 'WatermarkStateError';
  constructor(
    readonly store: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`materialization state in ${store}: ${message}`, options);
  }
}
