import { allow, type Decision, deny } from '../core/decision.js';
import { looseName } from '../core/loose-name.js';
import type { ModelsGrant, ToolsGrant } from './manifest.js';
import { namePatternMatches } from './name-pattern.js';

/**
 * A deny entry wins over any allow entry, so `allow: ['*'], deny: ['shell.*']` means what it says.
 * Deny entries also match loosely (looseName): `Delete_File`, `delete_file ` or a zero-width
 * twin of a denied `delete_file` is denied too, since a server that matches tool names leniently
 * would run it. Allow entries match exactly.
 */
export function decideTool(tools: ToolsGrant, name: string): Decision {
  const policyId = 'capability.tools';
  const denied = tools.deny.find((pattern) => deniedLoosely(pattern, name));
  if (denied !== undefined) return deny(`tool "${name}" is denied by tools.deny entry "${denied}"`, policyId);
  const allowed = tools.allow.find((pattern) => namePatternMatches(pattern, name));
  return allowed === undefined
    ? deny(`tool "${name}" is not in tools.allow`, policyId)
    : allow(`tool "${name}" matches tools.allow entry "${allowed}"`, policyId);
}

/** A deny entry matches a name exactly or as a lenient peer would read both (looseName). */
function deniedLoosely(pattern: string, name: string): boolean {
  return namePatternMatches(pattern, name) || namePatternMatches(looseName(pattern), looseName(name));
}

/**
 * A model (or gateway alias) against the manifest's `capabilities.models`: deny entries first
 * (matching loosely as for tools: `GPT-4o` or `gpt-4o ` is denied with `gpt-4o`), then the allowlist.
 */
export function decideModel(models: ModelsGrant, name: string): Decision {
  const policyId = 'capability.models';
  const denied = models.deny.find((pattern) => deniedLoosely(pattern, name));
  if (denied !== undefined)
    return deny(`model "${name}" is denied by models.deny entry "${denied}"`, policyId);
  const allowed = models.allow.find((pattern) => namePatternMatches(pattern, name));
  return allowed === undefined
    ? deny(`model "${name}" is not in the agent's capabilities.models.allow`, policyId)
    : allow(`model "${name}" matches models.allow entry "${allowed}"`, policyId);
}

/**
 * The provider-side tools a model request asks for (by type) against the manifest's
 * `capabilities.models.provider_tools`: every one must match an entry exactly or by a `*` prefix.
 * Deny by default: none listed, none run.
 */
export function decideProviderTools(models: ModelsGrant, types: readonly string[]): Decision {
  const policyId = 'capability.models.provider_tools';
  const refused = types.find(
    (type) => !models.provider_tools.some((pattern) => namePatternMatches(pattern, type)),
  );
  if (refused !== undefined)
    return deny(
      `provider tool "${refused}" is not in the agent's capabilities.models.provider_tools (the provider would run it outside OACP's egress policy and budgets)`,
      policyId,
    );
  return allow(
    types.length === 0
      ? 'no provider tools requested'
      : `provider tools ${types.map((type) => `"${type}"`).join(', ')} match capabilities.models.provider_tools`,
    policyId,
  );
}

/**
 * OACP's own variables (OACP_MASTER_KEY, OACP_HOME and every other OACP_*)
 * configure the host runtime and may hold its secrets: no pattern, not even
 * `*`, hands them to a workload.
 */
const OACP_OWN = /^OACP_/i;

export function decideEnv(env: readonly string[], name: string): Decision {
  const policyId = 'capability.env';
  if (OACP_OWN.test(name)) {
    return deny(
      `environment variable ${name} is OACP's own (secrets such as OACP_MASTER_KEY never enter a sandbox, whatever capabilities.env says)`,
      policyId,
    );
  }
  const allowed = env.find((pattern) => namePatternMatches(pattern, name));
  return allowed === undefined
    ? deny(`environment variable ${name} is not in the env allowlist`, policyId)
    : allow(`environment variable ${name} matches env entry ${allowed}`, policyId);
}
