import { z } from 'zod';
import { jcsDigest } from '../core/jcs.js';
import { Sha256HexSchema } from './statement.js';

export const TeePlatformSchema = z.enum(['intel-tdx', 'intel-sgx', 'amd-sev-snp', 'aws-nitro']);
export type TeePlatform = z.infer<typeof TeePlatformSchema>;

/**
 * Every real quote format is well over this (an SEV-SNP report alone is 1184
 * bytes); the floor exists so that "", "AAAA" or a few test bytes cannot pass
 * for hardware evidence.
 */
export const MIN_QUOTE_BYTES = 256;

/**
 * Refuses quotes that are obviously not quotes: empty, short, non-canonical
 * base64, a repeated byte, or printable text ("placeholder", "TODO"). This is a
 * shape check only; whether the quote is genuine is a TeeQuoteVerifier's job.
 */
export function quoteProblem(quote: string): string | undefined {
  const bytes = Buffer.from(quote, 'base64');
  if (bytes.toString('base64') !== quote) return 'must be canonical standard base64';
  if (bytes.length < MIN_QUOTE_BYTES) {
    return `is ${bytes.length} bytes; a hardware quote is at least ${MIN_QUOTE_BYTES}`;
  }
  if (new Set(bytes).size < 16) return 'has almost no byte variety: a placeholder, not a quote';
  const printable = bytes.filter((byte) => byte >= 0x20 && byte <= 0x7e).length;
  if (printable / bytes.length > 0.9) return 'is printable text: a placeholder, not a binary quote';
  return undefined;
}

/** Hardware evidence. Present only when a real quote exists; there is no "empty" form. */
export const TeeEvidenceSchema = z.strictObject({
  platform: TeePlatformSchema,
  quote: z.string().superRefine((quote, ctx) => {
    const problem = quoteProblem(quote);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `TEE quote ${problem}` });
  }),
  /** The report data the quote commits to: `teeBinding(statement)`, so the quote cannot be moved to another statement. */
  reportData: Sha256HexSchema,
});
export type TeeEvidence = z.infer<typeof TeeEvidenceSchema>;

/**
 * What a TEE quote must commit to: sha256 of the JCS statement with
 * `predicate.tee` removed (the quote cannot contain itself).
 */
export function teeBinding(statement: {
  readonly predicate?: Readonly<Record<string, unknown>> | undefined;
}): string {
  const { tee: _tee, ...predicate } = statement.predicate ?? {};
  return jcsDigest({ ...statement, predicate });
}

/** Checks a quote against its vendor's roots. None ships in OACP today, so Verified is unreachable without one. */
export interface TeeQuoteVerifier {
  readonly platforms: readonly TeePlatform[];
  verify(
    evidence: TeeEvidence,
    expectedReportData: string,
  ): { readonly ok: boolean; readonly detail: string };
}
