import { z } from 'zod';
import {
  AgentRefSchema,
  ApprovalSchema,
  checkCommon,
  commonShape,
  PolicyDecisionSchema,
  TierSchema,
  UsageSchema,
} from './predicate-parts.js';
import { Sha256HexSchema, type Subject, sha256Subject } from './statement.js';

export const TOOL_CALL_PREDICATE_TYPE = 'https://oacp.dev/attestation/tool-call/v1';

/** One MCP tool call as the Airlock saw it. Field by field in docs/receipts.md. */
export const ToolCallPredicateSchema = z
  .strictObject({
    agent: AgentRefSchema,
    server: z.strictObject({
      name: z.string().min(1).optional(),
      command: z.array(z.string()).min(1, 'needs the argv that started the server'),
      files: z.array(z.strictObject({ path: z.string().min(1), sha256: Sha256HexSchema })),
    }),
    tool: z.strictObject({
      name: z.string().min(1),
      definitionDigest: Sha256HexSchema,
    }),
    argumentsDigest: Sha256HexSchema,
    /** Absent when the tool never returned (denied by policy, killed). */
    resultDigest: Sha256HexSchema.optional(),
    policy: PolicyDecisionSchema,
    tier: TierSchema,
    usage: UsageSchema,
    approval: ApprovalSchema.optional(),
    ...commonShape,
  })
  .superRefine((value, ctx) => {
    checkCommon(value, ctx);
    if (value.policy.effect === 'deny' && value.resultDigest !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['resultDigest'], message: 'a denied call has no result' });
    }
  });
export type ToolCallPredicate = z.infer<typeof ToolCallPredicateSchema>;
export type ToolCallPredicateInput = z.input<typeof ToolCallPredicateSchema>;

/** The statement is about the arguments and (when there is one) the result. */
export function toolCallSubjects(predicate: ToolCallPredicate): Subject[] {
  const subjects = [sha256Subject('arguments', predicate.argumentsDigest)];
  if (predicate.resultDigest !== undefined) subjects.push(sha256Subject('result', predicate.resultDigest));
  return subjects;
}
