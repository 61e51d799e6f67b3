import * as z from 'zod/mini';
import type { RemoteScore } from './remote-scoring.js';

/**
 * The wire formats between this API and a SageMaker endpoint, for ONE encoded row (the same
 * float32 vector the in-process tree reads: feature_names order, categories as ordinal codes,
 * an unseen category as -1, a missing value as NaN).
 *
 * Requests
 * - `text/csv`: one line, no header, the values joined by commas, a missing value (NaN) as an
 *   EMPTY field — what SageMaker's built-in XGBoost and scikit-learn containers read as missing.
 *   Each value is the float32 written as the double it equals (`16.020000457763672`), so the
 *   container parses back exactly the float32 the in-process tree compared.
 * - `application/json`: `{"instances": [[v0, v1, …]]}` (the SageMaker / TF-Serving convention),
 *   a missing value as `null` (JSON has no NaN).
 *
 * Responses (Accept is the same content type)
 * - CSV: `p` (P(default), like XGBoost `binary:logistic`) or `label,p`; one line, optionally
 *   newline-terminated. Without a label, label = p > 0.5 — the ONNX graph's argmax, ties to 0.
 * - JSON: `{"predictions": [{"score" | "probability": p, "predicted_label" | "label"?: 0|1}]}`
 *   (Linear Learner's shape) or `{"probabilities": [[p0, p1]]}` (scikit-learn predict_proba).
 * Anything else — more than one row, p outside [0, 1], a label not 0/1 — is a bad response.
 */

export type SageMakerContentType = 'text/csv' | 'application/json';

export class UnreadableScoreError extends Error {
  override readonly name = 'UnreadableScoreError';
}

export function encodeScoringRequest(
  vector: Float32Array,
  contentType: SageMakerContentType,
): string {
  const values = Array.from(vector, (v) => (Number.isNaN(v) ? null : v));
  if (contentType === 'application/json') return JSON.stringify({ instances: [values] });
  return values.map((v) => (v === null ? '' : String(v))).join(',');
}

/** Inverse of encodeScoringRequest (NaN for a missing value); the test endpoint reads with it. */
export function decodeScoringRequest(body: string, contentType: SageMakerContentType): number[] {
  if (contentType === 'application/json') {
    const parsed = JSON.parse(body) as { instances: (number | null)[][] };
    return parsed.instances[0].map((v) => (v === null ? NaN : v));
  }
  return body
    .trim()
    .split(',')
    .map((field) => (field === '' ? NaN : Number(field)));
}

const probability = z.number().check(z.gte(0), z.lte(1));
const label = z.union([z.literal(0), z.literal(1)]);

const PredictionsResponse = z.object({
  predictions: z.tuple([
    z.union([
      z.object({
        score: probability,
        predicted_label: z.optional(label),
        label: z.optional(label),
      }),
      z.object({
        probability,
        predicted_label: z.optional(label),
        label: z.optional(label),
      }),
    ]),
  ]),
});

const ProbabilitiesResponse = z.object({
  probabilities: z.tuple([z.tuple([probability, probability])]),
});

const JsonResponse = z.union([PredictionsResponse, ProbabilitiesResponse]);

export function parseScoringResponse(body: string, contentType: SageMakerContentType): RemoteScore {
  return contentType === 'application/json' ? parseJson(body) : parseCsv(body);
}

function parseJson(body: string): RemoteScore {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new UnreadableScoreError(`response is not JSON: ${preview(body)}`);
  }
  const result = JsonResponse.safeParse(json);
  if (!result.success) {
    throw new UnreadableScoreError(
      `JSON response is neither {"predictions":[{"score"|"probability":p}]} nor {"probabilities":[[p0,p1]]}: ${preview(body)}`,
    );
  }
  if ('probabilities' in result.data) {
    const [p0, p1] = result.data.probabilities[0];
    return withLabel(p1, p1 > p0 ? 1 : 0);
  }
  const [prediction] = result.data.predictions;
  const p = 'score' in prediction ? prediction.score : prediction.probability;
  return withLabel(p, prediction.predicted_label ?? prediction.label);
}

function parseCsv(body: string): RemoteScore {
  const lines = body.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines.length !== 1) {
    throw new UnreadableScoreError(`CSV response has ${lines.length} lines; expected 1`);
  }
  const fields = lines[0].split(',').map((field) => field.trim());
  const numbers = fields.map((field) => (field === '' ? NaN : Number(field)));
  if (fields.length === 1 && isProbability(numbers[0])) return withLabel(numbers[0]);
  if (fields.length === 2 && (numbers[0] === 0 || numbers[0] === 1) && isProbability(numbers[1])) {
    return withLabel(numbers[1], numbers[0]);
  }
  throw new UnreadableScoreError(`CSV response is neither "p" nor "label,p": ${preview(body)}`);
}

function withLabel(p: number, label?: 0 | 1): RemoteScore {
  return { probabilityOfDefault: p, label: label ?? (p > 0.5 ? 1 : 0) };
}

function isProbability(value: number): boolean {
  return value >= 0 && value <= 1;
}

function preview(body: string): string {
  const text = body.length > 80 ? `${body.slice(0, 80)}…` : body;
  return JSON.stringify(text);
}
