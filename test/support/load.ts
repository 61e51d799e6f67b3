/**
 * Driving decisions at a running server, shared by the fault tests, the benchmarks and the soak:
 * a keep-alive client that records what each answer says (status, store, latency), a bounded
 * closed-loop load runner, latency percentiles, a TCP proxy that can make Redis hang, and the
 * server process's resident memory.
 */
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentiles; NaN everywhere for no samples. */
export function percentiles(samples: ArrayLike<number>): Percentiles {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  const at = (q: number) => (n === 0 ? NaN : sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]);
  return {
    count: n,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: n === 0 ? NaN : sorted[n - 1],
  };
}

export interface DecisionReply {
  /** HTTP status; 0 when the request itself failed (connection refused, reset, client timeout). */
  readonly status: number;
  /** Wall time of the request on the client, ms. */
  readonly ms: number;
  /** `features.served_by` of a 200, else null. */
  readonly servedBy: string | null;
  /** `features.fallback_reason` of a 200, else null. */
  readonly fallbackReason: string | null;
  readonly retryAfter: string | null;
  /** The server's own `total` from its Server-Timing header, ms; null when absent. */
  readonly serverMs: number | null;
  readonly body: string;
  readonly error?: string;
}

export interface DecisionClient {
  decide(application: unknown): Promise<DecisionReply>;
  close(): void;
}

/**
 * POSTs /loan-decision over at most `connections` keep-alive sockets. node:http rather than
 * fetch: undici's fetch costs ~3× more client CPU per request, which on a 2-core machine is
 * taken from the server being measured. A request that takes longer than `timeoutMs` is an error
 * (status 0), so a hung server shows up as failures, never as a hung caller.
 */
