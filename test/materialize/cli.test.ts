/**
 * `npm run materialize` as a user runs it: a child process, stores from the environment, the JSON
 * summary as the last stdout line, exit codes.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { creditHistory } from '../../features/definitions.js';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { DAY, creditRows, tempDir, writeViewParquet } from './fixtures.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const realData = path.resolve(repoRoot, '../shared/data/feast-credit-scoring');
const run = promisify(execFile);

let redis: RedisServerHandle;

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

async function materialize(args: string[], env: Record<string, string>) {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(REDIS_|UPSTASH_|DYNAMODB_|MATERIALIZE_)/.test(k),
    ),
  );
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'scripts/materialize.ts'), ...args],
      { cwd: repoRoot, env: { ...clean, ...env }, timeout: 60_000 },
    );
    return { code: 0, stdout, stderr, summary: JSON.parse(stdout.trim().split('\n').at(-1)!) };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return {
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
      summary: JSON.parse(e.stdout.trim().split('\n').at(-1)!),
    };
  }
}

describe('scripts/materialize.ts', () => {
  it('with no store configured it says so and exits non-zero', async () => {
    const result = await materialize(['--source', '/nonexistent'], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no online store configured: set REDIS_URL/);
    expect(result.summary.ok).toBe(false);
  });

  it('rejects an --end that is not a time', async () => {
    const result = await materialize(['--source', '/x', '--end', 'yesterday'], {
      REDIS_URL: redis.url,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--end "yesterday" is not an ISO time');
  });

  it('runs a window, prints the summary last, keeps the watermark in Redis and exits 1 on bad input', async () => {
    const dir = await tempDir();
    const end = Date.parse('2026-06-01T00:00:00Z');
    await writeViewParquet(
      path.join(dir, 'credit_history.parquet'),
      creditHistory,
      creditRows(30, end - DAY),
    );
    const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'cli:' };
    const args = [
      '--source',
      dir,
      '--views',
      'credit_history',
      '--end',
      '2026-06-01T00:00:00Z',
      '--parallel',
      '2',
    ];
    const ok = await materialize(args, env);
    expect(ok.code).toBe(0);
    expect(ok.summary).toMatchObject({
      ok: true,
      watermarkStore: 'redis',
      rowsScanned: 30,
      watermarkMoved: true,
      stores: { redis: { written: 30 } },
    });
    expect(ok.stdout).not.toContain('\u001b['); // no progress bar without a terminal

    const client = createClient({ url: redis.url });
    await client.connect();
    expect(await client.hGet('cli:_materialization:watermarks', 'credit_history')).toBe(
      String(end),
    );
    expect(await client.hGet('cli:dob_ssn:19800101_0007', 'credit_history:credit_card_due')).toBe(
      '70',
    );
    await client.close();

    const bad = await materialize(['--source', dir, '--end', '2026-06-02T00:00:00Z'], env);
    expect(bad.code).toBe(1);
    expect(bad.summary).toMatchObject({
      ok: false,
      watermarkMoved: false,
      error: { name: 'SourceReadError' },
    });
    expect(bad.summary.error.message).toContain('zipcode_table.parquet');
  });

  it.skipIf(!existsSync(realData))(
    '--source ../shared/data/feast-credit-scoring works as is',
    async () => {
      const result = await materialize(
        ['--source', '../shared/data/feast-credit-scoring', '--end', '2026-11-22T00:00:00Z'],
        {
          REDIS_URL: redis.url,
          REDIS_KEY_PREFIX: 'real:',
        },
      );
      expect(result.code).toBe(0);
      expect(result.summary.rowsScanned).toBe(29_844);
      expect(result.summary.views.zipcode_features.window.start).toBe('2016-11-24T00:00:00.000Z');
    },
  );
});
