import { featureViewByName, featureViews, type FeatureViewDefinition } from '../definitions.js';
import { checkSchema, readParquetMetadata, rowGroupStats } from '../offline/parquet-table.js';
import { viewSourceSchema } from '../offline/source-schemas.js';
import { mapWithConcurrency } from './concurrency.js';
import type {
  MaterializationPlan,
  MaterializationUnit,
  MaterializeDeps,
  ViewPlanStats,
  ViewWindow,
} from './types.js';
import { rowGroupOutsideWindow, viewWindows } from './window.js';

export const DEFAULT_MAX_ROWS_PER_UNIT = 1_000_000;
/** Footers read at once while planning a folder of many files (S3 latency dominates). */
const FOOTER_CONCURRENCY = 8;

export interface PlanOptions {
  /** Window end, epoch ms; the CLI defaults it to now. */
  readonly end: number;
  /** Views to materialize; default all. */
  readonly views?: readonly string[];
  /** Backfill start overriding the watermarks (see WindowOptions.start). */
  readonly start?: number;
}

type UnitDraft = Omit<MaterializationUnit, 'windowId' | 'index'>;

/**
 * Plans one window: per view, lists its source files, reads only their footers (schema check and
 * row-group statistics, through byte ranges), skips row groups whose event_timestamp min/max lie
 * outside the view's window, and groups the remaining consecutive row groups into units of at
 * most `maxRowsPerUnit` rows. The window is recorded in the watermark store before returning, so
 * the units can then run anywhere, in any order, any number of times.
 *
 * The window id is a digest of the windows and units: re-planning the same window over the same
 * files yields the same id (a retried scheduler merges into the same completion record), while a
 * file added or rewritten meanwhile yields a new window that must complete on its own.
 *
 * @example
 * const { windowId, units } = await planMaterialization(deps, { end: Date.now() });
 * for (const unit of units) await queue.send(serializeUnit(unit));
 */
export async function planMaterialization(
  deps: MaterializeDeps,
  options: PlanOptions,
): Promise<MaterializationPlan> {
  const views = selectViews(options.views);
  const windows = await viewWindows(deps.watermarks, views, options);
  const maxRows = deps.maxRowsPerUnit ?? DEFAULT_MAX_ROWS_PER_UNIT;

  const drafts: UnitDraft[] = [];
  const stats: Partial<Record<string, ViewPlanStats>> = {};
  for (const window of windows) {
    if (window.start >= window.end) {
      stats[window.view] = { files: 0, rowGroups: 0, rowGroupsSkipped: 0 };
      continue;
    }
    const view = featureViewByName(window.view);
    const planned = await planView(deps, view, window, maxRows);
    drafts.push(...planned.units);
    stats[window.view] = planned.stats;
  }

  const windowId = await digest({ windows, drafts });
  const units = drafts.map((draft, index) => ({ windowId, index, ...draft }));
  await deps.watermarks.recordWindow({
    windowId,
    unitCount: units.length,
    windows,
    plannedAt: Date.now(),
  });
  return { windowId, end: options.end, windows, units, stats };
}

function selectViews(names: readonly string[] | undefined): FeatureViewDefinition[] {
  if (!names || names.length === 0) return [...featureViews];
  return [...new Set(names)].map(featureViewByName);
}

async function planView(
  deps: MaterializeDeps,
  view: FeatureViewDefinition,
  window: ViewWindow,
  maxRows: number,
): Promise<{ units: UnitDraft[]; stats: ViewPlanStats }> {
  const schema = viewSourceSchema(view);
  const files = await deps.reader.listFiles(deps.source, view.source.path);
  const perFile = await mapWithConcurrency(files, FOOTER_CONCURRENCY, async (location) => {
    const file = await deps.reader.open(location);
    const metadata = await readParquetMetadata(file, location);
    // Schema problems fail the plan, before a single row of the window is written.
    checkSchema(metadata, location, schema);
    const groups = rowGroupStats(metadata, schema);
    const units: UnitDraft[] = [];
    let skipped = 0;
    let open: { first: number; rows: number } | undefined;
    const close = (endGroup: number) => {
      if (!open) return;
      units.push({
        view: view.name,
        file: location,
        fileSize: file.byteLength,
        rowGroupStart: open.first,
        rowGroupEnd: endGroup,
        rows: open.rows,
        start: window.start,
        end: window.end,
      });
      open = undefined;
    };
    for (const group of groups) {
      const ts = view.source.timestampField;
      if (rowGroupOutsideWindow(group.min[ts], group.max[ts], window.start, window.end)) {
        skipped++;
        close(group.rowGroup);
        continue;
      }
      if (open && open.rows + group.rows > maxRows) close(group.rowGroup);
      open ??= { first: group.rowGroup, rows: 0 };
      open.rows += group.rows;
    }
    close(groups.length);
    return { units, rowGroups: groups.length, skipped };
  });
  return {
    units: perFile.flatMap((f) => f.units),
    stats: {
      files: files.length,
      rowGroups: perFile.reduce((n, f) => n + f.rowGroups, 0),
      rowGroupsSkipped: perFile.reduce((n, f) => n + f.skipped, 0),
    },
  };
}

/** Web Crypto rather than node:crypto, so planning runs unchanged in a Worker. */
async function digest(value: unknown): Promise<string> {
  const bytes = new Uint8Array(
    await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(value))),
  );
  return Array.from(bytes.subarray(0, 12), (b) => b.toString(16).padStart(2, '0')).join('');
}
