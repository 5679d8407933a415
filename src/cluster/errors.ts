import { OacpError } from '../core/errors.js';

export type ClusterErrorCode =
  | 'CLUSTER_UNAVAILABLE'
  | 'CLUSTER_CONFIG_INVALID'
  | 'CLUSTER_CLOSED'
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
