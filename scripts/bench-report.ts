/**
 * BENCHMARKS.md from the bench results: the machine, then every figure beside its goal and the
 * command that reproduces it.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import type { Percentiles } from '../test/support/load.js';
import type { FaultResult } from './bench-faults.js';
import type { ColdStart, ComputeResult, Placement, SequentialRun } from './bench-serving.js';
import { P99_LIMIT_MS, type ThroughputResult } from './bench-throughput.js';

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly kernel: string;
  readonly date: string;
  readonly commit: string;
  readonly loadAverageStart: string;
  readonly loadAverageEnd?: string;
  /** The KVM guest's halt polling (haltpoll cpuidle driver), ns; undefined where there is none. */
  readonly guestHaltPollNs?: number;
  /** Share of CPU time the VM's host stole (/proc/stat), over the run and per section, %. */
  readonly stealPercent?: { overall: number; bySection: Record<string, number> };
}

export const GUEST_HALT_POLL_NS = '/sys/module/haltpoll/parameters/guest_halt_poll_ns';

export async function readGuestHaltPollNs(): Promise<number | undefined> {
  try {
    return Number((await readFile(GUEST_HALT_POLL_NS, 'utf8')).trim());
  } catch {
    return undefined;
  }
}

export interface BenchResults {
  machine: MachineInfo;
  readonly quick: boolean;
  readonly sections: readonly string[];
  sequential?: { serverBundleBytes: number; warmupMs: number; runs: SequentialRun[] };
  compute?: ComputeResult & { iterations: number };
  coldStart?: ColdStart;
  /** scripts/bench-lambda-cold.ts's JSON line (the Lambda bundle's cold start). */
  lambdaColdStart?: Record<string, unknown>;
  throughput?: ThroughputResult & { seconds: number };
  faults?: FaultResult[];
  materialize?: { args: string[]; runs: Record<string, unknown>[] };
}

export async function collectMachineInfo(): Promise<MachineInfo> {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpuModel =
      /model name\s*:\s*(.+)/.exec(await readFile('/proc/cpuinfo', 'utf8'))?.[1] ?? cpuModel;
  } catch {
    // not Linux: os.cpus() said what it could
  }
  let commit = 'unknown';
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8' }).trim() !== '';
    commit = dirty ? `${head} + uncommitted changes` : head;
  } catch {
    // not a git checkout
  }
  return {
    cpus: os.availableParallelism(),
    cpuModel,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    date: new Date().toISOString(),
    commit,
    loadAverageStart: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
    guestHaltPollNs: await readGuestHaltPollNs(),
  };
}

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(value < 10 ? 3 : 1) : '–');
const us = (value: number) => value.toFixed(2);
const int = (value: number) => Math.round(value).toLocaleString('en-US');
const verdict = (met: boolean) => (met ? 'met' : '**not met**');
/** The fault phase's requests that met Redis's fault themselves (bench-faults.ts, fellBack). */
const fellBackText = (f: { count: number; p50: number; max: number }) =>
  f.count === 0
    ? 'no request waited on the fault itself'
    : `${int(f.count)} requests met the fault themselves (Redis's error or 4 ms deadline, then DynamoDB): p50 ${ms(f.p50)}, max ${ms(f.max)} ms`;
const placementName = (placement: Placement) => (placement === 'one-cpu' ? 'one CPU' : 'free');
const outcomes = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([k, v]) => `${k}: ${int(v)}`)
    .join(', ');

