import { featureViewByName } from '../definitions.js';
import { latestRows } from '../offline/latest-per-entity.js';
import { iterateRowGroups } from '../offline/parquet-table.js';
import { viewSourceSchema } from '../offline/source-schemas.js';
import type { FeatureRows, OnlineStore } from '../online/types.js';
import { completeMaterializationWindow } from './complete.js';
import { SourceChangedError } from './errors.js';
import type {
  MaterializationUnit,
  MaterializeDeps,
  StoreWriteCounts,
  UnitResult,
} from './types.js';
import { rowGroupOutsideWindow } from './window.js';

export const DEFAULT_WRITE_BATCH_SIZE = 10_000;

/**
 * Runs one unit: reads its row groups one at a time and, in slices of `writeBatchSize` rows,
 * keeps the latest row per entity (event_timestamp, then created_timestamp) and writes those
 * rows to every store through `OnlineStore.write()`, as positions into the decoded columns (no
 * object per row). Then marks the unit complete and, if it was the last one of its window,
 * advances the watermarks.
 *
 * Deduplication is per slice, not per unit, so memory stays bounded by one row group however many
 * entities the unit holds. That is safe because every store's write() refuses to replace a
 * stored row with an older one: the same entity arriving from several row groups, units or
 * re-runs, in any order, ends with the newest row. For the same reason a re-run is idempotent, and
 * a unit that fails part-way leaves only correct, newer-protected rows behind.
 *
 * While one slice is written the next is prepared (at most one write in flight per unit).
 *
 * @example
 * // SQS subscriber
 * for (const record of event.Records) await runMaterializationUnit(deps, parseUnit(record.body));
 */
export async function runMaterializationUnit(
  deps: MaterializeDeps,
  unit: MaterializationUnit,
): Promise<UnitResult> {
  const counts = await writeUnit(deps, unit);
  await deps.watermarks.markUnitComplete(unit.windowId, unit.index);
  const completion = await completeMaterializationWindow(deps, unit.windowId);
  return { ...counts, completion };
}

async function writeUnit(
  deps: MaterializeDeps,
  unit: MaterializationUnit,
): Promise<Omit<UnitResult, 'completion'>> {
  const view = featureViewByName(unit.view);
  const schema = viewSourceSchema(view);
  const batchSize = deps.writeBatchSize ?? DEFAULT_WRITE_BATCH_SIZE;
  const perStore: Record<string, StoreWriteCounts> = {};
  for (const store of deps.stores) perStore[store.name] = { written: 0, skippedNotNewer: 0 };

  const file = await deps.reader.open(unit.file);
  if (file.byteLength !== unit.fileSize) {
    throw new SourceChangedError(
      unit.file,
      `is ${file.byteLength} bytes but was ${unit.fileSize} when window ${unit.windowId} was planned; plan the window again`,
    );
  }

  let rowsScanned = 0;
  let rowsOutsideWindow = 0;
  let entities = 0;
  let pendingWrite: Promise<void> = Promise.resolve();
  const ts = view.source.timestampField;
  try {
    for await (const group of iterateRowGroups(file, unit.file, schema, {
      rowGroupStart: unit.rowGroupStart,
      rowGroupEnd: unit.rowGroupEnd,
      skip: (stats) => rowGroupOutsideWindow(stats.min[ts], stats.max[ts], unit.start, unit.end),
    })) {
      deps.signal?.throwIfAborted();
      if (group.skipped) continue;
      for (let offset = 0; offset < group.rows; offset += batchSize) {
        const latest = latestRows(view, group.columns, {
          window: { start: unit.start, end: unit.end },
          offset,
          rows: Math.min(batchSize, group.rows - offset),
        });
        const { scanned, inWindow, rows } = latest;
        rowsScanned += scanned;
        rowsOutsideWindow += scanned - inWindow;
        entities += rows.rows.length;
        await pendingWrite;
        pendingWrite = writeToEveryStore(deps, rows, perStore).then(() =>
          deps.onProgress?.({ view: view.name, rowsScanned: scanned }),
        );
        // Observed now, rethrown by the next await: a failed write must not crash the process as
        // an unhandled rejection while the next slice is being prepared.
        pendingWrite.catch(() => undefined);
      }
    }
  } finally {
    // Never leave a write running (or its failure unobserved) behind a read error.
    await pendingWrite.catch(() => undefined);
  }
  await pendingWrite;
  return {
    windowId: unit.windowId,
    index: unit.index,
    view: view.name,
    rowsScanned,
    rowsOutsideWindow,
    entities,
    perStore,
  };
}

async function writeToEveryStore(
  deps: MaterializeDeps,
  batch: FeatureRows,
  perStore: Record<string, StoreWriteCounts>,
): Promise<void> {
  if (batch.rows.length === 0) return;
  // allSettled: when one store fails, the others' writes still finish before the unit fails.
  const settled = await Promise.allSettled(
    deps.stores.map((store) => writeToStore(deps, store, batch, perStore)),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * One write() at a time per store within this process, unless the store's writes are atomic per
 * row (`atomicWrites`: the Redis stores). DynamoDB's newer-value check is a BatchGetItem followed
 * by a BatchWriteItem (see online/dynamodb.ts), not atomic: two units writing the same entity
 * concurrently could let the older row land last. Serialising its calls keeps "order does not
 * matter" true for --parallel; each write() still pipelines internally, and the units keep
 * decoding in parallel while they wait. Redis needs no turn: with --parallel 2, the units' writes
 * overlap, so Redis is not left idle while one write's pipeline drains.
 */
const writeQueues = new WeakMap<OnlineStore, Promise<unknown>>();

function writeInTurn(store: OnlineStore, batch: FeatureRows, signal?: AbortSignal) {
  const previous = writeQueues.get(store) ?? Promise.resolve();
  const turn = previous.then(() => store.write(batch, { signal }));
  writeQueues.set(
    store,
    turn.catch(() => undefined),
  );
  return turn;
}

async function writeToStore(
  deps: MaterializeDeps,
  store: OnlineStore,
  batch: FeatureRows,
  perStore: Record<string, StoreWriteCounts>,
): Promise<void> {
  const result = await (store.atomicWrites
    ? store.write(batch, { signal: deps.signal })
    : writeInTurn(store, batch, deps.signal));
  perStore[store.name].written += result.written;
  perStore[store.name].skippedNotNewer += result.skippedNotNewer;
}
