import { PolicyEngine } from '../policy/engine.js';
import { loadPolicies } from '../policy/load.js';

/**
 * The policy in force when no `--policy` is given: every tool call is
 * permitted by Cedar, and so is every policed read of the client's (resources/read,
 * resources/subscribe, prompts/get, completion/complete: see read-requests.ts), leaving the tools list, pins, approvals, quotas and the
 * Airlock's grants to restrict. The server's own requests to the client
 * (sampling, roots, elicitation) are permitted too; a `--policy` file that
 * does not permit them refuses them (deny by default). Spelled as Cedar so receipts still name a
 * policy id and digest anyone can re-derive.
 */
export const DEFAULT_POLICY_TEXT = `@id("oacp-default-allow")
permit(principal, action == Action::"tools/call", resource);

@id("oacp-default-reads")
permit(
  principal,
  action in [
    Action::"resources/read",
    Action::"resources/subscribe",
    Action::"prompts/get",
    Action::"completion/complete"
  ],
  resource
);

@id("oacp-default-server-requests")
permit(
  principal,
  action in [Action::"sampling/createMessage", Action::"roots/list", Action::"elicitation/create"],
  resource
);
`;

export function defaultPolicyEngine(): PolicyEngine {
  return new PolicyEngine(loadPolicies(DEFAULT_POLICY_TEXT, '<default policy>'));
}
