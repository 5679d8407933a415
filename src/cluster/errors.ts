import { OacpError } from '../core/errors.js';

export type ClusterErrorCode =
  | 'CLUSTER_UNAVAILABLE'
  | 'CLUSTER_CONFIG_INVALID'
  | 'CLUSTER_CLOSED'
  /** A peer answered the checkpoint gossip with something that is not what it should be. */
  | 'CLUSTER_PEER_INVALID'
  /** A peer showed a fork of a log: no longer trusted (a security event). */
  | 'CLUSTER_PEER_UNTRUSTED';

export function clusterError(
  code: ClusterErrorCode,
  message: string,
  cause?: unknown,
): OacpError<ClusterErrorCode> {
  return new OacpError<ClusterErrorCode>(code, message, cause === undefined ? undefined : { cause });
}
