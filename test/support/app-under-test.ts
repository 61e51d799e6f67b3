import { readFile } from 'node:fs/promises';
import { featureViews } from '../../features/definitions.js';
import type { FeatureRecord, OnlineStore } from '../../features/online/types.js';
import { loadModel } from '../../model/model.js';
import { createApp, type AppDeps } from '../../functions/app.js';
import type { ScoringModel } from '../../functions/decision.js';
import { createLogger } from '../../functions/logger.js';
import { DEFAULT_MODEL_PATH } from '../../functions/node-runtime.js';

/** The committed model, loaded once per test file. */
let model: Promise<ScoringModel> | undefined;
export function committedModel(): Promise<ScoringModel> {
  model ??= readFile(DEFAULT_MODEL_PATH).then((bytes) => loadModel(new Uint8Array(bytes)));
  return model;
}

/** An app over a real store with every log line captured (the PII scan reads them). */
export async function appUnderTest(
  store: OnlineStore,
  overrides: Partial<AppDeps> & { threshold?: number } = {},
) {
  const logs: string[] = [];
  const app = createApp({
    decision: {
      store,
      model: await committedModel(),
      views: featureViews,
      policy: { threshold: overrides.threshold },
    },
    logger: createLogger('debug', (line) => logs.push(line)),
    storeName: store.name,
    // Generous on this shared 2-core test machine; the production defaults are 4 + 5 ms.
    requestDeadlineMs: 2_000,
    ...overrides,
  });
  return { app, logs };
}

export function postDecision(
  app: { request: (input: string, init: RequestInit) => Response | Promise<Response> },
  body: unknown,
  headers: Record<string, string> = {},
) {
  return app.request('/loan-decision', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** What the model says for this application and these feature rows, computed independently. */
export async function expectedDecision(
  application: Record<string, unknown>,
  records: readonly FeatureRecord[],
  threshold?: number,
) {
  const raw = Object.assign({}, application, ...records.map((r) => r.values));
  const { prediction } = (await committedModel()).predict(raw);
  const p = prediction.probabilities[1];
  const rejected = threshold === undefined ? prediction.label === 1 : p >= threshold;
  return { decision: rejected ? 'rejected' : 'approved', probability: p };
}
