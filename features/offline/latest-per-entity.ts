import type { FeatureViewDefinition } from '../definitions.js';
import { createdTimestampAt, featureValueAt } from '../online/feature-rows.js';
import type { FeatureRecord, FeatureRows, FeatureValue } from '../online/types.js';
import type { ColumnarRows, NumericColumn, StringColumn } from './parquet-table.js';

/** A materialization window in epoch ms: start exclusive, end inclusive — (start, end]. */
export interface TimeWindow {
  readonly start?: number;
  readonly end?: number;
}

export interface AddResult {
  /** Rows looked at. */
  readonly scanned: number;
  /** Rows inside the window with an entity key and event timestamp. */
  readonly inWindow: number;
}

/**
 * Keeps the latest row per entity key across any number of batches (row groups, files): highest
 * event_timestamp, then highest created_timestamp; on a full tie the row seen last wins, so an
 * appended correction replaces the row it duplicates. One Map lookup per row; a record object is
 * built only when a row wins. Rows without an entity key or event timestamp are ignored (the
 * source schemas already reject them as nulls).
 *
 * @example
 * const latest = new LatestPerEntity(creditHistory, { window: { start, end } });
 * for await (const group of iterateRowGroups(file, location, creditHistorySchema)) {
 *   if (!group.skipped) latest.add(group.columns, group.rows);
 * }
 * await store.write(latest.records());
 */
export class LatestPerEntity {
  private readonly byKey = new Map<number | string, FeatureRecord>();
  private readonly start: number;
  private readonly end: number;

  constructor(
    readonly view: FeatureViewDefinition,
    options: { window?: TimeWindow } = {},
  ) {
    this.start = options.window?.start ?? -Infinity;
    this.end = options.window?.end ?? Infinity;
  }

  /** Number of distinct entities kept so far. */
  get size(): number {
    return this.byKey.size;
  }

  add(columns: ColumnarRows, rows = columnLength(columns, this.view)): AddResult {
    const { view, start, end, byKey } = this;
    const ofView = viewColumns(view, columns);
    const { keys, eventTimestamps, featureColumns } = ofView;
    const featureNames = view.features.map((f) => f.name);
    const numericKeys = keys instanceof Float64Array;
    let inWindow = 0;
    for (let row = 0; row < rows; row++) {
      const eventTimestamp = eventTimestamps[row];
      // NaN fails both comparisons, so rows without a timestamp never enter.
      if (!(eventTimestamp > start && eventTimestamp <= end)) continue;
      const key = numericKeys ? (keys as NumericColumn)[row] : (keys as StringColumn)[row];
      if (key === null || (numericKeys && Number.isNaN(key))) continue;
      inWindow++;
      const createdTimestamp = createdTimestampAt(ofView, row);
      const kept = byKey.get(key);
      if (
        kept &&
        isOlder(eventTimestamp, createdTimestamp, kept.eventTimestamp, kept.createdTimestamp)
      ) {
        continue;
      }
      const values: Record<string, FeatureValue> = {};
      for (let f = 0; f < featureNames.length; f++) {
        values[featureNames[f]] = featureValueAt(featureColumns[f], row);
      }
      byKey.set(key, { view, entityKey: key, eventTimestamp, createdTimestamp, values });
    }
    return { scanned: rows, inWindow };
  }

  /** The kept records, in first-seen key order. */
  records(): FeatureRecord[] {
    return [...this.byKey.values()];
  }
}

function columnLength(columns: ColumnarRows, view: FeatureViewDefinition): number {
  return columns[view.source.timestampField]?.length ?? 0;
}

export interface LatestRows extends AddResult {
  /** The kept rows, in first-seen key order, as positions into the columns given. */
  readonly rows: FeatureRows;
}

/**
 * The latest row per entity key among rows `[offset, offset + rows)` of one batch of columns, by
 * the same rules as `LatestPerEntity`, as positions into those columns: no object per row. The
 * materializer's form (see online/feature-rows.ts for what it saves).
 *
 * @example
 * const { rows } = latestRows(creditHistory, group.columns, { window: { start, end } });
 * await store.write(rows);
 */
export function latestRows(
  view: FeatureViewDefinition,
  columns: ColumnarRows,
  options: { window?: TimeWindow; offset?: number; rows?: number } = {},
): LatestRows {
  const offset = options.offset ?? 0;
  const count = options.rows ?? columnLength(columns, view) - offset;
  const start = options.window?.start ?? -Infinity;
  const end = options.window?.end ?? Infinity;
  const ofView = viewColumns(view, columns);
  const { keys, eventTimestamps, createdTimestamps, featureColumns } = ofView;
  const numericKeys = keys instanceof Float64Array;
  const byKey = new Map<number | string, number>();
  let inWindow = 0;
  for (let row = offset; row < offset + count; row++) {
    const eventTimestamp = eventTimestamps[row];
    // NaN fails both comparisons, so rows without a timestamp never enter.
    if (!(eventTimestamp > start && eventTimestamp <= end)) continue;
    const key = keys[row];
    if (key === null || (numericKeys && Number.isNaN(key))) continue;
    inWindow++;
    const kept = byKey.get(key);
    if (
      kept !== undefined &&
      isOlder(
        eventTimestamp,
        createdTimestampAt(ofView, row),
        eventTimestamps[kept],
        createdTimestampAt(ofView, kept),
      )
    ) {
      continue;
    }
    byKey.set(key, row);
  }
  return {
    scanned: count,
    inWindow,
    rows: {
      view,
      rows: Int32Array.from(byKey.values()),
      entityKeys: keys,
      eventTimestamps,
      createdTimestamps,
      values: featureColumns,
    },
  };
}

/** The columns a view needs from a batch; a missing one is a TypeError naming it. */
function viewColumns(view: FeatureViewDefinition, columns: ColumnarRows) {
  const keys = columns[view.entity.name];
  const eventTimestamps = columns[view.source.timestampField] as NumericColumn;
  const createdTimestamps = columns[view.source.createdTimestampField] as NumericColumn | undefined;
  if (!keys || !eventTimestamps) {
    throw new TypeError(
      `${view.name}: columns must include "${view.entity.name}" and "${view.source.timestampField}"`,
    );
  }
  const featureColumns = view.features.map((feature) => {
    const column = columns[feature.name];
    if (!column)
      throw new TypeError(`${view.name}: column "${feature.name}" missing from the batch`);
    return column;
  });
  return { keys, eventTimestamps, createdTimestamps, featureColumns };
}

/**
 * Whether a row (event, created) loses to the row kept so far: an older event timestamp, or the
 * same one created earlier. On a full tie the later row wins, so an appended correction
 * replaces the row it duplicates.
 */
function isOlder(event: number, created: number, keptEvent: number, keptCreated: number): boolean {
  return keptEvent > event || (keptEvent === event && keptCreated > created);
}

/**
 * One-shot form of `LatestPerEntity` for rows already in memory.
 *
 * @example
 * const records = latestPerEntity(zipcodeFeatures, await readParquetColumns(file, location, zipcodeTableSchema));
 */
export function latestPerEntity(
  view: FeatureViewDefinition,
  columns: ColumnarRows,
  options: { window?: TimeWindow } = {},
): FeatureRecord[] {
  const latest = new LatestPerEntity(view, options);
  latest.add(columns);
  return latest.records();
}
