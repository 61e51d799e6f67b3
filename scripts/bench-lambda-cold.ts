/**
 * Cold start of the Lambda bundle in Node: a fresh process imports the bundled handler
 * (functions/lambda.ts, built as SST would with infra/api.ts's settings: esbuild, ESM, minified,
 * node22 target, code splitting), answers one function-URL decision, and exits. Reports the entry
 * chunk's size and, over N runs, the median time from process start to the first decision
 * answered, the same minus a bare `node -e 0`, and inside the process the import (Lambda's init
 * phase: the runtime is built there) apart from the first invocation.
 *
 *   npx tsx scripts/bench-lambda-cold.ts [--runs 15]
 *
 * The store is DynamoDB (dynalite, seeded), as a deployed stage without Upstash secrets would be.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { lambdaBuildOptions } from './bench-server.js';
import { seedDynaliteTable, startDynalite } from '../test/harness/dynalite.js';
import { applicationFor, creditRecord, zipcodeRecord } from '../test/fixtures/applicant.js';
import { functionUrlEvent } from '../test/fixtures/lambda-events.js';
import { percentiles } from '../test/support/load.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' } } });
const runs = Number(values.runs);
const APPLICANT = '19800202_0202';
const API_KEY = 'bench-lambda-key-0123456789abcdef';

const dir = await mkdtemp(path.join(os.tmpdir(), 'lambda-cold-'));
const dynalite = await startDynalite();
try {
  const table = 'features';
  await seedDynaliteTable(dynalite.endpoint, table, [zipcodeRecord(), creditRecord(APPLICANT)]);

  const outfile = path.join(dir, 'lambda.mjs');
  // SST ships model/model.onnx beside the code (copyFiles); MODEL_PATH points at it below.
  const result = await build(lambdaBuildOptions('functions/lambda.ts', dir, 'lambda'));
  const bytes = readFileSync(outfile);

  const event = functionUrlEvent({
    body: JSON.stringify(applicationFor(APPLICANT)),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
  });
  const runner = path.join(dir, 'invoke.mjs');
  await writeFile(
    runner,
    `const t0 = performance.now();
const { handler } = await import(${JSON.stringify(outfile)});
const t1 = performance.now();
const res = await handler(${JSON.stringify(event)}, { getRemainingTimeInMillis: () => 10000 });
const t2 = performance.now();
if (res.statusCode !== 200) { console.error(res.statusCode, res.body); process.exit(1); }
process.stdout.write(JSON.stringify({ initMs: t1 - t0, firstInvocationMs: t2 - t1 }) + '\\n');
process.exit(0);
`,
  );
  const env = {
    ...process.env,
    MODEL_PATH: path.resolve('model/model.onnx'),
    SST_RESOURCE_App: JSON.stringify({ name: 'loan-decision-api', stage: 'bench' }),
    SST_RESOURCE_Features: JSON.stringify({ name: table }),
    SST_RESOURCE_ApiKeys: JSON.stringify({ value: API_KEY }),
    AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'x',
    AWS_SECRET_ACCESS_KEY: 'x',
    // dynalite answers in a few ms, not DynamoDB's; the deadline is not what is measured here.
    DYNAMODB_DEADLINE_MS: '1000',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
  };
  // Spawned asynchronously: dynalite runs in this process and must keep answering.
  const runOnce = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, args, {
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.once('exit', (code) =>
        code === 0 ? resolve(out) : reject(new Error(`run failed: ${args.join(' ')}`)),
      );
    });
  const median = (samples: number[]) => percentiles(samples).p50;
  const bareSamples: number[] = [];
  const coldSamples: number[] = [];
  const marks: { initMs: number; firstInvocationMs: number }[] = [];
  // Interleaved, so a slow spell of the machine hits both alike.
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    await runOnce(['-e', '0']);
    bareSamples.push(performance.now() - t0);
    t0 = performance.now();
    const out = await runOnce([runner]);
    coldSamples.push(performance.now() - t0);
    const line = out.split('\n').find((l) => l.startsWith('{"initMs"'));
    if (!line) throw new Error('the Lambda run did not report its marks');
    marks.push(JSON.parse(line) as { initMs: number; firstInvocationMs: number });
  }
  const bare = median(bareSamples);
  const cold = median(coldSamples);
  console.log(
    JSON.stringify({
      entryChunkKiB: +(bytes.length / 1024).toFixed(1),
      entryChunkGzipKiB: +(gzipSync(bytes).length / 1024).toFixed(1),
      allChunksKiB: +(
        Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0) / 1024
      ).toFixed(1),
      modelKiB: +((await stat('model/model.onnx')).size / 1024).toFixed(1),
      bareNodeMs: +bare.toFixed(1),
      processStartToFirstDecisionMs: +cold.toFixed(1),
      beyondBareNodeMs: +(cold - bare).toFixed(1),
      // In the process: the module's import (Lambda's init phase, which builds the runtime) and
      // the first invocation after it.
      initMs: +median(marks.map((m) => m.initMs)).toFixed(1),
      firstInvocationMs: +median(marks.map((m) => m.firstInvocationMs)).toFixed(1),
      runs,
    }),
  );
} finally {
  await dynalite.stop();
  await rm(dir, { recursive: true, force: true });
}
