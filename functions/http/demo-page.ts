import type { Context, Env, Hono } from 'hono';
import { DEMO_PAGE_HTML, DEMO_PAGE_SCRIPT, DEMO_PAGE_STYLE } from './demo-page-assets.js';

/**
 * GET / — a small, self-contained loan-application form for trying the API in a browser.
 *
 * The page is one HTML string with its style and script inline, and is served with its own strict
 * Content-Security-Policy that allows exactly those two inline blocks by SHA-256 hash (and fetches
 * to the same origin only). The hashes are computed from the strings themselves with WebCrypto,
 * which Node, Lambda and Workers all have, on the first request — so editing the page can never
 * leave a stale hash behind. A global CSP middleware added later must either skip this route or
 * reuse `demoPageContentSecurityPolicy()`.
 */

export const demoPageHtml = DEMO_PAGE_HTML;

let headers: Promise<Record<string, string>> | undefined;

/** The CSP the page is served with: `'sha256-…'` sources for its inline script and style. */
export async function demoPageContentSecurityPolicy(): Promise<string> {
  const [script, style] = await Promise.all([
    sha256Source(DEMO_PAGE_SCRIPT),
    sha256Source(DEMO_PAGE_STYLE),
  ]);
  return [
    "default-src 'none'",
    `script-src ${script}`,
    `style-src ${style}`,
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

async function pageHeaders(): Promise<Record<string, string>> {
  return {
    'content-security-policy': await demoPageContentSecurityPolicy(),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'public, max-age=300',
  };
}

export async function demoPageHandler(c: Context): Promise<Response> {
  headers ??= pageHeaders();
  return c.html(DEMO_PAGE_HTML, 200, await headers);
}

/**
 * Adds `GET /` to the app.
 *
 * @example
 * const app = new Hono();
 * registerDemoPage(app);
 */
export function registerDemoPage<E extends Env>(app: Hono<E>): void {
  app.get('/', demoPageHandler);
}

async function sha256Source(text: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)),
  );
  // btoa over a binary string: the one base64 encoder every runtime here has (no Buffer on Workers).
  return `'sha256-${btoa(String.fromCharCode(...digest))}'`;
}
