import { decideEnv } from '../../capability/name-policy.js';

/**
 * Environment scrubbing for native sandboxes. A workload sees only the
 * variables its manifest names (`capabilities.env`, `PREFIX*` patterns
 * allowed) plus a fixed PATH, so host secrets never leak by inheritance.
 */

/** PATH every native sandbox gets; never taken from the host. */
export const SAFE_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * Keeps the candidate variables the manifest allows and sets PATH. A missing
 * candidate means an empty one: callers hand the host environment over explicitly.
 */
export function scrubEnvironment(
  candidate: Readonly<Record<string, string | undefined>> | undefined,
  patterns: readonly string[],
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(candidate ?? {})) {
    if (value === undefined || name === 'PATH') continue;
    if (decideEnv(patterns, name).effect === 'allow') env[name] = value;
  }
  env.PATH = SAFE_PATH;
  return env;
}
