/**
 * What redis-server spends per materialized row, by write shape:
 * `npx tsx scripts/bench-redis-write.ts [--rows 200000]`
 *
 * Starts a fresh redis-server and writes the same credit_history records three ways, in pipelined
 * batches of 1,000, measuring the server's own CPU time (INFO cpu) per row:
 * - `script`: what the materializer sends, NEWER_WINS_SCRIPT (redis-commands.ts): atomic per row;
 * - `hmget+hset`: the same check and write as separate commands, NOT atomic (a concurrent writer
 *   could slip between them): what the check costs without Lua;
 * - `hset`: one HSET of the row's 11 fields, no check at all: the floor for this key layout.
 * The gap between `script` and `hset` is the price of newer-value protection on the server, the
 * half of the machine that bench-materialize.ts cannot make faster from the client.
 */
import { parseArgs } from 'node:util';
import { createClient } from 'redis';
import { creditHistory } from '../features/definitions.js';
import { KeyLayout, viewFieldNames } from '../features/online/key-layout.js';
import { NEWER_WINS_SCRIPT, newerWinsInvocations } from '../features/online/redis-commands.js';
import type { FeatureRecord } from '../features/online/types.js';
import { creditRecord } from '../test/harness/feature-records.js';
import { startRedisServer } from '../test/harness/redis-server.js';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '200000' } } });
const rows = Number(args.rows);
const BATCH = 1_000;

const layout = new KeyLayout({});
const names = viewFieldNames(creditHistory);
// Distinct values per row, as real data has (Lua interns equal strings).
const records: FeatureRecord[] = Array.from({ length: rows }, (_, i) =>
  creditRecord(
    `19${String(i % 100).padStart(2, '0')}0101_${String(i).padStart(4, '0')}`,
    1_700_000_000_000 + i,
    1_700_000_000_000 + i,
    Object.fromEntries(
      creditHistory.features.map((f, j) => [f.name, (i * 7 + j * 1_013) % 100_000]),
    ),
  ),
);

function hsetCommand(record: FeatureRecord): string[] {
  const command = ['HSET', layout.redisKey('dob_ssn', record.entityKey)];
  command.push(names.eventTs, String(record.eventTimestamp));
  command.push(names.createdTs, String(record.createdTimestamp));
  creditHistory.features.forEach((feature, i) =>
    command.push(names.features[i], String(record.values[feature.name])),
  );
  return command;
}

const server = await startRedisServer();
const client = createClient({ url: server.url, RESP: 2 });
await client.connect();
const serverCpuSeconds = async () => {
  const info = await client.info('cpu');
  const read = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1]);
  return read('used_cpu_user') + read('used_cpu_sys');
};

const shapes: Record<string, (batch: FeatureRecord[], sha: string) => (string | Buffer)[][]> = {
  script: (batch, sha) =>
    newerWinsInvocations(layout, batch, 0).map(({ keys, args: argv }) => [
      'EVALSHA',
      sha,
      String(keys.length),
      ...keys,
      ...argv,
    ]),
  'hmget+hset': (batch) =>
    batch.flatMap((record) => [
      ['HMGET', layout.redisKey('dob_ssn', record.entityKey), names.eventTs, names.createdTs],
      hsetCommand(record),
    ]),
  hset: (batch) => batch.map(hsetCommand),
};

try {
  const sha = await client.scriptLoad(NEWER_WINS_SCRIPT);
  const results: Record<string, number> = {};
  // Two rounds, interleaved, so a change in the machine's speed shows as a spread.
  for (const round of [1, 2]) {
    for (const [shape, build] of Object.entries(shapes)) {
      await client.flushAll();
      const before = await serverCpuSeconds();
      for (let start = 0; start < rows; start += BATCH) {
        const pipeline = client.multi();
        for (const command of build(records.slice(start, start + BATCH), sha)) {
          pipeline.sendCommand(command);
        }
        await pipeline.execAsPipeline();
      }
      const micros = (((await serverCpuSeconds()) - before) * 1e6) / rows;
      results[`${shape} (round ${round})`] = Math.round(micros * 100) / 100;
    }
  }
  console.table(
    Object.entries(results).map(([shape, micros]) => ({ shape, 'server µs/row': micros })),
  );
} finally {
  await client.close();
  await server.stop();
}
