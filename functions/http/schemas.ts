import { z } from '@hono/zod-openapi';

/**
 * The request and response schemas of the API. They validate requests and generate
 * /openapi.json, so the documentation cannot drift from the behaviour.
 */

// `dob_ssn` is an identifier issued upstream, not a date we compute with. The format is checked
// strictly, but calendar-impossible dates (19860229, 19900230 occur in the real credit-history
// data) are accepted: rejecting them would make those applicants unscorable while their records
// exist. An unknown key is answered by the feature lookup (422), like any other unknown applicant.
const DOB_SSN_PATTERN = /^\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])_\d{4}$/;

const category = (description: string, example: string) =>
  z.string().min(1).max(64).openapi({ description, example });

export const LoanApplicationSchema = z
  .strictObject({
    zipcode: z
      .union([
        z.number().int().min(0).max(99_999),
        // ZIP codes with a leading zero ("07675") are often sent as strings.
        z
          .string()
          .regex(/^\d{5}$/, 'must be a 5-digit ZIP code')
          .transform(Number),
      ], { error: 'must be an integer 0-99999 or a 5-digit string' })
      .openapi({ description: 'US ZIP code (number, or 5-digit string)', example: 76104 }),
    dob_ssn: z
      .string()
      .regex(DOB_SSN_PATTERN, 'must be YYYYMMDD_NNNN (date of birth and last 4 SSN digits)')
      .openapi({ description: 'Date of birth and last 4 SSN digits. PII.', example: '19630621_4278' }),
    person_age: z
      .number()
      .int()
      .min(0)
      .max(150)
      .openapi({ description: 'Age in years', example: 133 }),
    person_income: z
      .number()
      .min(0)
      .max(1e10)
      .openapi({ description: 'Yearly income', example: 59000 }),
    person_home_ownership: category(
      'Home ownership: RENT, OWN, MORTGAGE or OTHER (an unknown category still gets a decision)',
      'RENT',
    ),
    person_emp_length: z
      .number()
      .min(0)
      .max(150)
      .nullable()
      .optional()
      .openapi({ description: 'Employment length in years; null or absent when unknown', example: 123 }),
    loan_intent: category(
      'PERSONAL, EDUCATION, MEDICAL, VENTURE, HOMEIMPROVEMENT or DEBTCONSOLIDATION',
      'PERSONAL',
    ),
    loan_amnt: z
      .number()
      .positive()
      .max(1e9)
      .openapi({ description: 'Loan amount', example: 35000 }),
    loan_int_rate: z
      .number()
      .min(0)
      .max(100)
      .nullable()
      .optional()
      .openapi({ description: 'Interest rate in percent; null or absent when unknown', example: 16.02 }),
  })
  .openapi('LoanApplication');

export type LoanApplication = z.output<typeof LoanApplicationSchema>;

/** The column form of the system this replaces: every value a one-element array. */
export const LoanApplicationColumnsSchema = z
  .record(z.string(), z.array(z.unknown()).length(1))
  .openapi('LoanApplicationColumns', {
    description: 'Same fields as LoanApplication, each value wrapped in a one-element array',
    example: { zipcode: [76104], dob_ssn: ['19630621_4278'], loan_amnt: [35000] },
  });

const ReasonSchema = z
  .object({
    feature: z.string(),
    condition: z.string().openapi({ example: 'loan_int_rate > 15.5' }),
    value: z.union([z.string(), z.number(), z.null()]),
  })
  .openapi('Reason');

const ViewStatusSchema = z.object({
  status: z.enum(['present', 'not_found', 'stale']),
  event_timestamp: z.string().nullable().openapi({ example: '2026-01-01T00:00:00.000Z' }),
});

export const LoanDecisionSchema = z
  .object({
    request_id: z.string(),
    decision: z.enum(['approved', 'rejected']),
    probability_of_default: z.number().openapi({ example: 0.18 }),
    threshold: z.number().openapi({ description: 'Rejected when P(default) reaches this' }),
    model_version: z.string(),
    reasons: z.array(ReasonSchema).openapi({ description: 'The decision path, root to leaf' }),
    warnings: z.array(z.string()).openapi({ description: 'e.g. a category the model never saw' }),
    features: z.object({
      served_by: z.string().openapi({ example: 'redis' }),
      fallback_reason: z.string().nullable(),
      views: z.record(z.string(), ViewStatusSchema),
    }),
  })
  .openapi('LoanDecision');

export type LoanDecision = z.infer<typeof LoanDecisionSchema>;

export const ErrorSchema = z
  .object({
    request_id: z.string().optional(),
    error: z.object({
      code: z.string().openapi({ example: 'invalid_request' }),
      message: z.string(),
      fields: z
        .array(z.object({ field: z.string(), message: z.string() }))
        .optional()
        .openapi({ description: 'Each bad field, for 400' }),
      feature_views: z
        .array(z.object({ view: z.string(), status: z.string() }))
        .optional()
        .openapi({ description: 'Missing or stale feature views, for 422' }),
    }),
  })
  .openapi('Error');

export const HealthSchema = z
  .object({
    status: z.literal('ok'),
    model_version: z.string(),
    store: z.string(),
  })
  .openapi('Health');
