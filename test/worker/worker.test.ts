/// <reference types="@cloudflare/vitest-pool-workers/types" />
import { SELF } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { applicationFor } from '../fixtures/applicant.js';
import { UNKNOWN_APPLICANT, WORKER_APPLICANT } from './applicants.js';

const post = (body: unknown, headers: Record<string, string> = {}) =>
  SELF.fetch('https://loans.example/loan-decision', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('the Worker inside workerd', () => {
  it('decides from Upstash features exactly as Node does', async () => {
    const response = await post(applicationFor(WORKER_APPLICANT));
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, any>;
    expect(body.decision).toBe(inject('expectedDecision'));
    expect(body.probability_of_default).toBe(inject('expectedProbability'));
    expect(body.features.served_by).toBe('upstash');
    expect(body.features.fallback_reason).toBeNull();
    expect(body.reasons.length).toBeGreaterThan(0);
    expect(response.headers.get('server-timing')).toMatch(/features;dur=.*model;dur=.*total;dur=/);
    expect(response.headers.get('x-request-id')).toBeTruthy();
  });

  it('answers an unknown applicant with 422 naming the feature view', async () => {
    const response = await post(applicationFor(UNKNOWN_APPLICANT));
    expect(response.status).toBe(422);
    const body = (await response.json()) as Record<string, any>;
    expect(body.error.feature_views).toEqual([{ view: 'credit_history', status: 'not_found' }]);
    expect(JSON.stringify(body)).not.toContain(UNKNOWN_APPLICANT);
  });

  it('rejects bad input with 400 naming the field, and wrong content types with 415', async () => {
    const bad = await post({ ...applicationFor(WORKER_APPLICANT), loan_amnt: 'lots' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.fields.map((f: any) => f.field)).toEqual([
      'loan_amnt',
    ]);
    const text = await post('zipcode=76104', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
  });

  it('serves health and the OpenAPI document', async () => {
    const health = await SELF.fetch('https://loans.example/health');
    expect(((await health.json()) as any).store).toBe('upstash+dynamodb');
    const doc = (await (await SELF.fetch('https://loans.example/openapi.json')).json()) as any;
    expect(Object.keys(doc.paths)).toContain('/loan-decision');
  });
});
