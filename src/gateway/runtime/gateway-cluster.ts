import { ClusterNode } from '../../cluster/cluster-node.js';
import { clusterError } from '../../cluster/errors.js';
import type { GossipPeerSpec } from '../../cluster/gossip-service.js';
import type { ClusterTls } from '../../cluster/tls.js';
import type { Logger } from '../observability/logger.js';
import type { AgentDirectory } from './agent-directory.js';
import type { AgentRuntime } from './agent-runtime.js';

/** Longer than the store-backed agent directory keeps a record. */
const RECORD_CACHE_MS = 1_100;

export interface GatewayClusterSettings {
  readonly etcd: readonly string[];
  readonly nodeId: string;
  readonly ttlSeconds: number;
  /** Published in this node's member record for checkpoint gossip. */
  readonly logKey?: string;
  readonly witnessKey?: string;
  /** Node-to-node mutual TLS (`cluster.tls`): forwarding and gossip present this node's certificate. */
  readonly tls?: ClusterTls;
}

/**
 * The gateway as a cluster member (docs/cluster.md): it starts sandboxes only
 * for the agents etcd places on it and stops them when they are placed
 * elsewhere or its lease lapses; lifecycle changes made here are announced so
 * the leader re-places and the owner reacts; requests for an agent it does not
 * run are forwarded to the owner.
 */
export class GatewayCluster {
  private node: ClusterNode | undefined;
  private knownMembers = new Set<string>();
  private trusted: (url: string) => boolean = () => true;
  private membersReadAt = 0;

  constructor(
    private readonly settings: GatewayClusterSettings,
    private readonly agents: AgentDirectory,
    private readonly runtime: AgentRuntime,
    private readonly logger: Logger,
  ) {}

  /** Joins once the gateway listens, so the URL other nodes forward to is known. */
  async join(url: URL): Promise<void> {
    this.node = await ClusterNode.join({
      endpoints: this.settings.etcd,
      nodeId: this.settings.nodeId,
      url: url.href,
      ttlSeconds: this.settings.ttlSeconds,
      ...(this.settings.logKey === undefined ? {} : { logKey: this.settings.logKey }),
      ...(this.settings.witnessKey === undefined ? {} : { witnessKey: this.settings.witnessKey }),
      wanted: async () => (await this.agents.list()).filter((a) => a.state === 'running').map((a) => a.id),
      onOwn: async (id) => {
        let agent = await this.agents.get(id);
        if (agent?.state !== 'running') {
          // The directory caches records for a second: a start made on another node may not show yet.
          await new Promise((resolve) => setTimeout(resolve, RECORD_CACHE_MS));
          agent = await this.agents.get(id);
        }
        if (agent === undefined || agent.state !== 'running') return;
        await this.runtime.start({
          did: agent.id,
          name: agent.name,
          manifest: agent.manifest,
          attributes: agent.attributes,
          code: agent.code,
        });
      },
      onDisown: (id) => this.runtime.stop(id),
      onEvent: (event) => this.logger.info('cluster', { event }),
    });
  }

  /** A lifecycle change made on this node: the leader re-places, the owner starts or stops the sandbox. */
  async changed(agent: string): Promise<void> {
    await this.node?.notify(agent);
  }

  /**
   * The URL of the node that runs the agent when that is another node; undefined when it is this
   * one or none. A node whose log was seen to fork is not forwarded to (CLUSTER_PEER_UNTRUSTED).
   */
  async ownerElsewhere(agent: string): Promise<URL | undefined> {
    const owner = await this.node?.ownerOf(agent);
    if (owner === undefined || owner.id === this.settings.nodeId) return undefined;
    if (!this.trusted(owner.url))
      throw clusterError(
        'CLUSTER_PEER_UNTRUSTED',
        `node ${owner.id} showed a fork of its log and is no longer trusted; see oacp log cosigned`,
      );
    return new URL(owner.url);
  }

  /** Which members may be forwarded to: the checkpoint gossip's verdict (set once it runs). */
  trustPeersBy(trusted: (url: string) => boolean): void {
    this.trusted = trusted;
  }

  /** The transport to other members: mutual TLS with `cluster.tls`, else plain fetch. */
  get fetch(): typeof fetch {
    return this.settings.tls?.fetch ?? fetch;
  }

  /**
   * Whether a caller that authenticated with a certificate naming `nodeId` is a member etcd
   * lists now (the node identity the certificate must match). Members are re-read every 5 s,
   * and on a miss at most once a second, so a node that just joined is not refused for long.
   */
  async isMember(nodeId: string): Promise<boolean> {
    const age = Date.now() - this.membersReadAt;
    // A hit is trusted for 5 s (a member that left loses access within that), a miss for 1 s.
    if (age < 5_000 && this.knownMembers.has(nodeId)) return true;
    if (age < 1_000) return false;
    this.membersReadAt = Date.now();
    const members = (await this.node?.members()) ?? [];
    this.knownMembers = new Set(members.map((member) => member.id));
    return this.knownMembers.has(nodeId);
  }

  /** The other members that publish a log key: this node's checkpoint gossip peers. */
  async peers(): Promise<GossipPeerSpec[]> {
    const members = (await this.node?.members()) ?? [];
    return members.flatMap((member) =>
      member.id === this.settings.nodeId || member.logKey === undefined
        ? []
        : [{ url: member.url, logKey: member.logKey, witnessKey: member.witnessKey }],
    );
  }

  async leave(): Promise<void> {
    await this.node?.leave();
  }
}
