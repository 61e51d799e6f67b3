import { Hono, type Context } from 'hono';
import { requestId, type RequestIdVariables } from 'hono/request-id';
import { InvalidEntityKeyError } from '../features/online/key-layout.js';
import { DEFAULT_READ_TIMEOUT_MS } from '../features/online/fallback.js';
import { StoreUnavailableError, type ViewResults } from '../features/online/types.js';
import {
  decideLoans,
  type ApplicationInput,
  type Decision,
  type DecisionDeps,
} from './decision.js';
import { ApiError, RequestValidationError, UnknownApplicantError } from './http/errors.js';
import { registerDemoPage } from './http/demo-page.js';
import { buildOpenApiDocument } from './http/openapi.js';
import { securityMiddleware, type SecurityOptions } from './http/security.js';
import { parseLoanApplication } from './http/parse-application.js';
import type { LoanDecision } from './http/schemas.js';
import type { Logger } from './logger.js';
import { runInBackground } from './http/background.js';
import {
  rateLimitAdmission,
  refusedByRateLimit,
  type RateLimitVariables,
} from './http/rate-limit.js';

/**
 * The one Hono app. Runtime adapters (node.ts, lambda.ts, worker.ts) only read their config
 * and pass dependencies in; nothing here reads the environment.
 */

export interface AppDeps {
  readonly decision: DecisionDeps;
  readonly logger: Logger;
  /** Largest accepted request body; larger bodies get 413. Default 16 KiB. */
  readonly maxBodyBytes?: number;
  /** Most applications in one POST /loan-decisions. Default 100. */
  readonly maxBatchSize?: number;
  /** Seconds a client should wait after a 503. Default 1. */
  readonly retryAfterSeconds?: number;
  /** Where background work goes when the runtime has no executionCtx (Node, Lambda). */
  readonly background?: (work: Promise<void>) => void;
  /**
   * When to give up on a request's feature read: past it the read is abandoned and the client
   * gets 503. Default 100 ms (createAppFromConfig: FEATURE_READ_TIMEOUT_MS). A store that bounds
   * its own reads (`boundsReadTime`: the FallbackStore) is left to its own deadlines.
   */
  readonly requestDeadlineMs?: number;
  /** API keys, CORS, secure headers, rate limiting (functions/http/security.ts). */
  readonly security?: Omit<SecurityOptions, 'logger' | 'background'>;
  /** What /health reports as the store. */
  readonly storeName: string;
}

type AppEnv = { Variables: RequestIdVariables & RateLimitVariables };

const DEFAULT_MAX_BODY_BYTES = 16 * 1024;
const DEFAULT_MAX_BATCH_SIZE = 100;

