import { OacpError } from '../core/errors.js';

export type ClusterErrorCode =
  | 'CLUSTER_UNAVAILABLE'
  | 'CLUSTER_CONFIG_INVALID'
  | 'CLUSTER_CLOSED'
  /** A peer answered the checkpoint gossip with something that is not what it should be. */
  | 'CLUSTER_PEER_INVALID'
  /** A peer showed a fork of a log: no longer trusted (a security event). */
  | 'CLUSTER_PEER_UNTRUSTED'
  /** A migration that cannot happen (target not a live member, agent not owned here): nothing moved. */
  | 'CLUSTER_MIGRATION_REFUSED'
  /** A migration envelope that does not verify (signature, sender, digest, recipient). */
  | 'CLUSTER_MIGRATION_INVALID'
  /** This node does not own the agent (its lease lapsed, or it was placed elsewhere). */
  | 'CLUSTER_NOT_OWNER';

export function clusterError(
  code: ClusterErrorCode,
  message: string,
  cause?: unknown,
): OacpError<ClusterErrorCode> {
  return new OacpError<ClusterErrorCode>(code, message, cause === undefined ? undefined : { cause });
}
