import { featureViews } from '../features/definitions.js';
import { UpstashStore } from '../features/online/upstash.js';
import { loadModel } from '../model/model.js';
import modelBytes from '../model/model.onnx';
import type { ExecutionContext } from 'hono';
import { createApp } from './app.js';
import { parseConfig } from './config.js';
import { createLogger } from './logger.js';

/**
 * Cloudflare Worker around the one app. Features come from Upstash Redis over REST (the only
 * store a Worker can reach without TCP); the model is bundled as a Data module.
 * Secrets: `wrangler secret put UPSTASH_REDIS_REST_URL` / `UPSTASH_REDIS_REST_TOKEN`.
 */

export interface WorkerEnv {
  readonly UPSTASH_REDIS_REST_URL?: string;
  readonly UPSTASH_REDIS_REST_TOKEN?: string;
  readonly [setting: string]: unknown;
}

type App = ReturnType<typeof createApp>;

// Built on the first request (env only exists inside handlers) and reused while the isolate lives.
let app: Promise<App> | undefined;

async function buildApp(env: WorkerEnv): Promise<App> {
  const config = parseConfig(env);
  if (!config.UPSTASH_REDIS_REST_URL || !config.UPSTASH_REDIS_REST_TOKEN) {
    throw new Error(
      'the Worker needs UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (wrangler secret put …)',
    );
  }
  const store = new UpstashStore({
    url: config.UPSTASH_REDIS_REST_URL,
    token: config.UPSTASH_REDIS_REST_TOKEN,
    keyPrefix: config.REDIS_KEY_PREFIX,
  });
  const model = await loadModel(new Uint8Array(modelBytes));
  return createApp({
    decision: { store, model, views: featureViews, policy: { threshold: config.DECISION_THRESHOLD } },
    logger: createLogger(config.LOG_LEVEL),
    storeName: store.name,
    maxBodyBytes: config.MAX_BODY_BYTES,
    retryAfterSeconds: config.RETRY_AFTER_SECONDS,
    requestDeadlineMs: config.REDIS_DEADLINE_MS + config.DYNAMODB_DEADLINE_MS,
  });
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    app ??= buildApp(env).catch((error: unknown) => {
      app = undefined;
      throw error;
    });
    return (await app).fetch(request, env, ctx);
  },
};
