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

/**
 * How a run ended: it ran to its own end (any exit code or signal), OACP stopped it at a limit
 * (`exit.killedBy` names which), it never started (a policy, a grant, a tier or the receipt log
 * refused it), or the operator interrupted `oacp` (SIGINT, SIGTERM, SIGHUP) and OACP stopped it.
 */
export const ExecutionOutcomeSchema = z.enum(['exited', 'killed', 'refused', 'interrupted']);
export type ExecutionOutcome = z.infer<typeof ExecutionOutcomeSchema>;

const Whole = z.number().int().nonnegative();

/** The limits a run was given (the manifest's quotas, under the receipt's names). */
export const ExecutionLimitsSchema = z.strictObject({
  memoryMb: Whole,
  cpuMsPerRequest: Whole,
  cpuMsTotal: Whole,
  startupCpuMs: Whole,
  maxPids: Whole,
  maxOpenFiles: Whole,
  maxOutputBytes: Whole,
  tmpMb: Whole,
  diskIoMbPerS: z.number().nonnegative(),
  /** Limits this host could not enforce in the kernel that the run accepted going without. */
  unenforced: z.array(z.string().min(1)),
});
export type ExecutionLimits = z.infer<typeof ExecutionLimitsSchema>;

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
    /** Absent on receipts written before it (and on the gateway's and migrations' receipts). */
    outcome: ExecutionOutcomeSchema.optional(),
    /** Why, for `killed`, `refused` and `interrupted`: what was used and the limit, or the refusal. */
    reason: z.string().min(1).max(4096).optional(),
    limits: ExecutionLimitsSchema.optional(),
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
  .superRefine((value, ctx) => checkCommon(value, ctx, value.outcome !== 'refused'));
export type ExecutionPredicate = z.infer<typeof ExecutionPredicateSchema>;
export type ExecutionPredicateInput = z.input<typeof ExecutionPredicateSchema>;

/** The statement is about what the run produced. */
export function executionSubjects(predicate: ExecutionPredicate): Subject[] {
  return [sha256Subject('outputs', predicate.outputsDigest)];
}
