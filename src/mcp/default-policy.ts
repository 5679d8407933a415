import { PolicyEngine } from '../policy/engine.js';
import { loadPolicies } from '../policy/load.js';

/**
 * The policy in force when no `--policy` is given: every tool call is
 * permitted by Cedar, leaving the tools list, pins, approvals, quotas and the
 * Airlock's grants to restrict. Spelled as Cedar so receipts still name a
 * policy id and digest anyone can re-derive.
 */
export const DEFAULT_POLICY_TEXT = `@id("oacp-default-allow")
permit(principal, action == Action::"tools/call", resource);
`;

export function defaultPolicyEngine(): PolicyEngine {
  return new PolicyEngine(loadPolicies(DEFAULT_POLICY_TEXT, '<default policy>'));
}
