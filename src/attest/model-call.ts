import { z } from 'zod';
import { AgentRefSchema, commonShape, PolicyDecisionSchema } from './predicate-parts.js';
import { Sha256HexSchema, type Subject, sha256Subject } from './statement.js';

export const MODEL_CALL_PREDICATE_TYPE = 'https://oacp.dev/attestation/model-call/v1';

const Count = z.number().int().nonnegative();

/**
 * The service tier asked for and the one the provider says served the call, and the token
 * prices' multiplier the cost was settled at (`models.prices.<model>.service_tiers`). Absent
 * when the model has no price or no tier was asked for, named or priced above the standard one.
 */
export const ModelServiceTierSchema = z.strictObject({
  requested: z.string().min(1).max(64).optional(),
  served: z.string().min(1).max(64).optional(),
  multiplier: z.number().nonnegative(),
});

/** One try at one provider: what it answered and how long it took. */
export const ModelAttemptSchema = z.strictObject({
  provider: z.string().min(1),
  /** HTTP status, or 0 when no answer came (connection refused, timeout). */
  status: z.number().int().nonnegative(),
  durationMs: z.number().nonnegative(),
  /** Why the attempt did not serve the call (never a provider key or body text). */
  error: z.string().min(1).max(512).optional(),
  /**
   * The usage a try that did not serve the call reported all the same (a 2xx answer judged
   * unusable and failed over): the provider billed it, so the budgets were charged it too.
   */
  billed: z
    .strictObject({
      inputTokens: Count,
      outputTokens: Count,
      /**
       * The tier the try was billed at, as the receipt's `serviceTier` says it for the answer: the
       * one its body named (`served`, absent when it named none) and the multiplier it was settled
       * at. Absent where the receipt's would be (no price, or no tier asked, named or settled off 1x).
       */
      serviceTier: ModelServiceTierSchema.optional(),
    })
    .optional(),
});

/**
 * How each provider tool priced per use was settled: the uses charged of the most the request
 * allowed (what was reserved), and on what: the provider's count, that maximum for want of
 * one, or none because the provider refused the call. Absent when no such tool was offered.
 */
export const ModelToolFeesSchema = z
  .array(
    z.strictObject({
      type: z.string().min(1).max(256),
      maxUses: Count,
      uses: Count,
      basis: z.enum(['reported', 'maximum', 'refused']),
    }),
  )
  .max(64);

/**
 * The counts the provider did not report: the gateway's estimate stands in for each (and was
 * charged), or 0 where the provider refused the call without reporting usage. Absent when
 * it reported both, and on receipts from before this field.
 */
export const ModelNotReportedSchema = z
  .array(z.enum(['inputTokens', 'outputTokens']))
  .min(1)
  .max(2);

/**
 * One model call an agent made through the gateway's model leg, refusals
 * included. The bodies never enter the log: only their JCS digests. Field by
 * field in docs/receipts.md.
 */
export const ModelCallPredicateSchema = z
  .strictObject({
    agent: AgentRefSchema,
    endpoint: z.enum(['chat.completions', 'embeddings', 'messages']),
    provider: z.strictObject({ name: z.string().min(1), kind: z.enum(['openai', 'anthropic']) }).optional(),
    model: z.strictObject({ requested: z.string().min(1), served: z.string().min(1).optional() }),
    stream: z.boolean(),
    /** The asynchronous batch (`POST /v1/batches`) and the index of its item this call was; absent for a single call. */
    batch: z.strictObject({ id: z.string().regex(/^batch_[0-9a-f]{24}$/), item: Count }).optional(),
    /** sha256 of the JCS form of the request body the agent sent. */
    requestDigest: Sha256HexSchema,
    /** sha256 of the JCS form of the answer the agent received (a stream: the assembled answer). */
    responseDigest: Sha256HexSchema.optional(),
    usage: z.strictObject({
      estimatedInputTokens: Count,
      reservedTokens: Count,
      inputTokens: Count,
      outputTokens: Count,
      /**
       * What the budgets were charged when the call settled: the provider's usage; the whole
       * reservation when the provider may have run the call without answering; 0 when nothing
       * was sent (the reservation given back). Absent on receipts from before this field.
       */
      chargedTokens: Count.optional(),
      notReported: ModelNotReportedSchema.optional(),
    }),
    toolFees: ModelToolFeesSchema.optional(),
    serviceTier: ModelServiceTierSchema.optional(),
    /** USD from the configured price table; absent when the model has no price. */
    costUsd: z.number().nonnegative().optional(),
    /**
     * `interrupted`: the gateway was killed while the provider had the call; recorded from the
     * call's intent when the home was next opened (its answer and usage are unknown).
     */
    outcome: z.enum(['ok', 'denied', 'quota', 'failed', 'cut', 'interrupted']),
    /** Why the call was refused, failed or cut short. */
    reason: z.string().min(1).max(1024).optional(),
    policy: PolicyDecisionSchema,
    attempts: z.array(ModelAttemptSchema),
    ...commonShape,
  })
  .superRefine((value, ctx) => {
    if (Date.parse(value.finishedAt) < Date.parse(value.startedAt)) {
      ctx.addIssue({ code: 'custom', path: ['finishedAt'], message: 'must not be before startedAt' });
    }
    if (value.assurance !== 'software' || value.tee !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['assurance'], message: 'a model call runs outside any TEE' });
    }
    if (value.policy.effect === 'deny' && value.outcome !== 'denied') {
      ctx.addIssue({ code: 'custom', path: ['outcome'], message: "a policy denial has outcome 'denied'" });
    }
    if ((value.outcome === 'denied' || value.outcome === 'quota') && value.responseDigest !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['responseDigest'], message: 'a refused call has no response' });
    }
  });
export type ModelCallPredicate = z.infer<typeof ModelCallPredicateSchema>;
export type ModelCallPredicateInput = z.input<typeof ModelCallPredicateSchema>;

/** The statement is about the request and, when one came back, the response. */
export function modelCallSubjects(predicate: ModelCallPredicate): Subject[] {
  const subjects = [sha256Subject('request', predicate.requestDigest)];
  if (predicate.responseDigest !== undefined)
    subjects.push(sha256Subject('response', predicate.responseDigest));
  return subjects;
}
