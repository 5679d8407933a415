import { join } from 'node:path';
import { CheckpointGossip, type GossipPeerSpec } from '../../cluster/gossip-service.js';
import { nodeWitnessSigner } from '../../cluster/witness-key.js';
import type { OacpNode } from '../../node/oacp-node.js';
import type { SecurityEventRepo } from '../../store/types.js';
import type { GatewayConfig } from '../config/schema.js';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';
import type { Logger } from '../observability/logger.js';
import type { GatewayCluster } from './gateway-cluster.js';

export interface GatewayGossipParts {
  readonly home: string;
  readonly node: OacpNode;
  readonly config: GatewayConfig;
  readonly cluster: GatewayCluster | undefined;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  readonly securityEvents: SecurityEventRepo;
}

/**
 * Starts checkpoint gossip when the gateway knows peers: `log.peers` in oacp.yaml and, in a
 * cluster, every other member (its log and witness keys from its etcd record). A fork is a
 * critical security event: counted (`oacp_security_events_total{type="log_fork"}`), logged,
 * and kept in the store's security events. Undefined when there is nobody to gossip with.
 */
export async function startGatewayGossip(parts: GatewayGossipParts): Promise<CheckpointGossip | undefined> {
  const { config, node, cluster } = parts;
  if (config.log.peers.length === 0 && cluster === undefined) return undefined;
  const configured: GossipPeerSpec[] = config.log.peers.map((peer) => ({
    url: peer.url,
    logKey: peer.key,
    witnessKey: peer.witness_key,
  }));
  return CheckpointGossip.start({
    dir: join(parts.home, 'log-gossip'),
    origin: node.origin,
    log: node.log,
    witness: nodeWitnessSigner(node.keys.logSigner()),
    intervalMs: config.log.gossip_interval_ms,
    // Members are reached over the cluster's mutual TLS when it has one.
    ...(cluster === undefined ? {} : { fetchImpl: cluster.fetch }),
    peers: async () => {
      const members = cluster === undefined ? [] : await cluster.peers();
      const known = new Set(configured.map((peer) => peer.url));
      return [...configured, ...members.filter((member) => !known.has(member.url))];
    },
    onFork: async (fork) => {
      parts.metrics.security('critical', 'log_fork');
      parts.logger.error('SECURITY: a peer showed a fork of a log; it is no longer trusted', {
        peer: fork.peer,
        origin: fork.origin,
        reason: fork.reason,
      });
      await parts.securityEvents
        .append({
          at: fork.at,
          kind: 'log.fork',
          subject: fork.peer,
          detail: JSON.stringify({ origin: fork.origin, reason: fork.reason }),
        })
        .catch((error: unknown) => parts.logger.error('security event not stored', { error }));
    },
    onBadCosignature: async (event) => {
      parts.metrics.security('critical', 'log_cosignature_invalid');
      parts.logger.error('SECURITY: a kept cosignature of this log failed verification; it is not served', {
        witness: event.witness,
        reason: event.reason,
      });
      await parts.securityEvents
        .append({
          at: event.at,
          kind: 'log.cosignature_invalid',
          subject: event.witness,
          detail: JSON.stringify({ reason: event.reason }),
        })
        .catch((error: unknown) => parts.logger.error('security event not stored', { error }));
    },
    onError: (peer, error) => parts.logger.warn('checkpoint gossip failed', { peer, error }),
  });
}
