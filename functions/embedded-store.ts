import { featureViews } from '../features/definitions.js';
import { listSourceFiles, openParquetSource } from '../features/offline/byte-range.js';
import { LatestPerEntity } from '../features/offline/latest-per-entity.js';
import { iterateRowGroups, viewSourceSchema } from '../features/offline/parquet-table.js';
import { EmbeddedStore } from '../features/online/embedded.js';

/**
 * The newcomer's default: with no online store configured, `npm start` serves from an in-process
 * store filled with the latest row per entity of the project's sample Parquet files.
 */
export async function loadEmbeddedStore(sampleDir: string): Promise<EmbeddedStore> {
  const store = new EmbeddedStore();
  for (const view of featureViews) {
    const latest = new LatestPerEntity(view);
    for (const location of await listSourceFiles(sampleDir, view.source.path)) {
      const file = await openParquetSource(location);
      for await (const group of iterateRowGroups(file, location, viewSourceSchema(view))) {
        if (!('skipped' in group)) latest.add(group.columns, group.rows);
      }
    }
    await store.write(latest.records());
  }
  return store;
}
