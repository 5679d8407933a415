import { z } from 'zod';

/** A node as the cluster lists it: who, where to forward requests, and the lease that keeps it a member. */
export const MemberSchema = z.strictObject({
  id: z.string().min(1),
  url: z.string().url(),
  lease: z.string().min(1),
  /** The node's log key (type 0x01 vkey) and cosignature key (0x04): peers gossip with these. */
  logKey: z.string().min(1).max(500).optional(),
  witnessKey: z.string().min(1).max(500).optional(),
  /** The did:key agent state is encrypted to when it migrates here (docs/cluster.md, Migration). */
  transferKey: z.string().startsWith('did:key:').optional(),
  /** `cluster.tls: node-key`: the did:key of the node's TLS key; peers accept only its certificate. */
  nodeKey: z.string().startsWith('did:key:').optional(),
});
export type Member = z.infer<typeof MemberSchema>;

/** A member record read from etcd; undefined when it is not one (never trusted blindly). */
export function parseMember(text: string): Member | undefined {
  try {
    const parsed = MemberSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