export function createDecisionClient(
  baseUrl: string,
  options: { connections?: number; timeoutMs?: number; apiKey?: string } = {},
): DecisionClient {
  const auth: Record<string, string> = options.apiKey
    ? { authorization: `Bearer ${options.apiKey}` }
    : {};
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections ?? 1 });
  const url = new URL('/loan-decision', baseUrl);
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    decide(application) {
      const body = typeof application === 'string' ? application : JSON.stringify(application);
      const started = performance.now();
      return new Promise<DecisionReply>((resolve) => {
        const fail = (error: Error) => resolve(failedReply(performance.now() - started, error));
        const request = http.request(
          url,
          {
            method: 'POST',
            agent,
            headers: {
              ...auth,
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
            },
          },
          (response) => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (text += chunk));
            response.on('error', fail);
            response.on('end', () => {
              const status = response.statusCode ?? 0;
              const features = status === 200 ? parseFeatures(text) : undefined;
              resolve({
                status,
                ms: performance.now() - started,
                servedBy: features?.served_by ?? null,
                fallbackReason: features?.fallback_reason ?? null,
                retryAfter: (response.headers['retry-after'] as string | undefined) ?? null,
                serverMs: serverTotal(response.headers['server-timing']),
                body: text,
              });
            });
          },
        );
        request.setTimeout(timeoutMs, () =>
          request.destroy(new Error(`no answer within ${timeoutMs} ms`)),
        );
        request.on('error', fail);
        request.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

/** The reply of a request that got no answer (refused, reset, timed out). */
export function failedReply(ms: number, error: Error): DecisionReply {
  return {
    status: 0,
    ms,
    servedBy: null,
    fallbackReason: null,
    retryAfter: null,
    serverMs: null,
    body: '',
    error: error.message,
  };
}

function serverTotal(header: string | string[] | undefined): number | null {
  const match = /total;dur=([\d.]+)/.exec(String(header ?? ''));
  return match ? Number(match[1]) : null;
}

function parseFeatures(text: string) {
  try {
    return (JSON.parse(text) as { features?: { served_by?: string; fallback_reason?: string } })
      .features;
  } catch {
    return undefined;
  }
}

export interface LoadOptions {
  readonly concurrency: number;
  /** Stop after this many requests (required: every load is bounded). */
  readonly requests: number;
  /** Also stop after this long. */
  readonly maxDurationMs?: number;
  /** Pace the load at this many requests per second in total (open-loop-like); default: flat out. */
  readonly ratePerSecond?: number;
  /** Stop early once this returns true (checked before each request). */
  readonly until?: () => boolean;
  /** Called with each reply as it arrives, in completion order. */
  readonly onReply?: (reply: DecisionReply, index: number) => void;
  /**
   * Keep the replies to return them (default); 'without-bodies' keeps them minus their bodies;
   * long runs pass false and use onReply.
   */
  readonly collect?: boolean | 'without-bodies';
}

/**
 * The reply without its body: what a benchmark keeps of thousands of replies. Their bodies, kept
 * for a whole run, grew the client's old generation into major GCs of 8–20 ms that stalled it,
 * and each stall was measured as the server's latency.
 */
export function withoutBody(reply: DecisionReply): DecisionReply {
  return { ...reply, body: '' };
}

/**
 * `concurrency` workers, each sending its next request as soon as the previous one answers, or,
 * with `ratePerSecond`, at its scheduled time (a slot missed while waiting is sent at once, so a
 * slow server sees the backlog as a real client population would send it). Returns every reply
 * in completion order (none with `collect: false`).
 */
export async function runLoad(
  client: DecisionClient,
  applications: readonly unknown[],
  options: LoadOptions,
): Promise<DecisionReply[]> {
  const replies: DecisionReply[] = [];
  const stopAt = performance.now() + (options.maxDurationMs ?? Number.POSITIVE_INFINITY);
  const started = performance.now();
  const interval = options.ratePerSecond ? 1_000 / options.ratePerSecond : 0;
  const collect = options.collect ?? true;
  let issued = 0;
  let completed = 0;
  const worker = async () => {
    while (issued < options.requests && performance.now() < stopAt && !options.until?.()) {
      const index = issued++;
      const wait = started + index * interval - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      const reply = await client.decide(applications[index % applications.length]);
      if (collect) replies.push(collect === 'without-bodies' ? withoutBody(reply) : reply);
      options.onReply?.(reply, completed++);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return replies;
}

/**
 * How many replies of each status, store and fallback reason:
 * `{ "200 redis": 190, "200 dynamodb (circuit_open)": 8, "503": 2 }`.
 */
export function tally(replies: readonly DecisionReply[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const reply of replies) {
    let key = String(reply.status);
    if (reply.servedBy) key += ` ${reply.servedBy}`;
    if (reply.fallbackReason) key += ` (${reply.fallbackReason})`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

export type ProxyMode = 'pass' | 'hang';

export interface TcpProxyHandle {
  /** redis://127.0.0.1:PORT (the proxy speaks whatever the target speaks). */
  readonly url: string;
  readonly port: number;
  /**
   * 'pass' forwards both ways; 'hang' keeps every connection open and accepts new ones but
   * delivers nothing either way, like a frozen Redis or a network partition. Bytes are held
   * (TCP flow control), not dropped, so switching back to 'pass' delivers them in order, as a
   * resumed process would.
   */
  mode: ProxyMode;
  /** In 'pass' mode, hold every chunk from the target this long before the client gets it. */
  replyDelayMs: number;
  /** Called with each chunk from a client before it is forwarded (e.g. to stall this process). */
  onClientData: ((chunk: Buffer) => void) | undefined;
  stop(): Promise<void>;
}

/**
 * A TCP proxy in front of a port. Hand-written (40 lines) because the point is the fault switch,
 * which no proxy library offers without its own control plane (toxiproxy is a Go service).
 */
export async function startTcpProxy(
  targetPort: number,
  mode: ProxyMode = 'pass',
): Promise<TcpProxyHandle> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let current = mode;
  let replyDelayMs = 0;
  let onClientData: ((chunk: Buffer) => void) | undefined;
  const apply = () => {
    for (const [client, upstream] of pairs) {
      if (current === 'hang') {
        client.pause();
        upstream.pause();
      } else {
        client.resume();
        upstream.resume();
      }
    }
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    // Nagle off both ways, as the Redis client's own socket has it: with it on, the proxy held
    // small replies back and added ~1.7 ms to the median read (p50 2.4 ms against 0.6 direct).
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    client.on('data', (chunk: Buffer) => onClientData?.(chunk));
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (replyDelayMs > 0) setTimeout(() => client.write(chunk), replyDelayMs);
      else client.write(chunk);
    });
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    if (current === 'hang') {
      client.pause();
      upstream.pause();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get mode() {
      return current;
    },
    set mode(next: ProxyMode) {
      current = next;
      apply();
    },
    get replyDelayMs() {
      return replyDelayMs;
    },
    set replyDelayMs(ms: number) {
      replyDelayMs = ms;
    },
    get onClientData() {
      return onClientData;
    },
    set onClientData(hook: ((chunk: Buffer) => void) | undefined) {
      onClientData = hook;
    },
    async stop() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The machine's CPU time so far, in clock ticks summed over every CPU (Linux /proc/stat): all of
 * it, and the part "stolen" — time a virtual CPU was runnable but its host ran something else,
 * during which every process on it, stores included, stood still. Undefined where unavailable.
 */
export function cpuTicks(): { total: number; steal: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    // cpu user nice system idle iowait irq softirq steal guest guest_nice
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
    return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] };
  } catch {
    return undefined;
  }
}

/**
 * CPU time a process has spent running so far, µs, summed over its threads (Linux
 * /proc/PID/task/TID/schedstat: the scheduler's own nanosecond count of time on a CPU). Exact,
 * where /proc/PID/stat's utime and stime are sampled at the clock tick: a server that runs in
 * bursts of a few hundred µs between idle spells is charged whole ticks or none. Threads that
 * ended before the call are not counted. Undefined where unavailable.
 */
export function processCpuMicros(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ', 1)[0]);
      } catch {
        // The thread ended between the listing and the read.
      }
    }
    return Number.isFinite(ns) && ns > 0 ? ns / 1_000 : undefined;
  } catch {
    return undefined;
  }
}

/** Resident set size of a process in KiB (Linux /proc), or undefined where unavailable. */
export function residentKib(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return Number.isFinite(kib) && kib > 0 ? kib : undefined;
  } catch {
    return undefined;
  }
}
