import * as z from 'zod/mini';
import { LoanApplicationSchema, documentationSchemas } from './schemas.js';

/**
 * GET /openapi.json, generated from the zod schemas that validate the requests (zod's own
 * JSON Schema output: OpenAPI 3.1 schemas are JSON Schema 2020-12). Built on first request, not
 * at start, so it costs the cold start nothing.
 */

const schema = (s: z.ZodMiniType, io: 'input' | 'output' = 'output') => {
  const { $schema: _drop, ...json } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return json;
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonBody = (description: string, name: string) => ({
  description,
  content: { 'application/json': { schema: ref(name) } },
});

export function buildOpenApiDocument() {
  const documented = documentationSchemas();
  const errors = {
    400: jsonBody('Invalid request: each bad field is named', 'Error'),
    413: jsonBody('Body larger than the limit', 'Error'),
    415: jsonBody('Content-Type is not application/json', 'Error'),
    422: jsonBody('No usable features for this applicant: names the feature views', 'Error'),
    503: jsonBody('Feature stores unavailable; retry after the Retry-After header', 'Error'),
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Loan decision API',
      version: '1.0.0',
      description:
        'Real-time loan decisions: features from Redis (DynamoDB fallback), a decision tree in-process.',
    },
    paths: {
      '/loan-decision': {
        post: {
          summary: 'Decide one loan application',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { oneOf: [ref('LoanApplication'), ref('LoanApplicationColumns')] },
              },
            },
          },
          responses: {
            200: jsonBody('The decision, its probability and reasons', 'LoanDecision'),
            ...errors,
          },
        },
      },
      '/health': {
        get: {
          summary: 'Liveness: the model is loaded and a store configured',
          responses: { 200: jsonBody('Healthy', 'Health') },
        },
      },
    },
    components: {
      schemas: {
        LoanApplication: schema(LoanApplicationSchema, 'input'),
        LoanApplicationColumns: schema(documented.LoanApplicationColumns, 'input'),
        LoanDecision: schema(documented.LoanDecision),
        Error: schema(documented.Error),
        Health: schema(documented.Health),
      },
    },
  };
}
