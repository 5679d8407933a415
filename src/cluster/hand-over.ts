import { z } from 'zod';

/**
 * The last hand-over of an agent's state, written in the same etcd transaction that moves its
 * owner key (ClusterNode.handOff): a target restores a migrated state only when this names it,
 * so a state the target took but the source then kept (its send timed out, the move lost its
 * compare-and-set) never comes back beside the copy that went on running (docs/cluster.md).
 */
export const HandOverSchema = z.strictObject({
  source: z.string().min(1).max(200),
  target: z.string().min(1).max(200),
  stateDigest: z.string().regex(/^[0-9a-f]{64}$/),
  /** The envelope's issuedAt: two hand-overs of one unchanged state are still told apart. */
  issuedAt: z.number().int().nonnegative(),
});
export type HandOver = z.infer<typeof HandOverSchema>;

/** A hand-over record read from etcd; undefined when it is not one (never trusted blindly). */
export function parseHandOver(text: string | null): HandOver | undefined {
  if (text === null) return undefined;
  try {
    const parsed = HandOverSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function sameHandOver(a: HandOver, b: HandOver): boolean {
  return (
    a.source === b.source &&
    a.target === b.target &&
    a.stateDigest === b.stateDigest &&
    a.issuedAt === b.issuedAt
  );
}