export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  const maxBodyBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const retryAfter = String(deps.retryAfterSeconds ?? 1);
  const requestDeadlineMs = deps.requestDeadlineMs ?? DEFAULT_READ_TIMEOUT_MS;
  const maxBatchSize = deps.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
  const modelVersion = deps.decision.model.artifact.version;

  // One throw-away prediction compiles the evaluator's hot path before the first applicant.
  deps.decision.model.predict({});

  app.use(requestId());
  if (deps.security) {
    app.use(
      ...securityMiddleware({ ...deps.security, logger: deps.logger, background: deps.background }),
    );
  }

  app.post('/loan-decision', async (c) => {
    const started = performance.now();
    const application = parseLoanApplication(await readJson(c, maxBodyBytes));
    const batch = await decideLoans(deps.decision, [application], {
      deadlineMs: requestDeadlineMs,
      admission: c.get('rateLimitAdmission'),
    });
    if (batch.pending) runInBackground(c, batch.pending, deps.background);
    if (batch.refused) return refusedByRateLimit(c);
    const item = batch.items[0];
    if (item instanceof UnknownApplicantError) throw item;

    const body = {
      request_id: c.get('requestId'),
      ...decisionBody(item),
      model_version: modelVersion,
      features: {
        served_by: batch.servedBy,
        fallback_reason: batch.fallbackReason,
        views: viewsBody(item.views),
      },
    } satisfies LoanDecision;
    const totalMs = performance.now() - started;
    c.header('Server-Timing', serverTiming(batch.timings, totalMs));
    deps.logger.info({
      msg: 'decision',
      request_id: body.request_id,
      decision: body.decision,
      served_by: batch.servedBy,
      fallback_reason: batch.fallbackReason,
      total_ms: Number(totalMs.toFixed(3)),
    });
    return c.json(body, 200);
  });

  // Many applications, every entity's features in one store round trip; an item's mistake is
  // that item's error, never the batch's.
  app.post('/loan-decisions', async (c) => {
    const started = performance.now();
    const body = await readJson(c, maxBodyBytes * maxBatchSize);
    const items = (body as { applications?: unknown } | null)?.applications;
    if (!Array.isArray(items) || items.length === 0 || items.length > maxBatchSize) {
      throw new RequestValidationError([
        {
          field: 'applications',
          message: `must be an array of 1 to ${maxBatchSize} applications`,
        },
      ]);
    }
    const parsed = items.map((item) => {
      try {
        return parseLoanApplication(item);
      } catch (error) {
        if (error instanceof ApiError) return error;
        throw error;
      }
    });
    const valid = parsed.filter((p): p is ApplicationInput => !(p instanceof ApiError));
    const batch = valid.length
      ? await decideLoans(deps.decision, valid, {
          deadlineMs: requestDeadlineMs,
          admission: c.get('rateLimitAdmission'),
        })
      : undefined;
    if (batch?.pending) runInBackground(c, batch.pending, deps.background);
    if (batch ? batch.refused : !(await rateLimitAdmission(c))) return refusedByRateLimit(c);

    let next = 0;
    const results = parsed.map((p, index) => {
      const outcome = p instanceof ApiError ? p : batch!.items[next++];
      if (outcome instanceof ApiError) {
        return { index, status: outcome.status, error: errorDetail(outcome) };
      }
      return { index, status: 200, ...decisionBody(outcome), views: viewsBody(outcome.views) };
    });
    const totalMs = performance.now() - started;
    if (batch) c.header('Server-Timing', serverTiming(batch.timings, totalMs));
    deps.logger.info({
      msg: 'decisions',
      request_id: c.get('requestId'),
      applications: items.length,
      served_by: batch?.servedBy ?? null,
      total_ms: Number(totalMs.toFixed(3)),
    });
    return c.json({
      request_id: c.get('requestId'),
      model_version: modelVersion,
      features: batch ? { served_by: batch.servedBy, fallback_reason: batch.fallbackReason } : null,
      results,
    });
  });

  // A fallback store exposes its Redis circuit breaker; visible here for operators.
  const { store } = deps.decision;
  const circuit = () =>
    'circuitState' in store ? { circuit_breaker: String(store.circuitState) } : {};
  app.get('/health', (c) =>
    c.json({
      status: 'ok' as const,
      model_version: deps.decision.model.artifact.version,
      store: deps.storeName,
      ...circuit(),
    }),
  );

  registerDemoPage(app);

  let openApiDocument: ReturnType<typeof buildOpenApiDocument> | undefined;
  app.get('/openapi.json', (c) => c.json((openApiDocument ??= buildOpenApiDocument())));

  app.notFound((c) =>
    c.json(
      {
        request_id: c.get('requestId'),
        error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` },
      },
      404,
    ),
  );

  app.onError(async (err, c) => {
    const request_id = c.get('requestId');
    const answer = expectedAnswer(err);
    if (!answer) deps.logger.error({ msg: 'unhandled error', request_id, error: err });
    // A refused request is answered by the rate limiter; the client's mistakes and the stores'
    // faults in it are not logged as its answer (a bug is, above).
    if (!(await rateLimitAdmission(c))) return refusedByRateLimit(c);
    if (!answer) {
      return c.json(
        { request_id, error: { code: 'internal_error', message: 'internal error' } },
        500,
      );
    }
    if (err instanceof StoreUnavailableError) {
      deps.logger.warn({ msg: 'feature stores unavailable', request_id, error: err.message });
    } else if (err instanceof ApiError) {
      deps.logger.info({
        msg: 'request rejected',
        request_id,
        status: answer.status,
        code: answer.code,
      });
    }
    if (answer.status >= 500) c.header('Retry-After', retryAfter);
    return c.json({ request_id, error: errorDetail(answer) }, answer.status);
  });

  return app;
}

async function readJson(c: Context, maxBytes: number): Promise<unknown> {
  const contentType = c.req.header('content-type') ?? '';
  // application/json, optionally with parameters (charset) or a +json suffix type.
  if (!/^application\/([\w.-]+\+)?json\s*(;|$)/i.test(contentType)) {
    throw new ApiError(
      415,
      'unsupported_media_type',
      `content-type must be application/json, got "${contentType.slice(0, 100) || 'none'}"`,
    );
  }
  const text = await readBodyText(c.req.raw, maxBytes);
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, 'malformed_json', 'request body is not valid JSON');
  }
}

/**
 * The body, refused past `maxBytes` without buffering more than that. Written here instead of
 * hono's bodyLimit: without a Content-Length it rebuilds the Request around a counting stream,
 * and on Node 20 every such rebuilt Request leaks ~1.8 KB (found by fuzzing).
 */
async function readBodyText(request: Request, maxBytes: number): Promise<string> {
  const tooLarge = () =>
    new ApiError(413, 'payload_too_large', `request body exceeds ${maxBytes} bytes`);
  const declared = request.headers.get('content-length');
  if (declared !== null) {
    if (Number(declared) > maxBytes) throw tooLarge();
    // The HTTP server enforces a declared length, so it can be read in one go (and on Node,
    // text() takes @hono/node-server's fast path; touching `body` would build a full Request).
    return request.text();
  }
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * The API's answer to an error it gives by design (a 4xx, or 503 when the stores are down);
 * undefined for a bug (500). One mapping for both of onError's paths (refused by the rate limiter
 * or not), so that an expected error cannot be logged as a bug in one of them.
 */
function expectedAnswer(err: Error): ApiError | undefined {
  if (err instanceof ApiError) return err;
  // The schema should have caught it; still a client mistake, and never echo the key.
  if (err instanceof InvalidEntityKeyError) {
    return new ApiError(400, 'invalid_request', 'invalid entity key');
  }
  if (err instanceof StoreUnavailableError) {
    return new ApiError(503, 'stores_unavailable', 'feature stores are unavailable; retry later');
  }
  return undefined;
}

function errorDetail(err: ApiError) {
  if (err instanceof RequestValidationError) {
    return { code: err.code, message: err.message, fields: err.fields };
  }
  if (err instanceof UnknownApplicantError) {
    return { code: err.code, message: err.message, feature_views: err.views };
  }
  return { code: err.code, message: err.message };
}

function decisionBody(decision: Decision) {
  return {
    decision: decision.decision,
    probability_of_default: decision.probabilityOfDefault,
    threshold: decision.threshold,
    reasons: [...decision.reasons],
    warnings: [...decision.warnings],
    scoring: { scored_by: decision.scoredBy, fallback_reason: decision.remoteFallbackReason },
  };
}

function viewsBody(views: ViewResults): LoanDecision['features']['views'] {
  const body: LoanDecision['features']['views'] = {};
  for (const [name, result] of Object.entries(views)) {
    body[name] = {
      status: result.status,
      event_timestamp:
        result.eventTimestamp === null ? null : new Date(result.eventTimestamp).toISOString(),
    };
  }
  return body;
}

function serverTiming(timings: { featuresMs: number; modelMs: number }, totalMs: number): string {
  return `features;dur=${timings.featuresMs.toFixed(3)}, model;dur=${timings.modelMs.toFixed(3)}, total;dur=${totalMs.toFixed(3)}`;
}
