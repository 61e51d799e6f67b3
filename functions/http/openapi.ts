import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import {
  ErrorSchema,
  HealthSchema,
  LoanApplicationColumnsSchema,
  LoanApplicationSchema,
  LoanDecisionSchema,
} from './schemas.js';

const json = <T>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

/**
 * Documents the routes from the same zod schemas that validate them and serves the document at
 * GET /openapi.json. Validation itself happens in the handlers so that 415/413/400 keep the
 * API's error shape.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function registerOpenApi(app: OpenAPIHono<any>) {
  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'post',
      path: '/loan-decision',
      summary: 'Decide one loan application',
      request: {
        body: {
          required: true,
          content: {
            'application/json': {
              schema: LoanApplicationSchema.or(LoanApplicationColumnsSchema),
            },
          },
        },
      },
      responses: {
        200: json(LoanDecisionSchema, 'The decision, its probability and reasons'),
        400: json(ErrorSchema, 'Invalid request: each bad field is named'),
        413: json(ErrorSchema, 'Body too large'),
        415: json(ErrorSchema, 'Content-Type is not application/json'),
        422: json(ErrorSchema, 'No usable features for this applicant (names the feature views)'),
        503: json(ErrorSchema, 'Feature stores unavailable; see Retry-After'),
      },
    }),
  );
  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'get',
      path: '/health',
      summary: 'Liveness: the model is loaded and the store configured',
      responses: { 200: json(HealthSchema, 'Healthy') },
    }),
  );
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Loan decision API',
      version: '1.0.0',
      description: 'Real-time loan decisions from a decision tree over online features.',
    },
  });
}
