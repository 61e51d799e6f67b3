/**
 * The Upstash REST calls of @upstash/redis over node:http(s) with a keep-alive agent: a
 * `Requester` for UpstashStore's `transport` option, what the Node and Lambda runtimes use.
 *
 * Why not the library's own HTTP client there: it calls the global fetch, which on Node is
 * undici, with a WHATWG Request, Headers, Response and body stream per call. Measured on the
 * bench VM (one small /pipeline POST at a time to a server in another process, 4,000 calls after a
 * warm-up, three rounds): fetch took 605–912 µs of CPU per call on Node 20 and 516–849 µs on
 * Node 22 (Lambda's runtime); node:http 194–324 and 178–346 µs. A decision from Upstash makes one
 * such call, and the rate limiter another. Workers keep fetch, which is the platform's own there;
 * this module is Node's (node:http), so the Worker never bundles it.
 *
 * It speaks what the library's HttpClient speaks for the calls the store makes: POST of a JSON
 * body to `<url>/<path>`, Bearer token, `Upstash-Encoding: base64` when asked (results decoded as
 * the library decodes them), an answer other than 2xx thrown as the library's UpstashError
 * (`<error>, command was: <body>`, which the store trims), a body that is not JSON as its
 * UpstashJSONParseError. No retries (the store's reads have a deadline and a fallback), no
 * read-your-writes token, no streaming.
 */
import http from 'node:http';
import https from 'node:https';
import { errors, type Requester, type UpstashRequest, type UpstashResponse } from '@upstash/redis';

export interface NodeHttpUpstashOptions {
  /** UPSTASH_REDIS_REST_URL */
  readonly url: string;
  /** UPSTASH_REDIS_REST_TOKEN */
  readonly token: string;
  /** 'base64' (the library's default) asks Upstash to base64-encode string results. */
  readonly responseEncoding?: false | 'base64';
  /** The signal of the call being issued, read when it starts (as the library's `signal`). */
  readonly signal?: () => AbortSignal | undefined;
  /** A call still unanswered after this is destroyed; default 1,000 ms. */
  readonly requestTimeoutMs?: number;
}

export class NodeHttpUpstashRequester implements Requester {
  readonly readYourWrites = false;
  readonly #url: URL;
  readonly #transport: typeof http | typeof https;
  readonly #agent: http.Agent;
  readonly #headers: Record<string, string>;
  readonly #base64: boolean;
  readonly #signal: (() => AbortSignal | undefined) | undefined;
  readonly #timeoutMs: number;

  constructor(options: NodeHttpUpstashOptions) {
    this.#url = new URL(options.url);
    if (this.#url.protocol !== 'http:' && this.#url.protocol !== 'https:') {
      throw new TypeError('the Upstash REST URL must be http: or https:');
    }
    this.#transport = this.#url.protocol === 'https:' ? https : http;
    this.#agent = new this.#transport.Agent({ keepAlive: true });
    this.#base64 = (options.responseEncoding ?? 'base64') === 'base64';
    this.#headers = {
      authorization: `Bearer ${options.token}`,
      'content-type': 'application/json',
      ...(this.#base64 ? { 'upstash-encoding': 'base64' } : {}),
    };
    this.#signal = options.signal;
    this.#timeoutMs = options.requestTimeoutMs ?? 1_000;
  }

  async request<TResult = unknown>(req: UpstashRequest): Promise<UpstashResponse<TResult>> {
    const signal = req.signal ?? this.#signal?.();
    signal?.throwIfAborted();
    const body = JSON.stringify(req.body);
    const path = [this.#url.pathname.replace(/\/$/, ''), ...(req.path ?? [])].join('/') || '/';
    const { status, text } = await this.#post(path, body, req.headers, signal);
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch (cause) {
      throw new errors.UpstashJSONParseError(text, { cause });
    }
    if (status < 200 || status > 299) {
      throw new errors.UpstashError(
        `${(answer as { error?: string })?.error}, command was: ${body}`,
      );
    }
    if (!this.#base64) return answer as UpstashResponse<TResult>;
    if (Array.isArray(answer)) {
      return answer.map(({ result, error }: UpstashResponse<unknown>) => ({
        result: decode(result),
        error,
      })) as UpstashResponse<TResult>;
    }
    const { result, error } = answer as UpstashResponse<unknown>;
    return { result: decode(result) as TResult, error };
  }

  /** Closes the kept-alive sockets. */
  destroy(): void {
    this.#agent.destroy();
  }

  #post(
    path: string,
    body: string,
    extraHeaders: Record<string, string> | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const request = this.#transport.request(
        {
          protocol: this.#url.protocol,
          hostname: this.#url.hostname,
          port: this.#url.port || undefined,
          path,
          method: 'POST',
          headers: { ...this.#headers, ...extraHeaders },
          agent: this.#agent,
          // An aborted call is destroyed, as fetch does: its socket is not reused half-read.
          signal,
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('error', reject);
          response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        },
      );
      request.setTimeout(this.#timeoutMs, () =>
        request.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)),
      );
      request.on('error', reject);
      request.end(body);
    });
  }
}

/**
 * Upstash's base64 results, decoded as @upstash/redis decodes them (its `decode` is not
 * exported): strings but "OK" from base64 UTF-8, arrays element by element (one level of
 * nesting), numbers as they are, any other object as null, anything else as undefined.
 */
function decode(raw: unknown): unknown {
  switch (typeof raw) {
    case 'undefined':
    case 'number':
      return raw;
    case 'string':
      return raw === 'OK' ? raw : base64Utf8(raw);
    case 'object':
      if (!Array.isArray(raw)) return null;
      return raw.map((v: unknown) =>
        typeof v === 'string' ? base64Utf8(v) : Array.isArray(v) ? v.map(decode) : v,
      );
    default:
      return undefined;
  }
}

/** Like the library's base64decode, which answers the input itself when it is not base64. */
function base64Utf8(b64: string): string {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1) return b64;
  return Buffer.from(b64, 'base64').toString('utf8');
}
