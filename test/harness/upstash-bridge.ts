/**
 * The Upstash REST protocol in front of a real Redis, so the Upstash store is tested against
 * real Redis semantics without the cloud. POST / (one command as a JSON array), POST /pipeline and
 * POST /multi-exec (arrays of commands), Bearer auth, `Upstash-Encoding: base64`, and
 * `{result}` / `{error}` bodies as Upstash answers them. `requests` counts HTTP requests received.
 * `fault` makes it answer 500 or garbage, for the fault tests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';

export interface UpstashBridgeHandle {
  readonly url: string;
  readonly token: string;
  /** HTTP requests received since start or the last reset. */
  requests: number;
  /** 'none' (default), 'http500' or 'garbage' (200 with a non-JSON body). */
  fault: 'none' | 'http500' | 'garbage';
  /**
   * Called with each request's commands before they run; the request waits for the promise it
   * returns (to hold one request while another arrives, say).
   */
  beforeRun?: (commands: string[][]) => Promise<void> | void;
  stop(): Promise<void>;
}

type Reply = { result: unknown } | { error: string };

export async function startUpstashBridge(options: {
  redisUrl: string;
  token: string;
}): Promise<UpstashBridgeHandle> {
  const redis = createClient({ url: options.redisUrl, RESP: 2 });
  redis.on('error', () => {}); // the tests kill Redis on purpose; commands then answer {error}
  await redis.connect();

  const run = async (command: unknown, base64: boolean): Promise<Reply> => {
    if (!Array.isArray(command) || command.length === 0)
      return { error: 'ERR command must be a non-empty array' };
    try {
      const result = await redis.sendCommand(command.map(String));
      return { result: base64 ? encode(result) : result };
    } catch (error) {
      return { error: (error as Error).message };
    }
  };

  const runTransaction = async (commands: unknown[][], base64: boolean): Promise<Reply[]> => {
    const multi = redis.multi();
    for (const command of commands) multi.sendCommand(command.map(String));
    let replies: unknown[];
    try {
      replies = await multi.exec();
    } catch (error) {
      const partial = (error as { replies?: unknown[] }).replies;
      if (!partial) return commands.map(() => ({ error: (error as Error).message }));
      replies = partial;
    }
    return replies.map((r) =>
      r instanceof Error ? { error: r.message } : { result: base64 ? encode(r) : r },
    );
  };

  const handle: UpstashBridgeHandle = {
    url: '',
    token: options.token,
    requests: 0,
    fault: 'none',
    stop: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      redis.destroy();
    },
  };

  const server = http.createServer(async (req, res) => {
    handle.requests++;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${options.token}`)
      return send(401, { error: 'Unauthorized' });
    if (handle.fault === 'http500') return send(500, { error: 'Internal Server Error' });
    if (handle.fault === 'garbage') return void res.writeHead(200).end('<html>oops</html>');
    let body: unknown;
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(400, { error: 'ERR failed to parse command' });
    }
    const base64 = req.headers['upstash-encoding'] === 'base64';
    const path = (req.url ?? '/').split('?')[0];
    if (handle.beforeRun && Array.isArray(body)) {
      const commands = path === '/' ? [body] : body;
      await handle.beforeRun(commands.map((c) => (Array.isArray(c) ? c.map(String) : [])));
    }
    if (path === '/') {
      const reply = await run(body, base64);
      return send('error' in reply ? 400 : 200, reply);
    }
    if (path === '/pipeline' || path === '/multi-exec') {
      if (!Array.isArray(body) || !body.every((c) => Array.isArray(c) && c.length > 0)) {
        return send(400, { error: 'ERR body must be an array of commands' });
      }
      if (path === '/pipeline') {
        // Issued together, so node-redis writes them to Redis as one pipeline.
        return send(200, await Promise.all(body.map((command) => run(command, base64))));
      }
      return send(200, await runTransaction(body as unknown[][], base64));
    }
    return send(404, { error: `ERR unknown path ${path}` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  (handle as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return handle;
}

/** Upstash base64-encodes string results (not the "OK" status), recursively in arrays. */
function encode(value: unknown): unknown {
  if (typeof value === 'string')
    return value === 'OK' ? value : Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(encode);
  return value;
}
