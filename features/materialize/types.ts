import type { FeatureViewName } from '../definitions.js';
import type { OnlineStore } from '../online/types.js';
import type { WatermarkStore } from './watermark-store.js';
import type { ParquetSourceReader } from './parquet-source.js';

/**
 * The materialization boundary: what the planner, the unit runner and the window completion need.
 * Entry points (CLI, scheduled Lambda, SQS subscriber, Worker `scheduled`, Queue consumer) build
 * these from their config and pass them in; nothing below reads the environment.
 */
export interface MaterializeDeps {
  /** Source base: a local folder or `s3://bucket/prefix`. Each view reads `<base>/<source.path>`. */
  readonly source: string;
  /** Parquet access by location (local path or s3:// URL), byte ranges only. */
  readonly reader: ParquetSourceReader;
  /** Every configured online store; each unit writes to all of them. */
  readonly stores: readonly OnlineStore[];
  readonly watermarks: WatermarkStore;
  /** Rows deduplicated and written per OnlineStore.write() call. Bounds memory; default 10,000. */
  readonly writeBatchSize?: number;
  /** A unit holds consecutive row groups up to this many rows (at least one row group). Default 1,000,000. */
  readonly maxRowsPerUnit?: number;
  /** Called after each batch is written to every store, for progress bars. */
  readonly onProgress?: (event: ProgressEvent) => void;
  readonly signal?: AbortSignal;
}

export interface ProgressEvent {
  readonly view: FeatureViewName;
  readonly rowsScanned: number;
}

/** One view's window: rows with start < event_timestamp <= end (epoch ms). */
export interface ViewWindow {
  readonly view: FeatureViewName;
  readonly start: number;
  readonly end: number;
  /** The watermark this window starts from; null on a first run (start = end − TTL). */
  readonly previousWatermark: number | null;
}

/**
 * An independent piece of a window: a contiguous row-group range of one source file. Small and
 * JSON-serialisable so it fits in an SQS or Cloudflare Queues message (see unit-message.ts).
 */
export interface MaterializationUnit {
  readonly windowId: string;
  /** Position of the unit in its window's plan; completion is tracked by this index. */
  readonly index: number;
  readonly view: FeatureViewName;
  /** Local path or s3:// URL of the Parquet file. */
  readonly file: string;
  /** File size at planning time: a file replaced since then is refused, not half-read. */
  readonly fileSize: number;
  /** Row groups [rowGroupStart, rowGroupEnd) of the file. */
  readonly rowGroupStart: number;
  readonly rowGroupEnd: number;
  /** Rows in those row groups (for progress; the window may hold fewer). */
  readonly rows: number;
  /** The window, repeated here so a unit runs without reading the plan. */
  readonly start: number;
  readonly end: number;
}

export interface ViewPlanStats {
  readonly files: number;
  readonly rowGroups: number;
  readonly rowGroupsSkipped: number;
}

export interface MaterializationPlan {
  readonly windowId: string;
  readonly end: number;
  readonly windows: readonly ViewWindow[];
  readonly units: readonly MaterializationUnit[];
  readonly stats: Readonly<Partial<Record<FeatureViewName, ViewPlanStats>>>;
}

export interface StoreWriteCounts {
  /** Records new or newer than the stored row. */
  written: number;
  /** Records the store refused because it already held a row at least as new. */
  skippedNotNewer: number;
}

export interface UnitResult {
  readonly windowId: string;
  readonly index: number;
  readonly view: FeatureViewName;
  readonly rowsScanned: number;
  /** Rows of the scanned row groups that fall outside the window. */
  readonly rowsOutsideWindow: number;
  /** Distinct entities of the window, per row group, summed. */
  readonly entities: number;
  readonly perStore: Readonly<Record<string, StoreWriteCounts>>;
  /** The window's state after this unit; `advanced` names the watermarks this unit moved. */
  readonly completion: WindowCompletion;
}

export interface WindowCompletion {
  readonly windowId: string;
  readonly unitsTotal: number;
  readonly unitsCompleted: number;
  readonly complete: boolean;
  /** Views whose watermark this call moved forward (empty when another call did it first). */
  readonly advanced: readonly FeatureViewName[];
}
