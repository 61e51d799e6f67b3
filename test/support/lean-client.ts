/**
 * A one-connection HTTP/1.1 client for sequential latency benchmarks: it writes one prebuilt
 * request per decision on a raw keep-alive socket and reads the answer by its Content-Length.
 *
 * Written here instead of using node:http or undici because a sequential benchmark charges the
 * client's own CPU to every figure: on the 2-vCPU benchmark VM a round trip to a bare
 * `node:http` server measured p50 0.29 ms with node:http's client, 0.25 ms with undici's Client
 * and 0.15 ms with this one — load generators such as wrk are lean for the same reason. It only
 * speaks what the server under test answers (Content-Length bodies, no chunking, no
 * pipelining); anything else is an error, never a guess.
 */
import net from 'node:net';
import { failedReply, type DecisionClient, type DecisionReply } from './load.js';

const HEADER_END = Buffer.from('\r\n\r\n');

export function createLeanDecisionClient(
  baseUrl: string,
  options: { apiKey?: string; timeoutMs?: number } = {},
): DecisionClient {
  const url = new URL('/loan-decision', baseUrl);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const head =
    `POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\n` +
    (options.apiKey ? `authorization: Bearer ${options.apiKey}\r\n` : '') +
    'content-type: application/json\r\n';
  let socket: net.Socket | undefined;
  let buffered: Buffer = Buffer.alloc(0);
  let waiting: ((answer: Buffer | Error) => void) | undefined;

  const settle = (answer: Buffer | Error) => {
    const done = waiting;
    waiting = undefined;
    done?.(answer);
  };
  const connect = () => {
    const s = net.connect(Number(url.port), url.hostname);
    s.setNoDelay(true);
    s.on('data', (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      const end = buffered.indexOf(HEADER_END);
      if (end < 0) return;
      const length = /\r\ncontent-length: *(\d+)/i.exec(buffered.toString('latin1', 0, end));
      if (!length) {
        s.destroy(new Error('answer without Content-Length'));
        return;
      }
      const total = end + 4 + Number(length[1]);
      if (buffered.length < total) return;
      const answer = buffered.subarray(0, total);
      buffered = buffered.subarray(total);
      settle(answer);
    });
    s.on('error', (error) => settle(error));
    s.on('close', () => {
      if (socket === s) socket = undefined;
      buffered = Buffer.alloc(0);
      settle(new Error('connection closed'));
    });
    return s;
  };

  return {
    async decide(application) {
      if (waiting) throw new Error('the lean client sends one request at a time');
      const body = typeof application === 'string' ? application : JSON.stringify(application);
      const request = `${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      const started = performance.now();
      socket ??= connect();
      const current = socket;
      const timer = setTimeout(
        () => current.destroy(new Error(`no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const answer = await new Promise<Buffer | Error>((resolve) => {
        waiting = resolve;
        current.write(request);
      });
      clearTimeout(timer);
      const ms = performance.now() - started;
      if (answer instanceof Error) return failedReply(ms, answer);
      return parseAnswer(answer, ms);
    },
    close() {
      socket?.destroy();
    },
  };
}

function parseAnswer(answer: Buffer, ms: number): DecisionReply {
  const end = answer.indexOf(HEADER_END);
  const head = answer.toString('latin1', 0, end);
  const body = answer.toString('utf8', end + 4);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  const header = (name: string) =>
    new RegExp(`\\r\\n${name}: *([^\\r]*)`, 'i').exec(head)?.[1] ?? null;
  let features: { served_by?: string; fallback_reason?: string } | undefined;
  if (status === 200) {
    try {
      features = (JSON.parse(body) as { features?: typeof features }).features;
    } catch {
      features = undefined;
    }
  }
  const total = /total;dur=([\d.]+)/.exec(header('server-timing') ?? '');
  return {
    status,
    ms,
    servedBy: features?.served_by ?? null,
    fallbackReason: features?.fallback_reason ?? null,
    retryAfter: header('retry-after'),
    serverMs: total ? Number(total[1]) : null,
    body,
  };
}

/**
 * `connections` lean clients behind one DecisionClient: a request takes an idle connection or
 * waits for one, so concurrent load (runLoad's workers) costs the client as little CPU as it can.
 */
export function createLeanClientPool(
  baseUrl: string,
  options: { connections: number; apiKey?: string; timeoutMs?: number },
): DecisionClient {
  const idle = Array.from({ length: options.connections }, () =>
    createLeanDecisionClient(baseUrl, options),
  );
  const all = [...idle];
  const waiting: Array<(client: DecisionClient) => void> = [];
  return {
    async decide(application) {
      const client =
        idle.pop() ?? (await new Promise<DecisionClient>((resolve) => waiting.push(resolve)));
      try {
        return await client.decide(application);
      } finally {
        const next = waiting.shift();
        if (next) next(client);
        else idle.push(client);
      }
    },
    close() {
      for (const client of all) client.close();
    },
  };
}
