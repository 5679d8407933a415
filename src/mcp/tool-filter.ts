import type { ToolsGrant } from '../capability/manifest.js';
import { decideTool } from '../capability/name-policy.js';
import type { Decision } from '../core/decision.js';

/** `--tools` / the manifest's `capabilities.tools`: exact names or `prefix*` patterns. */
export type ToolFilter = ToolsGrant;

/**
 * The manifest's rule, unchanged: a deny entry wins, and a tool must match an
 * allow entry. `--tools` with only `!deny` entries means "everything but",
 * which `toolFilterFromFlag` spells as `allow: ['*']`.
 */
export function checkTool(filter: ToolFilter, tool: string): Decision {
  return decideTool(filter, tool);
}

/**
 * Parses `--tools`: comma-separated names or `prefix*` patterns; a leading `!`
 * denies. `read_*,list_directory,!read_secret` allows the read tools but one.
 */
export function toolFilterFromFlag(values: readonly string[]): ToolFilter {
  const allow: string[] = [];
  const deny: string[] = [];
  for (const entry of values.flatMap((value) => value.split(','))) {
    const trimmed = entry.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('!')) deny.push(trimmed.slice(1));
    else allow.push(trimmed);
  }
  return { allow: allow.length === 0 ? ['*'] : allow, deny };
}
