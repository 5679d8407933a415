import { z } from 'zod';
import { AgentRefSchema, checkCommon, commonShape, TierSchema, UsageSchema } from './predicate-parts.js';
import { Sha256HexSchema, type Subject, sha256Subject } from './statement.js';

export const EXECUTION_PREDICATE_TYPE = 'https://oacp.dev/attestation/execution/v1';

/** A tool-call receipt this execution made, by its place in the log and the digest of its logged bytes. */
export const ReceiptReferenceSchema = z.strictObject({
  logIndex: z.number().int().nonnegative(),
  envelopeDigest: Sha256HexSchema,
});
export type ReceiptReference = z.infer<typeof ReceiptReferenceSchema>;

/** One sandboxed run of agent code. Field by field in docs/receipts.md. */
export const ExecutionPredicateSchema = z
  .strictObject({
    agent: AgentRefSchema.optional(),
    codeDigest: Sha256HexSchema,
    manifestDigest: Sha256HexSchema,
    tier: TierSchema,
    inputsDigest: Sha256HexSchema,
    outputsDigest: Sha256HexSchema,
    usage: UsageSchema,
    toolCalls: z.array(ReceiptReferenceSchema),
    exit: z.strictObject({
      code: z.number().int().nullable(),
      signal: z.string().min(1).nullable(),
      killedBy: z.string().min(1).optional(),
    }),
    /** Set on the two receipts of a migration: the agent's state left `source` for `target` (docs/cluster.md). */
    migration: z
      .strictObject({
        direction: z.enum(['out', 'in']),
        source: z.string().min(1),
        target: z.string().min(1),
        stateDigest: Sha256HexSchema,
        /** On an `in` receipt: false when the kept state could not be restored (expired, or did not open). */
        restored: z.literal(false).optional(),
      })
      .optional(),
    ...commonShape,
  })
  .superRefine((value, ctx) => checkCommon(value, ctx));
export type ExecutionPredicate = z.infer<typeof ExecutionPredicateSchema>;
export type ExecutionPredicateInput = z.input<typeof ExecutionPredicateSchema>;

/** The statement is about what the run produced. */
export function executionSubjects(predicate: ExecutionPredicate): Subject[] {
  return [sha256Subject('outputs', predicate.outputsDigest)];
}
