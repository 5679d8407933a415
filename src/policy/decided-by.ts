/**
 * The determining policies of several policy sets that decided one call, each id once, in the
 * order the sets were evaluated: the gateway's default tool policy and a bridge's default policy
 * are both `oacp-default-allow`, and a receipt naming it twice says two policies decided where one
 * text did (the combined digest still covers every set evaluated: combined-digest.ts).
 */
export function decidedBy(...sets: readonly (readonly string[])[]): string[] {
  return [...new Set(sets.flat())];
}
