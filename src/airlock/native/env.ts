/**
 * Environment scrubbing for native sandboxes. A workload sees only the
 * variables its manifest names (`capabilities.env`, `PREFIX*` patterns
 * allowed) plus a fixed PATH, so host secrets never leak by inheritance.
 */

/** PATH every native sandbox gets; never taken from the host. */
export const SAFE_PATH = '/usr/local/bin:/usr/bin:/bin';

/** True when `name` matches one of the manifest's env patterns (exact, or prefix when ending in `*`). */
export function envNameAllowed(name: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) =>
    pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern,
  );
}

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
    if (envNameAllowed(name, patterns)) env[name] = value;
  }
  env.PATH = SAFE_PATH;
  return env;
}
