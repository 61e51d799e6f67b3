/**
 * The API's error classes. One `app.onError` maps them to HTTP: a client mistake is a 4xx JSON
 * body naming the field; a dependency failure is a 503 with Retry-After; anything else is a bug
 * (500). Messages never contain entity key values (dob_ssn is PII).
 */

export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

export class ApiError extends Error {
  override readonly name: string = 'ApiError';
  constructor(
    readonly status: 400 | 401 | 404 | 413 | 415 | 422 | 429 | 503,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class RequestValidationError extends ApiError {
  override readonly name = 'RequestValidationError';
  constructor(readonly fields: readonly FieldProblem[]) {
    super(
      400,
      'invalid_request',
      `invalid request: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`,
    );
  }
}

export interface MissingView {
  readonly view: string;
  readonly status: 'not_found' | 'stale';
}

/**
 * The applicant's features are missing or older than the view's TTL. 422 (not 404): the
 * resource, /loan-decision, exists; this application cannot be processed as submitted.
 */
export class UnknownApplicantError extends ApiError {
  override readonly name = 'UnknownApplicantError';
  constructor(readonly views: readonly MissingView[]) {
    super(
      422,
      'features_unavailable',
      `no usable features for this applicant: ${views
        .map((v) => `${v.view} ${v.status === 'stale' ? 'is older than its TTL' : 'not found'}`)
        .join('; ')}`,
    );
  }
}
