import * as z from 'zod/mini';

/**
 * The request and response schemas of the API. They validate requests and generate
 * /openapi.json (openapi.ts), so the documentation cannot drift from the behaviour.
 *
 * zod/mini, not classic zod: the same parser core, but tree-shakable — ~17 KiB minified instead
 * of ~450 KiB. That is most of the difference between a ~10 ms and a ~50 ms cold start, and it
 * keeps the Worker bundle small.
 */

const doc = <T extends z.ZodMiniType>(
  schema: T,
  meta: { description?: string; example?: unknown },
): T => {
  z.globalRegistry.add(schema, meta);
  return schema;
};

// `dob_ssn` is an identifier issued upstream, not a date we compute with. The format is checked
// strictly, but calendar-impossible dates (19860229, 19900230 occur in the real credit-history
// data) are accepted: rejecting them would make those applicants unscorable while their records
// exist. An unknown key is answered by the feature lookup (422), like any other unknown applicant.
const DOB_SSN_PATTERN = /^\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])_\d{4}$/;

const category = (description: string, example: string) =>
  doc(z.string().check(z.minLength(1), z.maxLength(64)), { description, example });

const boundedNumber = (min: number, max: number) =>
  z.number().check(z.gte(min, `must be at least ${min}`), z.lte(max, `must be at most ${max}`));

export const LoanApplicationSchema = doc(
  z.strictObject({
    zipcode: doc(
      z.union(
        [
          z.number().check(z.int('must be an integer'), z.gte(0), z.lte(99_999)),
          // ZIP codes with a leading zero ("07675") are often sent as strings.
          z.pipe(
            z.string().check(z.regex(/^\d{5}$/)),
            z.transform((zip: string) => Number(zip)),
          ),
        ],
        { error: 'must be an integer 0-99999 or a 5-digit string' },
      ),
      { description: 'US ZIP code (number, or 5-digit string)', example: 76104 },
    ),
    dob_ssn: doc(
      z
        .string()
        .check(
          z.regex(DOB_SSN_PATTERN, 'must be YYYYMMDD_NNNN (date of birth and last 4 SSN digits)'),
        ),
      {
        description: 'Date of birth and last 4 SSN digits. PII: never logged.',
        example: '19630621_4278',
      },
    ),
    person_age: doc(boundedNumber(0, 150).check(z.int('must be an integer')), {
      description: 'Age in years',
      example: 133,
    }),
    person_income: doc(boundedNumber(0, 1e10), { description: 'Yearly income', example: 59000 }),
    person_home_ownership: category(
      'RENT, OWN, MORTGAGE or OTHER (an unknown category still gets a decision, with a warning)',
      'RENT',
    ),
    person_emp_length: doc(z.optional(z.nullable(boundedNumber(0, 150))), {
      description: 'Employment length in years; null or absent when unknown',
      example: 123,
    }),
    loan_intent: category(
      'PERSONAL, EDUCATION, MEDICAL, VENTURE, HOMEIMPROVEMENT or DEBTCONSOLIDATION',
      'PERSONAL',
    ),
    loan_amnt: doc(
      z.number().check(z.gt(0, 'must be positive'), z.lte(1e9, 'must be at most 1000000000')),
      { description: 'Loan amount', example: 35000 },
    ),
    loan_int_rate: doc(z.optional(z.nullable(boundedNumber(0, 100))), {
      description: 'Interest rate in percent; null or absent when unknown',
      example: 16.02,
    }),
  }),
  {
    description:
      'One loan application. Unknown fields are rejected (typos must not pass silently).',
  },
);

export type LoanApplication = z.output<typeof LoanApplicationSchema>;

/**
 * The schemas that only document: the column form (parseLoanApplication unwraps it itself) and
 * every answer. Built on first call (GET /openapi.json), not at import: constructing them took
 * ~3.3 ms of every cold start (this module bundled alone, medians of 15 imports on the bench VM:
 * 9.4 ms with them, 6.1 ms without).
 */
export const documentationSchemas = once(() => {
  // The column form of the system this replaces: every value a one-element array.
  const LoanApplicationColumnsSchema = doc(
    z.record(z.string(), z.array(z.unknown()).check(z.length(1))),
    {
      description: 'Same fields as LoanApplication, each value wrapped in a one-element array',
      example: { zipcode: [76104], dob_ssn: ['19630621_4278'], loan_amnt: [35000] },
    },
  );

  const ReasonSchema = z.object({
    feature: z.string(),
    condition: doc(z.string(), { example: 'loan_int_rate > 15.5' }),
    value: z.union([z.string(), z.number(), z.null()]),
  });

  const ViewStatusSchema = z.object({
    status: z.enum(['present', 'not_found', 'stale']),
    event_timestamp: z.nullable(z.string()),
  });

  const LoanDecisionSchema = z.object({
    request_id: z.string(),
    decision: z.enum(['approved', 'rejected']),
    probability_of_default: doc(z.number(), { example: 0.18 }),
    threshold: doc(z.number(), { description: 'Rejected when P(default) reaches this' }),
    model_version: z.string(),
    reasons: doc(z.array(ReasonSchema), {
      description: "The decision path's conditions, root to leaf, with the applicant's values",
    }),
    warnings: doc(z.array(z.string()), { description: 'e.g. a category the model never saw' }),
    scoring: doc(
      z.object({
        scored_by: z.enum(['in-process', 'sagemaker']),
        fallback_reason: z.nullable(z.enum(['error', 'timeout', 'bad_response'])),
      }),
      { description: 'Who computed the probability (SageMaker only when configured as primary)' },
    ),
    features: z.object({
      served_by: doc(z.string(), { example: 'redis' }),
      fallback_reason: z.nullable(z.enum(['miss', 'error', 'timeout', 'circuit_open'])),
      views: z.record(z.string(), ViewStatusSchema),
    }),
  });

  const ErrorSchema = z.object({
    request_id: z.optional(z.string()),
    error: z.object({
      code: doc(z.string(), { example: 'invalid_request' }),
      message: z.string(),
      fields: doc(z.optional(z.array(z.object({ field: z.string(), message: z.string() }))), {
        description: 'Each bad field, for 400',
      }),
      feature_views: doc(
        z.optional(z.array(z.object({ view: z.string(), status: z.enum(['not_found', 'stale']) }))),
        { description: 'Missing or stale feature views, for 422' },
      ),
    }),
  });

  const HealthSchema = z.object({
    status: z.literal('ok'),
    model_version: z.string(),
    store: z.string(),
    circuit_breaker: doc(z.optional(z.enum(['closed', 'open', 'half_open'])), {
      description: 'State of the Redis circuit breaker when DynamoDB stands behind Redis',
    }),
  });

  return {
    LoanApplicationColumns: LoanApplicationColumnsSchema,
    LoanDecision: LoanDecisionSchema,
    Error: ErrorSchema,
    Health: HealthSchema,
  };
});

export type LoanDecision = z.output<ReturnType<typeof documentationSchemas>['LoanDecision']>;

function once<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => (built ??= { value: build() }).value;
}
