import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../features/online/embedded.js';
import { applicationFor, creditRecord, zipcodeRecord } from './fixtures/applicant.js';
import { appUnderTest, expectedDecision } from './support/app-under-test.js';

/**
 * GET / — the demo form — served by the real app over the embedded store, driven end to end in
 * headless Debian Chromium: the prefilled example application gets the API's decision, a bad
 * value gets its field error, an unknown applicant gets the 422 message.
 */

const CHROMIUM = '/usr/bin/chromium';
// The form is prefilled with this (the API's documented example request).
const EXAMPLE_DOB_SSN = '19630621_4278';
const records = [zipcodeRecord(), creditRecord(EXAMPLE_DOB_SSN)];

let app: Awaited<ReturnType<typeof appUnderTest>>['app'];
let logs: string[];

beforeAll(async () => {
  const store = new EmbeddedStore();
  await store.write(records);
  ({ app, logs } = await appUnderTest(store));
});

afterAll(() => {
  expect(logs.join('\n')).not.toContain(EXAMPLE_DOB_SSN);
});

describe('GET /', () => {
  it('serves one self-contained page whose CSP allows exactly its inline script and style', async () => {
    const response = await app.request('/');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html; charset=utf-8/i);
    const html = await response.text();
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i); // no external assets

    const csp = response.headers.get('content-security-policy') ?? '';
    const sha256 = (text: string) =>
      `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? '';
    expect(script.length).toBeGreaterThan(100);
    expect(csp).toContain(`script-src ${sha256(script)}`);
    expect(csp).toContain(`style-src ${sha256(style)}`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
  });

  it('labels every control and groups the form into fieldsets with legends', async () => {
    const html = await (await app.request('/')).text();
    const controls = [...html.matchAll(/<(input|select)\s[^>]*id="([^"]+)"/g)].map((m) => m[2]);
    expect(controls).toHaveLength(9);
    for (const id of controls) expect(html).toContain(`<label for="${id}">`);
    expect(html.match(/<fieldset>\s*<legend>/g)).toHaveLength(2);
    expect(html).toMatch(/<section id="result"[^>]*aria-live="polite"/);
    expect(html).toContain('<html lang="en">');
  });
});

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(
    `demo page browser tests skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`,
  );
}

describe.skipIf(!haveChromium)('the demo page in headless Chromium', () => {
  let server: ServerType;
  let baseUrl: string;
  let userDataDir: string;
  let context: import('playwright-core').BrowserContext;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    server = await new Promise<ServerType>((resolve) => {
      const started = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () =>
        resolve(started),
      );
    });
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    userDataDir = await mkdtemp(path.join(tmpdir(), 'demo-page-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
      viewport: { width: 900, height: 1000 },
    });
    context.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) cspViolations.push(message.text());
    });
  });

  afterAll(async () => {
    await context?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  async function openForm() {
    const page = await context.newPage();
    await page.goto(`${baseUrl}/`);
    return page;
  }

  it('submits the prefilled example with the keyboard and shows the API’s decision and reasons', async () => {
    const page = await openForm();
    const sent: unknown[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/loan-decision')) sent.push(request.postDataJSON());
    });
    await page.getByLabel('Interest rate').focus();
    await page.keyboard.press('Enter'); // implicit submission: no mouse needed

    const result = page.locator('#result');
    await result.locator('h2').waitFor();
    expect(sent).toEqual([applicationFor(EXAMPLE_DOB_SSN)]);

    // The same JSON straight to the API gives the same answer the page shows.
    const api = await (
      await fetch(`${baseUrl}/loan-decision`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(sent[0]),
      })
    ).json();
    const expected = await expectedDecision(applicationFor(EXAMPLE_DOB_SSN), records);
    expect(api.decision).toBe(expected.decision);

    const heading = await result.locator('h2').textContent();
    expect(heading).toBe(api.decision === 'approved' ? 'Approved' : 'Rejected');
    expect(await result.getAttribute('class')).toContain(api.decision);
    expect(Number(await page.locator('#probability').getAttribute('value'))).toBe(
      api.probability_of_default,
    );
    const reasons = await result.locator('ol > li').allTextContents();
    expect(reasons).toHaveLength(api.reasons.length);
    api.reasons.forEach((reason: { condition: string }, i: number) =>
      expect(reasons[i]).toContain(reason.condition),
    );
    expect(await result.textContent()).not.toContain(EXAMPLE_DOB_SSN);
    expect(cspViolations).toEqual([]);

    await page.screenshot({ path: '/tmp/demo.png', fullPage: true });
    await page.close();
  });

  it('shows the API’s field error next to a bad field, then clears it once fixed', async () => {
    const page = await openForm();
    const age = page.getByLabel('Age');
    await age.fill('200');
    await page.getByRole('button', { name: 'Get decision' }).click();

    const error = page.locator('#err-person_age');
    await error.waitFor({ state: 'visible' });
    expect(await error.textContent()).toBe('must be at most 150');
    expect(await age.getAttribute('aria-invalid')).toBe('true');
    expect(await age.evaluate((element) => element === document.activeElement)).toBe(true);
    expect(await page.locator('#result h2').textContent()).toBe('Please check the form');
    await page.screenshot({ path: '/tmp/demo-field-error.png', fullPage: true });

    await age.fill('45');
    await page.getByRole('button', { name: 'Get decision' }).click();
    await page.locator('#probability').waitFor();
    expect(await error.isHidden()).toBe(true);
    expect(await age.getAttribute('aria-invalid')).toBeNull();
    await page.close();
  });

  it('explains a 422 for an applicant the feature store does not know', async () => {
    const page = await openForm();
    await page.getByLabel('Date of birth and SSN').fill('19700101_0001');
    await page.getByRole('button', { name: 'Get decision' }).click();
    const heading = page.locator('#result h2', { hasText: 'No decision for this applicant' });
    await heading.waitFor();
    expect(await page.locator('#result').textContent()).toMatch(/credit_history not found/);
    await page.close();
  });
});
