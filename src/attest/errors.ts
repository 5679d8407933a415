import type { z } from 'zod';

/** Every way building or signing a receipt can refuse. Verification reports checks instead of throwing. */
export type AttestErrorCode =
  | 'ATTEST_STATEMENT_INVALID'
  | 'ATTEST_UNKNOWN_PREDICATE'
  | 'ATTEST_NO_SIGNER'
  | 'ATTEST_SIGNER_MISMATCH'
  | 'ATTEST_ENVELOPE_INVALID';

/** "path: message" for the first zod issue: enough to find the bad field without dumping the value. */
export function firstIssue(error: z.ZodError, fallbackPath: string): string {
  const issue = error.issues[0];
  const path = issue?.path.map(String).join('.') || fallbackPath;
  return `${path}: ${issue?.message ?? 'invalid'}`;
}
