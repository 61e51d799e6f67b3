import type {
  MaterializationPlan,
  MaterializeDeps,
  StoreWriteCounts,
  UnitResult,
  WindowCompletion,
} from './types.js';
import { iso } from './window.js';

export interface ViewSummary {
  /** The window (start, end] as ISO times. */
  window: { start: string; end: string };
  /** Watermark before the run (null on a first run) and after it. */
  previousWatermark: string | null;
  watermark: string | null;
  watermarkMoved: boolean;
  files: number;
  rowGroups: number;
  rowGroupsSkipped: number;
  rowsScanned: number;
  /** Rows of read row groups outside the window (statistics cannot exclude every such row). */
  rowsOutsideWindow: number;
  /** Latest-per-entity records sent to the stores. */
  entities: number;
}

/** The JSON line the CLI prints last and the scheduled handlers log. */
export interface MaterializationSummary {
  ok: boolean;
  error?: { name: string; message: string };
  windowId: string | null;
  watermarkStore: string;
  unitsTotal: number;
  unitsCompleted: number;
  rowsScanned: number;
  rowGroupsSkipped: number;
  /** Per store: records written (new or newer) and refused as not newer than the stored row. */
  stores: Record<string, StoreWriteCounts>;
  watermarkMoved: boolean;
  views: Record<string, ViewSummary>;
  durationMs: number;
}

export class MaterializationSummaryBuilder {
  private readonly startedAt = performance.now();
  private readonly summary: MaterializationSummary;

  constructor(deps: Pick<MaterializeDeps, 'stores' | 'watermarks'>) {
    const stores: Record<string, StoreWriteCounts> = {};
    for (const store of deps.stores) stores[store.name] = { written: 0, skippedNotNewer: 0 };
    this.summary = {
      ok: false,
      windowId: null,
      watermarkStore: deps.watermarks.name,
      unitsTotal: 0,
      unitsCompleted: 0,
      rowsScanned: 0,
      rowGroupsSkipped: 0,
      stores,
      watermarkMoved: false,
      views: {},
      durationMs: 0,
    };
  }

  planned(plan: MaterializationPlan): void {
    this.summary.windowId = plan.windowId;
    this.summary.unitsTotal = plan.units.length;
    for (const window of plan.windows) {
      const stats = plan.stats[window.view];
      const previous = window.previousWatermark === null ? null : iso(window.previousWatermark);
      this.summary.views[window.view] = {
        window: { start: iso(window.start), end: iso(window.end) },
        previousWatermark: previous,
        watermark: previous,
        watermarkMoved: false,
        files: stats?.files ?? 0,
        rowGroups: stats?.rowGroups ?? 0,
        rowGroupsSkipped: stats?.rowGroupsSkipped ?? 0,
        rowsScanned: 0,
        rowsOutsideWindow: 0,
        entities: 0,
      };
      this.summary.rowGroupsSkipped += stats?.rowGroupsSkipped ?? 0;
    }
  }

  unitDone(result: UnitResult): void {
    this.advanced(result.completion.advanced);
    const view = this.summary.views[result.view];
    this.summary.unitsCompleted++;
    this.summary.rowsScanned += result.rowsScanned;
    if (view) {
      view.rowsScanned += result.rowsScanned;
      view.rowsOutsideWindow += result.rowsOutsideWindow;
      view.entities += result.entities;
    }
    for (const [store, counts] of Object.entries(result.perStore)) {
      const total = (this.summary.stores[store] ??= { written: 0, skippedNotNewer: 0 });
      total.written += counts.written;
      total.skippedNotNewer += counts.skippedNotNewer;
    }
  }

  completed(completion: WindowCompletion): void {
    this.summary.ok = completion.complete;
    this.advanced(completion.advanced);
  }

  /** The last unit usually moves the watermarks itself; the final completion check then finds nothing to do. */
  private advanced(views: readonly string[]): void {
    for (const name of views) {
      const view = this.summary.views[name];
      if (!view) continue;
      view.watermarkMoved = true;
      view.watermark = view.window.end;
      this.summary.watermarkMoved = true;
    }
  }

  failed(error: unknown): MaterializationSummary {
    const e = error as Error;
    this.summary.ok = false;
    this.summary.error = { name: e?.name ?? 'Error', message: e?.message ?? String(error) };
    return this.build();
  }

  build(): MaterializationSummary {
    this.summary.durationMs = Math.round(performance.now() - this.startedAt);
    return structuredClone(this.summary);
  }
}
