/**
 * What the policy engine decided about one tool call. Shaped like core's
 * Decision (effect, reason, policyId) so it can travel wherever a Decision
 * does, plus what a receipt needs to show which rules and which text decided.
 */
export interface PolicyDecision {
  readonly effect: 'allow' | 'deny';
  readonly reason: string;
  /** The first determining policy, when there is one. */
  readonly policyId?: string;
  /** Every determining policy (permits for an allow, forbids for a deny). */
  readonly policyIds: readonly string[];
  /** sha256 (hex) of the policy text the decision was made under. */
  readonly policyDigest: string;
}

export function policyDecision(
  effect: 'allow' | 'deny',
  reason: string,
  policyIds: readonly string[],
  policyDigest: string,
): PolicyDecision {
  const first = policyIds[0];
  return first === undefined
    ? { effect, reason, policyIds, policyDigest }
    : { effect, reason, policyId: first, policyIds, policyDigest };
}
