import type * as z from 'zod/mini';
import type { ApplicationInput } from '../decision.js';
import { RequestValidationError, type FieldProblem } from './errors.js';
import { LoanApplicationSchema } from './schemas.js';

/**
 * Validates one application in either form the API accepts: a plain object, or the column form
 * of the system this replaces, where every value is a one-element array.
 */
export function parseLoanApplication(body: unknown): ApplicationInput {
  const row = unwrapColumnForm(body);
  const result = LoanApplicationSchema.safeParse(row);
  if (!result.success) throw new RequestValidationError(fieldProblems(result.error, row));
  return result.data;
}

function unwrapColumnForm(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const entries = Object.entries(body);
  if (entries.length === 0 || !entries.every(([, value]) => Array.isArray(value))) return body;
  const problems: FieldProblem[] = [];
  // No prototype: a `__proto__` column must stay an (unknown) field, not become the prototype
  // that every other field is then read through (found by fuzzing).
  const row: Record<string, unknown> = Object.create(null);
  for (const [field, value] of entries as [string, unknown[]][]) {
    if (value.length !== 1) {
      problems.push({
        field,
        message: `column form needs exactly one value per field, got ${value.length}`,
      });
    }
    row[field] = value[0];
  }
  if (problems.length > 0) throw new RequestValidationError(problems);
  return row;
}

/** One problem per bad field; messages come from the schema and never echo the input. */
function fieldProblems(error: z.core.$ZodError, row: unknown): FieldProblem[] {
  const given = row !== null && typeof row === 'object' ? (row as Record<string, unknown>) : {};
  const problems: FieldProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push({ field: key.slice(0, 100), message: 'unknown field' });
      }
    } else if (issue.path.length === 0) {
      problems.push({ field: '(body)', message: 'request body must be a JSON object' });
    } else {
      const field = issue.path.join('.');
      const missing = issue.path.length === 1 && given[field] === undefined;
      problems.push({ field, message: missing ? 'required' : issue.message });
    }
  }
  return problems;
}