export function renderReport(r: BenchResults): string {
  const m = r.machine;
  const cmd = (only: string) => `\`npm run bench -- --only ${only}${r.quick ? ' --quick' : ''}\``;
  const lines: string[] = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (scripts/bench.ts) on ${m.date}${r.quick ? ' in **--quick** mode (small counts: a check of the pipeline, not figures to quote)' : ''}.`,
    '',
    '| machine | |',
    '|---|---|',
    `| CPUs (nproc) | ${m.cpus} × ${m.cpuModel} |`,
    `| memory | ${m.memoryGiB} GiB |`,
    `| Node | ${m.node} |`,
    `| OS | ${m.kernel} |`,
    `| commit | ${m.commit} |`,
    `| load average (1/5/15 min) at start / end | ${m.loadAverageStart} / ${m.loadAverageEnd ?? '–'} |`,
    `| KVM guest halt polling (guest_halt_poll_ns) | ${m.guestHaltPollNs === undefined ? 'none (not a KVM guest with haltpoll)' : `${int(m.guestHaltPollNs)} ns${m.guestHaltPollNs === 0 ? ': off, an idle vCPU halts at once' : ''}`} |`,
    ...(m.stealPercent
      ? [
          `| CPU time stolen by the VM's host (whole run; per section) | ${m.stealPercent.overall.toFixed(2)} % (${Object.entries(
            m.stealPercent.bySection,
          )
            .map(([section, share]) => `${section} ${share.toFixed(2)} %`)
            .join(', ')}) |`,
        ]
      : []),
    '',
    'Client, server and stores all run on this machine and share its cores. A load average near or',
    'above the CPU count means other work competed with the benchmark and the figures are pessimistic.',
    'So does steal: time a virtual CPU was ready to run but its host ran something else, when every',
    'process on it, stores included, stood still (an idle minute of this VM: ~0.6 %).',
    '',
    `Sections run: ${r.sections.join(', ')}.`,
    '',
  ];

  if (r.sequential) {
    const runs = r.sequential.runs;
    lines.push(
      '## Sequential HTTP decisions',
      '',
      `${cmd('sequential')}`,
      '',
      'One request at a time over one keep-alive connection to the server in its',
      `own process: functions/node.ts's wiring bundled by esbuild (${int(r.sequential.serverBundleBytes / 1024)} KiB) and run by`,
      'plain `node` with `NODE_ENV=production` and `LOG_LEVEL=warn`, configured only by environment',
      'variables. Stores: redis-server and dynalite in processes of their own; the Upstash REST bridge',
      '(test/harness, in front of the same redis-server) in the client process. Latency in ms, measured',
      `by the client after a warm-up (at least ${r.sequential.warmupMs / 1000} s): what one applicant sees, HTTP included.`,
      '',
      ...(runs.length > 1
        ? [
            'Every row runs in two placements. **one CPU**: the client (every thread), its stores and',
            'the server pinned to CPU 0 (`taskset`), so each hop of the chain is a context switch on a',
            'CPU that is already running. **free**: nothing pinned, so most hops wake the other vCPU',
            ...(m.guestHaltPollNs === 0
              ? [
                  "from idle; with the guest's halt polling off (see the machine table) every such wake-up",
                  "is an exit to the hypervisor and back, several per request. That is the cost of this VM's",
                  'idle vCPUs, not of the server, and a client on another machine would not add its own.',
                ]
              : [
                  'from idle (see the machine table for how long an idle vCPU polls before it halts).',
                ]),
            '',
          ]
        : []),
      '| store | placement | requests | p50 | p90 | p99 | max | errors | handler p50 / p99 | server CPU µs/request | answers |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
      ...runs.flatMap((run) =>
        run.results.map(
          (s) =>
            `| ${s.setup}${
              Object.keys(s.settings).length
                ? ` (${Object.entries(s.settings)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(', ')})`
                : ''
            } | ${placementName(run.placement)} | ${int(s.count)} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.max)} | ${s.errors} | ${ms(s.server.p50)} / ${ms(s.server.p99)} | ${s.serverCpuMicros === undefined ? '–' : int(s.serverCpuMicros)} | ${outcomes(s.outcomes)} |`,
        ),
      ),
      '',
      '"handler" is the server\'s own Server-Timing `total` (store read + model, inside the handler): the',
      'rest of the client\'s figure is HTTP, the event loop and scheduling. "server CPU" is the time',
      "the server process spent on a CPU per request, all its threads (the kernel's own count,",
      '/proc/PID/task/*/schedstat), system calls included: the part of the latency that is work',
      'rather than waiting, and what the same requests cost under load is far less (see throughput).',
      '',
      "The client is test/support/lean-client.ts (a raw keep-alive socket): node:http's own client",
      "adds ~0.14 ms of the client's CPU to every round trip here, which is not the server's latency.",
      '',
      'The floors under the rows, in the same placement: the same client against a bare node:http',
      'server (its own process; it parses the body and answers 1.2 KB of JSON); and, measured in ten',
      "rounds that alternate with the redis row's own, the same bare server reading the applicant's",
      "two feature hashes from the row's redis-server first with node-redis (the client of the app's",
      'TCP store: RESP2, one pipelined round trip of one HMGET per view, the same keys and fields), with',
      'no framework, validation or model. ms:',
      '',
      '| placement | bare floor p50 / p90 / p99 | floor with Redis p50 / p90 / p99 | CPU µs/request, floor with Redis / app |',
      '|---|---:|---:|---:|',
      ...runs.map((run) => {
        const redis = run.results.find((s) => s.setup === 'redis');
        const triple = (p: Percentiles) => `${ms(p.p50)} / ${ms(p.p90)} / ${ms(p.p99)}`;
        return `| ${placementName(run.placement)} | ${triple(run.floor)} | ${redis?.floor ? triple(redis.floor) : '–'} | ${
          redis?.floorCpuMicros !== undefined && redis.serverCpuMicros !== undefined
            ? `${int(redis.floorCpuMicros)} / ${int(redis.serverCpuMicros)}`
            : '–'
        } |`;
      }),
      '',
      "dynalite is DynamoDB's API on LevelDB in JavaScript: a functional stand-in, slower than the real",
      "service, so the DynamoDB-only figure is dynalite's. Every server runs with the production",
      'settings: a store serving alone gives up on a read after FEATURE_READ_TIMEOUT_MS (100 ms).',
      'Errors are answers other than 200 (a 503 when a read runs past that).',
      '',
    );
    for (const run of runs) {
      const redis = run.results.find((s) => s.setup === 'redis');
      if (!redis) continue;
      lines.push(
        `Goal (issue 2), redis-server over TCP, ${placementName(run.placement)}: p50 ≤ 0.3 ms — ${ms(redis.p50)} ms, ${verdict(redis.p50 <= 0.3)}; p99 ≤ 1 ms — ${ms(redis.p99)} ms, ${verdict(redis.p99 <= 1)}.${
          redis.floor && (redis.floor.p50 > 0.3 || redis.floor.p99 > 1)
            ? ` The floor with a Redis round trip is itself p50 ${ms(redis.floor.p50)} / p99 ${ms(redis.floor.p99)} ms there: the goal is below what any server of this shape reaches in that placement.`
            : ''
        }`,
        '',
      );
    }
  }

  if (r.compute) {
    const c = r.compute;
    lines.push(
      '## In-process compute per decision',
      '',
      `${cmd('compute')}`,
      '',
      `JSON.parse of the body, validation (parseLoanApplication), merging the feature rows, encoding and`,
      `the compiled tree with its explanation (model.predict), JSON.stringify of the answer; no store, no`,
      `HTTP. ${int(c.iterations)} decisions after a warm-up, µs:`,
      '',
      '| run | p50 | p90 | p99 | max |',
      '|---|---:|---:|---:|---:|',
      `| back to back | ${us(c.p50)} | ${us(c.p90)} | ${us(c.p99)} | ${us(c.max)} |`,
      `| once after each 1 ms idle (${int(c.afterIdle.count)} runs) | ${us(c.afterIdle.p50)} | ${us(c.afterIdle.p90)} | ${us(c.afterIdle.p99)} | ${us(c.afterIdle.max)} |`,
      '',
      'The second row is the same code on a CPU that has just woken from idle, as in a sequential',
      'benchmark where the server sleeps between requests: on this VM it runs several times slower',
      '(cold caches and branch predictors), which is most of the gap between the handler figures',
      'above and this one. The goal is about the first row.',
      '',
      ...(c.interruptions
        ? [
            `The machine's own noise, measured right after the first row (a loop that only reads the clock`,
            `for ${int(c.interruptions.spanMs)} ms): ${c.interruptions.perMs.toFixed(2)} gaps longer than ${c.interruptions.thresholdUs} µs per ms, median ${us(c.interruptions.medianGapUs)} µs, p90 ${us(c.interruptions.p90GapUs)} µs.`,
            `A decision of ${us(c.p50)} µs meets one with probability ≈ ${((c.interruptions.perMs * c.p50) / 10).toFixed(2)} %, whatever its code does: when that is`,
            'near 1 %, the p99 above measures the machine more than the code.',
            '',
          ]
        : []),
      `Goal (issue 2): p99 ≤ 20 µs — ${verdict(c.p99 <= 20)}.`,
      '',
    );
  }

  if (r.coldStart) {
    const c = r.coldStart;
    lines.push(
      '## Cold start',
      '',
      `${cmd('cold-start')}`,
      '',
      'Fresh `node` processes, each reporting `performance.now()` (ms since the process began) at each',
      "step: a bare script's first statement (Node's own start); the same mark in the app's own",
      'process, from a one-line module preloaded with `--import`; the minified app bundle (esbuild)',
      "imported (built as SST builds the Lambda: with code splitting, so the rate limiter's",
      'libraries, imported on first need, are chunks apart; "bundle" is what a start loads);',
      'model/model.onnx loaded and the app built (ready); the first decision answered in process.',
      `Medians of ${c.runs} runs of each, interleaved.`,
      '',
      "| Node's own start (bare / preload) | imported | ready | first decision | import + model ready beyond Node's start | bundle |",
      '|---:|---:|---:|---:|---:|---:|',
      `| ${ms(c.nodeStartMs)} / ${ms(c.preloadMs)} ms | ${ms(c.importedMs)} ms | ${ms(c.readyMs)} ms | ${ms(c.firstDecisionMs)} ms | **${ms(c.extraMs)} ms** | ${int(c.bundleBytes / 1024)} KiB |`,
      '',
      `The figure is paired: the median of ready − preload mark, both read in the same process (${ms(c.pairedMs)} ms),`,
      `less what Node spends between that preload and a bare main module's first statement, which a`,
      `bare script's start includes (${ms(c.mainModuleMs)} ms: the median of that gap in the bare script run`,
      'with the same preload, interleaved with the others).',
      `The difference of the medians of different processes (ready − bare start) was ${ms(c.unpairedExtraMs)} ms;`,
      "it moves with every swing of Node's own start on this VM (three back-to-back runs of one",
      'commit gave 14.9, 27.5 and 30.5 ms that way, 25.6–26.7 ms paired before the bare-main',
      'correction), so it is not the verdict.',
      '',
      'The first decision after "ready" includes Node 20\'s lazy load of its fetch implementation',
      '(undici, on the first touch of the global `Request`: ~25 ms on this machine), which',
      '`app.request` and hono/aws-lambda need and @hono/node-server does not.',
      '',
    );
    const l = r.lambdaColdStart;
    if (l) {
      lines.push(
        `The deployed shape, \`npx tsx scripts/bench-lambda-cold.ts --runs ${String(l.runs)}\`: functions/lambda.ts`,
        'bundled as infra/api.ts has SST build it (minified ESM, code splitting), DynamoDB (dynalite) as',
        'its store, an API key required; a fresh `node` imports it and answers one function-URL',
        'event. Medians of process start to first decision answered, and of a bare `node -e 0`;',
        "inside the process, the module's import (Lambda's init phase: it builds the runtime and",
        'sends one GET /health through the app) and the first invocation after it:',
        '',
        '| entry chunk | all chunks | process start → first decision | bare `node -e 0` | beyond bare Node | init | first invocation |',
        '|---:|---:|---:|---:|---:|---:|---:|',
        `| ${String(l.entryChunkKiB)} KiB | ${String(l.allChunksKiB)} KiB | ${ms(Number(l.processStartToFirstDecisionMs))} ms | ${ms(Number(l.bareNodeMs))} ms | ${ms(Number(l.beyondBareNodeMs))} ms | ${ms(Number(l.initMs))} ms | ${ms(Number(l.firstInvocationMs))} ms |`,
        '',
        'With provisioned concurrency, Lambda runs the init before requests arrive: the first one',
        'then waits only for the last column.',
        '',
        'It adds to the figure above the DynamoDB store (its SigV4 signer), hono/aws-lambda with',
        "Node's fetch implementation, the warm-up read and the first read's connection.",
        '',
      );
    }
    lines.push(
      `Goal (issue 2): import + model ready ≤ 20 ms beyond Node's start — ${ms(c.extraMs)} ms, ${verdict(c.extraMs <= 20)}.`,
      '',
    );
  }

  if (r.throughput) {
    const t = r.throughput;
    lines.push(
      '## Throughput under load',
      '',
      `${cmd('throughput')}${t.pinned ? '' : ' (add `--no-pin` to run unpinned)'}`,
      '',
      `autocannon (closed loop, keep-alive, no HTTP pipelining) against the bundled server reading`,
      `redis-server over TCP, ${t.seconds} s per connection count, after a warm-up. ${t.pinned ? 'Server pinned to CPU 0 and the autocannon client to CPU 1 with `taskset`; redis-server floats.' : 'Nothing pinned: client, server and redis-server compete for the same cores.'}`,
      "Latencies are every 200's exact time (autocannon's own histogram keeps whole ms). Errors: non-200",
      'answers, connection errors and timeouts.',
      '',
      '| connections | decisions/s | p50 ms | p90 ms | p99 ms | max ms | errors |',
      '|---:|---:|---:|---:|---:|---:|---:|',
      ...t.steps.map(
        (s) =>
          `| ${s.connections} | ${int(s.decisionsPerSecond)} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.max)} | ${s.errors} |`,
      ),
      '',
      t.best
        ? `Highest with p99 ≤ ${P99_LIMIT_MS} ms and 0 errors: **${int(t.best.decisionsPerSecond)} decisions/s** at ${t.best.connections} connections. Goal (issue 6): ≥ 5,000/s — ${verdict(t.best.decisionsPerSecond >= 5_000)}.`
        : `No step had p99 ≤ ${P99_LIMIT_MS} ms with 0 errors. Goal (issue 6): ≥ 5,000/s — **not met**.`,
      '',
    );
    const reasons = t.steps.flatMap((step) =>
      Object.entries(step.unavailable ?? {}).map(
        ([reason, { count, examples }]) =>
          `| ${step.connections} | ${int(count)} | ${reason} | ${examples[0] ?? ''} |`,
      ),
    );
    if (reasons.length > 0) {
      lines.push(
        "Why each 503 happened, from the server's log (digits folded to #; other errors are the client's: connection errors and timeouts):",
        '',
        '| connections | 503s | reason | first as logged |',
        '|---:|---:|---|---|',
        ...reasons,
        '',
      );
    }
  }

  if (r.faults) {
    lines.push(
      '## Under faults',
      '',
      `${cmd('faults')}`,
      '',
      'The bundled server with the production settings (Redis deadline 4 ms, DynamoDB 5 ms, then',
      'hedged up to the 100 ms read timeout) in front of redis-server and dynalite, under a paced',
      'steady load; phases: healthy, fault, recovered (Redis',
      'back and re-seeded, the server not restarted). `redis-killed`: redis-server SIGKILLed mid-load',
      '(then restarted on the same port, empty, and re-seeded). `redis-hung`: a TCP proxy in front of',
      'redis-server stops delivering bytes both ways while keeping connections open (a frozen Redis or',
      'a partition), then resumes. Latency in ms at the client, HTTP included.',
      '',
      '| fault | rate | phase | requests | p50 | p99 | max | errors | answers |',
      '|---|---:|---|---:|---:|---:|---:|---:|---|',
    );
    for (const f of r.faults) {
      for (const p of f.phases) {
        lines.push(
          `| ${f.fault} | ${f.ratePerSecond}/s | ${p.phase} | ${int(p.requests)} | ${ms(p.p50)} | ${ms(p.p99)} | ${ms(p.max)} | ${p.errors} | ${outcomes(p.outcomes)} |`,
        );
      }
    }
    lines.push('');
    const healthyMissed = r.faults.some((f) => {
      const healthy = f.phases.find((p) => p.phase === 'healthy')!;
      return healthy.errors > 0 || healthy.p99 > 10;
    });
    if (healthyMissed) {
      lines.push(
        '**The healthy phase itself missed p99 ≤ 10 ms / 0 errors**: a machine this loaded (see the',
        'load average) or a dynalite slower than its 5 ms deadline makes healthy reads slow or fail,',
        'so the fault figures below say nothing about the fault handling. Rerun on a quiet machine.',
        '',
      );
    }
    for (const f of r.faults) {
      const during = f.phases.find((p) => p.phase === 'fault')!;
      const transitions =
        f.circuit.length > 8
          ? [...f.circuit.slice(0, 8), `… (${f.circuit.length} in all)`]
          : f.circuit;
      lines.push(
        `- **${f.fault}**: during the fault p99 ${ms(during.p99)} ms (goal ≤ 10 ms — ${verdict(during.p99 <= 10)}), max ${ms(during.max)} ms, ${during.errors} errors (goal 0 — ${verdict(during.errors === 0)}); ${fellBackText(during.fellBack)}; back on Redis ${f.recoveryMs === null ? '**never, within the phase**' : `${int(f.recoveryMs)} ms after it returned`}; circuit breaker (server log): ${transitions.join(', ') || 'no transition logged'}.`,
      );
    }
    const reasons = r.faults.flatMap((f) =>
      f.phases.flatMap((p) =>
        Object.entries(p.unavailable ?? {}).map(
          ([reason, { count, examples }]) =>
            `| ${f.fault} | ${p.phase} | ${int(count)} | ${reason} | ${examples[0] ?? ''} |`,
        ),
      ),
    );
    if (reasons.length > 0) {
      lines.push(
        '',
        "Why each 503 happened, from the server's log (digits folded to #):",
        '',
        '| fault | phase | 503s | reason | first as logged |',
        '|---|---|---:|---|---|',
        ...reasons,
      );
    }
    lines.push('');
  }

  if (r.materialize) {
    lines.push(
      '## Materialization',
      '',
      `\`npx tsx scripts/bench-materialize.ts ${r.materialize.args.join(' ')}\` (engineer H5's bench, called by \`npm run bench -- --only materialize${r.quick ? ' --quick' : ''}\`)`,
      '',
      'Generated credit_history Parquet files materialized into a fresh redis-server and into dynalite,',
      "each run in its own process; peak RSS is that process's VmHWM. CPU per row: the",
      "materializer's process (user + system) and redis-server's (INFO cpu), which share the",
      "machine's cores: on 2 cores, 100,000 rows/s needs the two under ~20 µs together, and",
      'redis-server, one thread, under ~10 µs alone.',
      '',
      '| store | rows | seconds | rows/s | peak RSS MB | heap limit MB | parallel | CPU µs/row: materializer / redis-server |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...r.materialize.runs.map((run) => {
        const server = (run.redisServer as { cpuMicrosPerRow?: number } | undefined)
          ?.cpuMicrosPerRow;
        const cpu = `${run.clientCpuMicrosPerRow ?? '–'} / ${server ?? '–'}`;
        return `| ${run.store} | ${int(Number(run.rows))} | ${run.seconds} | ${int(Number(run.rowsPerSecond))} | ${run.peakRssMb} | ${run.heapLimitMb ?? '–'} | ${run.parallel ?? '–'} | ${cpu} |`;
      }),
      '',
    );
    const redisRuns = r.materialize.runs.filter((run) => run.store === 'redis');
    if (redisRuns.length) {
      const slowest = Math.min(...redisRuns.map((run) => Number(run.rowsPerSecond)));
      const peak = Math.max(...redisRuns.map((run) => Number(run.peakRssMb)));
      lines.push(
        `Goal (issue 4): ≥ 100,000 rows/s into Redis — slowest run ${int(slowest)}/s, ${verdict(slowest >= 100_000)}; peak RSS ≤ 300 MB regardless of size — ${peak} MB, ${verdict(peak <= 300)}.`,
        '',
      );
    }
  }

  lines.push(
    '## Soak',
    '',
    '`npm run soak` (scripts/soak.ts; `--minutes 10` by default) is not part of `npm run bench`: it',
    'prints its own report (server RSS first / last / max, errors).',
    '',
  );
  return `${lines.join('\n')}\n`;
}
