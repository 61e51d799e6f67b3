/**
 * `npm run bench [-- --only sequential,throughput --quick --no-pin --out BENCHMARKS.md
 *   --guest-halt-poll-ns 200000]`
 *
 * Runs the benchmarks and writes BENCHMARKS.md: the machine, the date, every figure next to its
 * goal and the command that reproduces it. Sections: sequential, compute, cold-start (together:
 * `serving`), throughput, faults, materialize. `--quick` runs small counts to check the pipeline;
 * its figures are marked as such.
 *
 * The sequential rows run twice: with the client, its stores and the server pinned to CPU 0, and
 * with nothing pinned (bench-serving.ts, Placement); the throughput server is pinned to CPU 0 and
 * its load generator to CPU 1. `--no-pin` pins nothing: sequential runs unpinned only.
 *
 * `--guest-halt-poll-ns N` sets the KVM guest's halt polling (the haltpoll cpuidle driver's
 * guest_halt_poll_ns: how long an idle vCPU polls before it halts) for the run, and restores the
 * machine's value afterwards; root only. The report says which value was in force. On a VM with
 * it at 0 every wake-up of an idle vCPU is a halt exit to the host, which dominates sub-ms
 * round trips (see BENCHMARKS.md).
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchFault, type FaultResult } from './bench-faults.js';
import {
  GUEST_HALT_POLL_NS,
  collectMachineInfo,
  readGuestHaltPollNs,
  renderReport,
  type BenchResults,
} from './bench-report.js';
import {
  bundleServer,
  canPin,
  pinThisProcess,
  repoRoot,
  type ServerBundle,
} from './bench-server.js';
import {
  benchColdStart,
  benchCompute,
  benchHttpFloor,
  benchSequential,
  type Placement,
  type SequentialResult,
  type SequentialRun,
} from './bench-serving.js';
import type { StoreSetup } from './bench-stores.js';
import { benchThroughput } from './bench-throughput.js';
import { cpuTicks } from '../test/support/load.js';

const SECTIONS = [
  'sequential',
  'compute',
  'cold-start',
  'throughput',
  'faults',
  'materialize',
] as const;
type Section = (typeof SECTIONS)[number];
const ALIASES: Record<string, Section[]> = { serving: ['sequential', 'compute', 'cold-start'] };

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(repoRoot, 'BENCHMARKS.md') },
    'guest-halt-poll-ns': { type: 'string' },
  },
});

function selectedSections(only: string | undefined): Section[] {
  if (!only) return [...SECTIONS];
  return only.split(',').flatMap((name) => {
    const trimmed = name.trim();
    if (ALIASES[trimmed]) return ALIASES[trimmed];
    if ((SECTIONS as readonly string[]).includes(trimmed)) return [trimmed as Section];
    throw new Error(
      `--only: unknown section "${trimmed}"; use ${[...SECTIONS, ...Object.keys(ALIASES)].join(', ')}`,
    );
  });
}

const quick = args.quick!;
const sections = selectedSections(args.only);
const sizes = quick
  ? {
      sequential: { requests: 2_000, warmup: 300, warmupMs: 300, slowStoreRequests: 1_000 },
      computeIterations: 30_000,
      coldStartRuns: 5,
      throughput: { connections: [2, 8, 32], seconds: 3 },
      faults: { phaseSeconds: 3, ratePerSecond: 300 },
      materialize: ['--rows', '100000', '--dynamodb-rows', '5000'],
    }
  : {
      sequential: { requests: 20_000, warmup: 2_000, warmupMs: 3_000, slowStoreRequests: 5_000 },
      computeIterations: 200_000,
      coldStartRuns: 21,
      throughput: { connections: [1, 2, 4, 8, 16, 32, 64], seconds: 10 },
      faults: { phaseSeconds: 10, ratePerSecond: 500 },
      materialize: ['--rows', '1000000,10000000', '--dynamodb-rows', '100000'],
    };

// Sequential rows in both placements where taskset can pin (see Placement), else free only.
const placements: Placement[] = args['no-pin'] || !canPin() ? ['free'] : ['one-cpu', 'free'];
const say = (message: string) => console.error(`[bench] ${message}`);
const restoreHaltPoll = await setGuestHaltPoll(args['guest-halt-poll-ns']);
const results: BenchResults = { machine: await collectMachineInfo(), quick, sections };

// The host's steal per section: a section that ran while the host took the CPUs reads slower.
const marks: Array<{ section: string; ticks: ReturnType<typeof cpuTicks> }> = [];
const markSection = (section: string) => marks.push({ section, ticks: cpuTicks() });
const stealShare = (
  from: ReturnType<typeof cpuTicks>,
  to: ReturnType<typeof cpuTicks>,
): number | undefined =>
  from && to && to.total > from.total
    ? (100 * (to.steal - from.steal)) / (to.total - from.total)
    : undefined;

let bundle: ServerBundle | undefined;
const serverBundle = async () => (bundle ??= await bundleServer());

try {
  if (sections.includes('sequential')) {
    markSection('sequential');
    const server = await serverBundle();
    const runs: SequentialRun[] = [];
    for (const placement of placements) {
      // Pinned before the stores and the server start, so that they inherit the mask.
      const unpin = placement === 'one-cpu' ? pinThisProcess('0') : undefined;
      try {
        const rows: SequentialResult[] = [];
        for (const setup of ['redis', 'upstash', 'dynamodb', 'embedded'] satisfies StoreSetup[]) {
          say(`sequential HTTP decisions, ${setup}, ${placement}`);
          const slow = setup === 'upstash' || setup === 'dynamodb';
          rows.push(
            await benchSequential(server, setup, {
              ...sizes.sequential,
              requests: slow ? sizes.sequential.slowStoreRequests : sizes.sequential.requests,
              ...(setup === 'redis' ? { floor: { answerBytes: 1_200 } } : {}),
            }),
          );
        }
        say(`sequential HTTP floor (bare node:http server), ${placement}`);
        const floor = await benchHttpFloor({ ...sizes.sequential, answerBytes: 1_200 });
        runs.push({ placement, results: rows, floor });
      } finally {
        unpin?.();
      }
    }
    results.sequential = {
      serverBundleBytes: server.bytes,
      warmupMs: sizes.sequential.warmupMs,
      runs,
    };
  }
  if (sections.includes('compute')) {
    markSection('compute');
    say('in-process compute');
    results.compute = {
      iterations: sizes.computeIterations,
      ...(await benchCompute(sizes.computeIterations)),
    };
  }
  if (sections.includes('cold-start')) {
    markSection('cold-start');
    say('cold start');
    results.coldStart = await benchColdStart(sizes.coldStartRuns);
    say(
      `cold start of the Lambda bundle (scripts/bench-lambda-cold.ts --runs ${sizes.coldStartRuns})`,
    );
    results.lambdaColdStart = (
      await runJsonLinesScript('bench-lambda-cold.ts', ['--runs', String(sizes.coldStartRuns)])
    ).at(-1);
  }
  if (sections.includes('throughput')) {
    markSection('throughput');
    say('throughput (autocannon)');
    const throughput = await benchThroughput(await serverBundle(), {
      ...sizes.throughput,
      pin: !args['no-pin'],
    });
    results.throughput = { ...throughput, seconds: sizes.throughput.seconds };
  }
  if (sections.includes('faults')) {
    markSection('faults');
    const faults: FaultResult[] = [];
    for (const fault of ['redis-killed', 'redis-hung'] as const) {
      say(`fault phase: ${fault}`);
      faults.push(await benchFault(await serverBundle(), fault, sizes.faults));
    }
    results.faults = faults;
  }
  if (sections.includes('materialize')) {
    markSection('materialize');
    say(`materialization (scripts/bench-materialize.ts ${sizes.materialize.join(' ')})`);
    results.materialize = {
      args: sizes.materialize,
      runs: await runJsonLinesScript('bench-materialize.ts', sizes.materialize),
    };
  }
} finally {
  await bundle?.remove();
  await restoreHaltPoll();
}

markSection('end');
const bySection: Record<string, number> = {};
for (let i = 0; i + 1 < marks.length; i++) {
  const share = stealShare(marks[i].ticks, marks[i + 1].ticks);
  if (share !== undefined) bySection[marks[i].section] = share;
}
const overall = marks.length > 1 ? stealShare(marks[0].ticks, marks.at(-1)!.ticks) : undefined;
results.machine = {
  ...results.machine,
  loadAverageEnd: (await collectMachineInfo()).loadAverageStart,
  ...(overall === undefined ? {} : { stealPercent: { overall, bySection } }),
};
await writeFile(args.out!, renderReport(results));
say(`wrote ${path.relative(process.cwd(), args.out!) || args.out}`);

/** A bench script of scripts/ as its own process; the JSON lines it prints are its results. */
function runJsonLinesScript(
  script: string,
  extraArgs: string[],
): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'scripts', script), ...extraArgs],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${script} exited with ${code}`));
      const runs = out
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      resolve(runs);
    });
  });
}

/** Sets guest_halt_poll_ns for the run when asked; returns how to put the machine's value back. */
async function setGuestHaltPoll(value: string | undefined): Promise<() => Promise<void>> {
  if (value === undefined) return async () => {};
  if (!/^\d+$/.test(value)) throw new Error('--guest-halt-poll-ns: a number of nanoseconds');
  const before = await readGuestHaltPollNs();
  if (before === undefined) {
    throw new Error(`--guest-halt-poll-ns: this machine has no ${GUEST_HALT_POLL_NS}`);
  }
  await writeFile(GUEST_HALT_POLL_NS, value);
  say(`guest_halt_poll_ns ${before} → ${value} for this run`);
  return async () => {
    await writeFile(GUEST_HALT_POLL_NS, String(before));
    say(`guest_halt_poll_ns back to ${before}`);
  };
}
