import { namePatternMatches } from '../capability/name-pattern.js';
import { allow, type Decision, deny } from '../core/decision.js';

/** `--tools` / the manifest's `capabilities.tools`: exact names or `prefix*` patterns. */
export interface ToolFilter {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

/**
 * A tool passes when no deny pattern names it and, if any allow pattern is
 * given, one of them names it. An empty allow list places no restriction of
 * its own: the policy and the Airlock's grants still apply.
 */
export function checkTool(filter: ToolFilter, tool: string): Decision {
  const denied = filter.deny.find((pattern) => namePatternMatches(pattern, tool));
  if (denied !== undefined) return deny(`tool "${tool}" is denied by the tools list (${denied})`);
  if (filter.allow.length === 0) return allow('no tools allow list: every tool not denied may be called');
  const allowed = filter.allow.find((pattern) => namePatternMatches(pattern, tool));
  if (allowed === undefined) return deny(`tool "${tool}" is not in the tools allow list`);
  return allow(`tool "${tool}" is allowed by the tools list (${allowed})`);
}
