/**
 * Names in the `env` and `tools` lists: an exact name, or a prefix ending in
 * `*` (`AWS_*`, `github.*`; a lone `*` is every name). No other wildcards.
 */
export function namePatternMatches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

/** Whether every name `inner` matches is also matched by `outer`. */
export function namePatternCovers(outer: string, inner: string): boolean {
  if (!outer.endsWith('*')) return outer === inner;
  const prefix = outer.slice(0, -1);
  return inner.startsWith(prefix);
}
