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
    /**
     * How the call ended (absent on receipts written before the field): `result`/`error` the server
     * answered, `denied` refused before it was sent, `cancelled` by the client, `timeout` no answer
     * within the deadline, `server-gone` the server went away first, `interrupted` OACP itself died
     * while the call was with the server (recorded from its intent when the home was next opened).
     */
    outcome: z
      .enum(['result', 'error', 'denied', 'cancelled', 'timeout', 'server-gone', 'interrupted'])
      .optional(),
    /**
     * Whether the call had been sent to the server: written for `cancelled`, `timeout`,
     * `server-gone` and `interrupted`, where `true` means the server may have run it (its answer, if any, was not
     * delivered) and `false` that it never reached the server.
     */
    forwarded: z.boolean().optional(),
    /**
     * `false` when the server answered but the client could not be given the answer: its request
     * was gone by then (an HTTP POST closed mid-call). `resultDigest` is then the digest of the
     * answer the server gave, which no client received. Absent when the answer was sent.
     */
    delivered: z.literal(false).optional(),
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
    if (value.delivered === false && value.outcome !== 'result' && value.outcome !== 'error') {
      ctx.addIssue({
        code: 'custom',
        path: ['delivered'],
        message: 'only an answered call has an answer to deliver',
      });
    }
    if (value.outcome === 'denied' && value.forwarded === true) {
      ctx.addIssue({ code: 'custom', path: ['forwarded'], message: 'a denied call was never sent' });
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
