/**
 * In-process store with the semantics of the real ones (statuses, TTL, newer-value protection):
 * what `npm start` serves from when no store is configured, loaded from the sample data.
 */
import type { FeatureViewDefinition, FeatureViewName } from '../definitions.js';
import { KeyLayout } from './key-layout.js';
import {
  StoreUnavailableError,
  viewStatus,
  type EntityKeys,
  type FeatureRecord,
  type FeatureWrites,
  type FeatureValue,
  type OnlineStore,
  type ReadOptions,
  type ReadResponse,
  type ViewResult,
  type ViewResults,
  type WriteResult,
} from './types.js';
import { featureRecords } from './feature-rows.js';

interface StoredRow {
  readonly eventTimestamp: number;
  readonly createdTimestamp: number;
  readonly values: Readonly<Record<string, FeatureValue>>;
}

export class EmbeddedStore implements OnlineStore {
  readonly name = 'embedded';
  /** write() compares and sets each row synchronously. */
  readonly atomicWrites = true;
  readonly #layout = new KeyLayout();
  /** view name → entity id → latest row */
  readonly #rows = new Map<FeatureViewName, Map<string, StoredRow>>();

  async read(
    applications: readonly EntityKeys[],
    views: readonly FeatureViewDefinition[],
    options: ReadOptions = {},
  ): Promise<ReadResponse> {
    if (options.signal?.aborted) throw new StoreUnavailableError(this.name, 'read aborted');
    const now = options.now ?? Date.now();
    const results = applications.map((application) => {
      const byView = {} as Record<FeatureViewName, ViewResult>;
      for (const view of views) {
        const id = this.#layout.entityId(view.entity.name, application[view.entity.name]);
        const row = this.#rows.get(view.name)?.get(id);
        byView[view.name] = row
          ? {
              status: viewStatus(view, row.eventTimestamp, now),
              eventTimestamp: row.eventTimestamp,
              values: row.values,
            }
          : { status: 'not_found', eventTimestamp: null, values: {} };
      }
      return byView as ViewResults;
    });
    return { results, servedBy: this.name };
  }

  async write(writes: FeatureWrites): Promise<WriteResult> {
    let written = 0;
    let skippedNotNewer = 0;
    for (const record of featureRecords(writes)) {
      let rows = this.#rows.get(record.view.name);
      if (!rows) this.#rows.set(record.view.name, (rows = new Map()));
      const id = this.#layout.entityId(record.view.entity.name, record.entityKey);
      const stored = rows.get(id);
      if (
        stored &&
        (stored.eventTimestamp > record.eventTimestamp ||
          (stored.eventTimestamp === record.eventTimestamp &&
            stored.createdTimestamp >= record.createdTimestamp))
      ) {
        skippedNotNewer++;
        continue;
      }
      const values: Record<string, FeatureValue> = {};
      for (const feature of record.view.features)
        values[feature.name] = record.values[feature.name] ?? null;
      rows.set(id, {
        eventTimestamp: record.eventTimestamp,
        createdTimestamp: record.createdTimestamp,
        values: Object.freeze(values),
      });
      written++;
    }
    return { written, skippedNotNewer };
  }

  /** Rows held per view, for the startup log. */
  size(view: FeatureViewName): number {
    return this.#rows.get(view)?.size ?? 0;
  }
}
