import { z } from 'zod';
import { isDidKey } from '../identity/did-key.js';
import { Sha256HexSchema } from './statement.js';
import { TeeEvidenceSchema } from './tee.js';

/** Isolation tiers, weakest to strongest (mirrors airlock's TierName, which sits above this layer). */
export const TierSchema = z.enum(['light', 'standard', 'hardened', 'gvisor', 'tee']);

const Count = z.number().nonnegative();

/** What the sandbox consumed; the same fields as airlock's Usage. */
export const UsageSchema = z.strictObject({
  wallMs: Count,
  cpuMs: Count,
  memoryPeakBytes: Count,
  egressRequests: Count,
  egressDenied: Count,
  outputBytes: Count,
});

export const DidKeySchema = z.string().refine(isDidKey, 'must be an Ed25519 did:key');

/** Who asked: a did:key (whose signature can raise the trust level) and/or a client id (which cannot). */
export const AgentRefSchema = z
  .strictObject({
    did: DidKeySchema.optional(),
    clientId: z.string().min(1).max(256).optional(),
  })
  .refine((agent) => agent.did !== undefined || agent.clientId !== undefined, 'needs a did or a clientId');

export const PolicyDecisionSchema = z.strictObject({
  effect: z.enum(['allow', 'deny']),
  reason: z.string().min(1),
  policyId: z.string().min(1).optional(),
  /** Every determining policy when there were several (Cedar can have more than one). */
  policyIds: z.array(z.string().min(1)).optional(),
  /** sha256 of the policy text in force, so the decision can be re-derived later. */
  policyDigest: Sha256HexSchema,
});

export const ApprovalSchema = z.strictObject({
  approvedBy: z.string().min(1),
  approvedAt: z.iso.datetime(),
  method: z.string().min(1).optional(),
  /** What the approver said (the console's reason field), after where it was approved. */
  reason: z.string().max(600).optional(),
});

/** Fields every OACP predicate has: timing and the assurance claim. */
export const commonShape = {
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  durationMs: Count,
  /** 'software' unless a hardware quote is attached; the default, since no TEE ships today. */
  assurance: z.enum(['software', 'tee']).default('software'),
  tee: TeeEvidenceSchema.optional(),
};

interface CommonFields {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly tier: string;
  readonly assurance: 'software' | 'tee';
  readonly tee?: unknown;
}

/**
 * Claims that must agree: a TEE is claimed (assurance or tier) exactly when a quote is attached.
 * `tierRan` is false for a run refused before it started: its tier is only the one asked for.
 */
export function checkCommon(value: CommonFields, ctx: z.RefinementCtx, tierRan = true): void {
  if (Date.parse(value.finishedAt) < Date.parse(value.startedAt)) {
    ctx.addIssue({ code: 'custom', path: ['finishedAt'], message: 'must not be before startedAt' });
  }
  if (value.assurance === 'tee' && value.tee === undefined) {
    ctx.addIssue({ code: 'custom', path: ['tee'], message: "assurance 'tee' needs a TEE quote" });
  }
  if (value.tee !== undefined && value.assurance !== 'tee') {
    ctx.addIssue({
      code: 'custom',
      path: ['assurance'],
      message: "must be 'tee' when a TEE quote is attached",
    });
  }
  if (tierRan && value.tier === 'tee' && value.tee === undefined) {
    ctx.addIssue({ code: 'custom', path: ['tee'], message: "tier 'tee' needs a TEE quote" });
  }
}
