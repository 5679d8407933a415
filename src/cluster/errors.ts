import { OacpError } from '../core/errors.js';

export type ClusterErrorCode = 'CLUSTER_UNAVAILABLE' | 'CLUSTER_CONFIG_INVALID' | 'CLUSTER_CLOSED';

export function clusterError(
  code: ClusterErrorCode,
  message: string,
  cause?: unknown,
): OacpError<ClusterErrorCode> {
  return new OacpError<ClusterErrorCode>(code, message, cause === undefined ? undefined : { cause });
}
