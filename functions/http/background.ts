import type { Context } from 'hono';

/**
 * Hands background work (a cache refill, a rate-limit sync) to the runtime: Workers'
 * executionCtx.waitUntil, else the adapter's hook (Lambda awaits it before returning), else it
 * simply runs on in a long-lived process. The work must never reject.
 */
export function runInBackground(
  c: Context,
  work: Promise<void>,
  fallback: ((work: Promise<void>) => void) | undefined,
): void {
  let ctx: { waitUntil(p: Promise<unknown>): void } | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    // Hono throws when the runtime passed no ExecutionContext (Node, Lambda).
  }
  if (ctx) ctx.waitUntil(work);
  else fallback?.(work);
}
