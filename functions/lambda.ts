import type { Context } from 'aws-lambda';
import { getConnInfo, handle, type LambdaEvent } from 'hono/aws-lambda';
import { parseConfig } from './config.js';
import { linkedResourceEnv } from './linked-resources.js';
import { createNodeRuntime, type NodeRuntime } from './node-runtime.js';

/**
 * AWS Lambda (function URL / API Gateway v2 / v1 / ALB events) around the one app. Stores come
 * from the resources SST links (`Resource`, filled from SST_RESOURCE_* variables); explicit
 * environment variables of the same names override them, which is what local tests use.
 */

// Background work (a cache refill after a fallback) must finish before the invocation returns:
// Lambda freezes the sandbox afterwards. It only exists on the fallback path.
const pending = new Set<Promise<void>>();

type LambdaRuntime = NodeRuntime & { handle: ReturnType<typeof handle> };

let runtime: Promise<LambdaRuntime> | undefined;
function getRuntime(): Promise<LambdaRuntime> {
  runtime ??= createNodeRuntime(parseConfig({ ...linkedResourceEnv(), ...process.env }), {
    background: (work) => {
      pending.add(work);
      void work.finally(() => pending.delete(work));
    },
    clientIp: (c) => getConnInfo(c).remote.address,
  })
    .then((ready) => ({ ...ready, handle: handle(ready.app) }))
    .catch((error: unknown) => {
      runtime = undefined; // let the next invocation retry a failed start
      throw error;
    });
  return runtime;
}

// Built while Lambda initializes the sandbox, not in the first invocation (AWS's advice: set up
// outside the handler): with provisioned concurrency that happens before any request arrives.
// One GET /health through the app also loads Node's fetch implementation (undici, which
// hono/aws-lambda's Request needs: ~25 ms on the bench VM) and compiles the request path.
// A failed start is not fatal here; getRuntime has forgotten it and the first invocation retries,
// answering with the error if it fails again.
await getRuntime()
  .then(async ({ app }) => void (await (await app.request('/health')).arrayBuffer()))
  .catch((error: unknown) => {
    console.error(
      JSON.stringify({
        level: 'error',
        msg: 'start failed during init; the first invocation retries',
        error: error instanceof Error ? error.message : String(error),
      }),
    );
  });

export const handler = async (event: LambdaEvent, context: Context) => {
  const ready = await getRuntime();
  const response = await ready.handle(event, context);
  if (pending.size > 0) await Promise.all(pending);
  return response;
};
