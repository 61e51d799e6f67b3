/**
 * Writes the project's deterministic sample data (loan_table, zipcode_table, credit_history
 * Parquet files in the real schema).
 *
 *   npm run sample-data -- [--out features/sample] [--loans 28000] [--zipcodes 28000] [--seed N]
 */
import { parseArgs } from 'node:util';
import { writeSampleData } from '../features/offline/sample-data.js';

function positiveInteger(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed <= 0) {
    console.error(`--${flag} must be a positive integer, got "${value}"`);
    process.exit(2);
  }
  return parsed;
}

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'features/sample' },
    loans: { type: 'string' },
    zipcodes: { type: 'string' },
    seed: { type: 'string' },
    'row-group-size': { type: 'string' },
  },
});

const written = await writeSampleData(values.out, {
  loans: positiveInteger('loans', values.loans),
  zipcodes: positiveInteger('zipcodes', values.zipcodes),
  seed: positiveInteger('seed', values.seed),
  rowGroupSize: positiveInteger('row-group-size', values['row-group-size']),
});
for (const { file, rows, bytes } of written) {
  console.log(`${file}: ${rows.toLocaleString('en-US')} rows, ${(bytes / 1024).toFixed(0)} KiB`);
}
