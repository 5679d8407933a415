import { ClusterNode } from '../../cluster/cluster-node.js';
import { clusterError } from '../../cluster/errors.js';
import type { GossipPeerSpec } from '../../cluster/gossip-service.js';
import type { Member } from '../../cluster/member.js';
import type { ClusterTls } from '../../cluster/tls.js';
import { readCappedBody } from '../../core/capped-body.js';
import { describeError, isOacpError } from '../../core/errors.js';
import type { Logger } from '../observability/logger.js';
import type { AgentDirectory } from './agent-directory.js';
import { AgentMigrations, type MigrationResult } from './agent-migration.js';
import type { AgentRuntime } from './agent-runtime.js';
import { InboundTransfers } from './inbound-transfers.js';
import type { MigrationEnvelope } from './migration-envelope.js';
import type { ReceiptRecorder } from './receipt-recorder.js';
import type { TransferKey } from './transfer-key.js';

/** Longer than the store-backed agent directory keeps a record. */
const RECORD_CACHE_MS = 1_100;
/** How long a node waits for an agent it was just given to finish starting before answering for it. */
const START_WAIT_MS = 10_000;
/** While a run waits for an agent's owner: the longest between two reads of it, watch events aside. */
const OWNER_REREAD_MS = 1_000;
/** Where a node takes migration envelopes (public route: the envelope authenticates itself). */
export const MIGRATIONS_PATH = '/v1/cluster/migrations';

export interface GatewayClusterSettings {
  readonly etcd: readonly string[];
  readonly nodeId: string;
  readonly ttlSeconds: number;
  /** Published in this node's member record for checkpoint gossip. */
  readonly logKey?: string;
  readonly witnessKey?: string;
  /** Node-to-node mutual TLS (`cluster.tls`): forwarding and gossip present this node's certificate. */
  readonly tls?: ClusterTls;
  /** On shutdown, how long to spend moving agents to live nodes (ms, default 10 s). */
  readonly drainMs?: number;
  /** The node's durable transfer key (TransferKey.derive from its log key). */
  readonly transferKey: TransferKey;
  /** Where accepted migration envelopes are kept sealed across a restart (in the node's home). */
  readonly inboundDir?: string;
}

/**
 * The gateway as a cluster member (docs/cluster.md): it starts sandboxes only
 * for the agents etcd places on it and stops them when they are placed
 * elsewhere or its lease lapses; lifecycle changes made here are announced so
 * the leader re-places and the owner reacts; requests for an agent it does not
 * run are forwarded to the owner; agents move between nodes with their state.
 */
export class GatewayCluster {
  private node: ClusterNode | undefined;
  private knownMembers = new Map<string, Member>();
  private trusted: (url: string) => boolean = () => true;
  private membersReadAt = 0;
  private migrations: AgentMigrations | undefined;
  private get key(): TransferKey {
    return this.settings.transferKey;
  }

  constructor(
    private readonly settings: GatewayClusterSettings,
    private readonly agents: AgentDirectory,
    private readonly runtime: AgentRuntime,
    private readonly receipts: ReceiptRecorder,
    private readonly logger: Logger,
  ) {}

  get nodeId(): string {
    return this.settings.nodeId;
  }

  /**
   * Joins once the gateway listens, so the URL other nodes forward to is known. States the home
   * kept across a restart are read first: an agent placed here as the node joins finds its own,
   * and one that expired meanwhile is said now rather than when that agent is next placed here.
   */
  async join(url: URL): Promise<void> {
    const migrations = new AgentMigrations({
      nodeId: this.settings.nodeId,
      key: this.key,
      runtime: this.runtime,
      receipts: this.receipts,
      members: () => this.withinLease(this.joined().members(), 'the cluster members'),
      owns: (agent) => this.node?.owned().has(agent) === true,
      handOff: (agent, to, handOver) => this.joined().handOff(agent, to, handOver),
      handedOver: (agent) => this.withinLease(this.joined().handedOver(agent), "the agent's last hand-over"),
      program: (agent) => this.program(agent),
      send: (target, envelope) => send(this.fetch, target, envelope),
      ...(this.settings.inboundDir === undefined
        ? {}
        : { inbound: new InboundTransfers(this.settings.inboundDir) }),
      warn: (message, fields) => this.logger.warn(message, fields),
    });
    this.migrations = migrations;
    await migrations.recover();
    try {
      this.node = await ClusterNode.join({
        endpoints: this.settings.etcd,
        nodeId: this.settings.nodeId,
        url: url.href,
        transferKey: this.key.did,
        ...(this.settings.tls?.nodeKey === undefined ? {} : { nodeKey: this.settings.tls.nodeKey }),
        ttlSeconds: this.settings.ttlSeconds,
        ...(this.settings.logKey === undefined ? {} : { logKey: this.settings.logKey }),
        ...(this.settings.witnessKey === undefined ? {} : { witnessKey: this.settings.witnessKey }),
        wanted: async () => (await this.agents.list()).filter((a) => a.state === 'running').map((a) => a.id),
        onOwn: (id) => this.own(id),
        onDisown: (id) => this.runtime.stop(id),
        onEvent: (event) => this.logger.info('cluster', { event }),
      });
    } catch (error) {
      migrations.close();
      throw error;
    }
  }

  private joined(): ClusterNode {
    if (this.node === undefined) throw clusterError('CLUSTER_CLOSED', 'the node has not joined');
    return this.node;
  }

  /** A lifecycle change made on this node: the leader re-places, the owner starts or stops the sandbox. */
  async changed(agent: string): Promise<void> {
    await this.node?.notify(agent);
  }

  /**
   * The URL of the node that runs the agent when that is another node;
   * undefined when it is this one or none. A node cut off from etcd answers
   * nothing for anyone: it cannot know who owns what (CLUSTER_NOT_OWNER, 503). A node whose log
   * was seen to fork is not forwarded to (CLUSTER_PEER_UNTRUSTED).
   */
  async ownerElsewhere(agent: string): Promise<URL | undefined> {
    const node = this.node;
    if (node === undefined) return undefined;
    if (!node.isServing()) {
      throw clusterError(
        'CLUSTER_NOT_OWNER',
        `node ${this.settings.nodeId} lost its etcd lease and serves no agents until it rejoins; retry on another node`,
      );
    }
    let owner: Member | undefined;
    try {
      owner = await this.withinLease(node.ownerOf(agent), "the agent's owner");
    } catch (error) {
      if (isOacpError(error) && error.code === 'CLUSTER_UNAVAILABLE') throw error;
      // etcd did not answer (no quorum, no reachable member): nobody here can say who owns it.
      throw clusterError(
        'CLUSTER_UNAVAILABLE',
        `node ${this.settings.nodeId} cannot read the agent's owner from etcd (${describeError(error)}); retry later`,
        error,
      );
    }
    if (owner === undefined || owner.id === this.settings.nodeId) return undefined;
    if (!this.trusted(owner.url))
      throw clusterError(
        'CLUSTER_PEER_UNTRUSTED',
        `node ${owner.id} showed a fork of its log and is no longer trusted; see oacp log cosigned`,
      );
    return new URL(owner.url);
  }

  /**
   * An etcd read bounded by the lease TTL: an etcd that is stopped (SIGSTOP, a frozen VM) keeps its
   * connections and never says no, and a request waiting on it longer than a lease is one whose answer
   * could no longer be trusted (our own lease may have lapsed meanwhile).
   */
  private async withinLease<T>(read: Promise<T>, what: string): Promise<T> {
    const ms = this.settings.ttlSeconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            clusterError(
              'CLUSTER_UNAVAILABLE',
              `node ${this.settings.nodeId} cannot read ${what} from etcd: no answer within the lease TTL (${this.settings.ttlSeconds} s); retry later`,
            ),
          ),
        ms,
      );
    });
    try {
      return await Promise.race([read, late]);
    } finally {
      clearTimeout(timer);
    }
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
   * lists now (the node identity the certificate must match), and, with `key` (node-key mode),
   * whether that member publishes exactly this node key. Members are re-read every 5 s, and on
   * a miss at most once a second, so a node that just joined is not refused for long.
   */
  async isMember(nodeId: string, key?: string): Promise<boolean> {
    const member = await this.member((m) => m.id === nodeId);
    if (member === undefined) return false;
    return key === undefined || member.nodeKey === key;
  }

  /** node-key mode: the node key published by the member at this origin (what a server must present). */
  async pinnedKey(origin: string): Promise<string | undefined> {
    return (await this.memberAt(origin))?.nodeKey;
  }

  /** The URL of the member with this node id, as etcd lists it; undefined for no such member. */
  async memberUrl(nodeId: string): Promise<URL | undefined> {
    const member = await this.member((m) => m.id === nodeId);
    return member === undefined ? undefined : new URL(member.url);
  }

  /** The member registered at this origin (CA mode: the node id a server's certificate must name). */
  async memberAt(origin: string): Promise<Member | undefined> {
    return this.member((m) => new URL(m.url).origin === origin);
  }

  private async member(match: (member: Member) => boolean): Promise<Member | undefined> {
    const age = Date.now() - this.membersReadAt;
    // A hit is trusted for 5 s (a member that left loses access within that), a miss for 1 s.
    const known = [...this.knownMembers.values()].find(match);
    if (age < 5_000 && known !== undefined) return known;
    if (age < 1_000) return undefined;
    this.membersReadAt = Date.now();
    const members = (await this.node?.members()) ?? [];
    this.knownMembers = new Map(members.map((member) => [member.id, member]));
    return members.find(match);
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

  /**
   * Where a run of `agent` (wanted running, refused here as not running) goes while it is between
   * owners: a migration just moved it, a node's lease lapsed and the leader is placing it again, or
   * the new owner (this node included) has not heard of its placement or started its sandbox yet.
   * Waits, bounded by START_WAIT_MS, until this node runs it ('here') or etcd names another owner
   * (its URL, when `mayForward`). etcd is read again when its watch reports the agent's owner
   * changed (or a second passed); the local start is checked every 50 ms. The run has not executed
   * anywhere when this is asked, so running it once there keeps it exactly once. Throws
   * CLUSTER_NOT_OWNER (503, the run did not happen) when no node started it in time, or when it
   * moved on again and the run may not be forwarded any more.
   */
  async awaitOwner(agent: string, mayForward: boolean): Promise<'here' | URL> {
    const node = this.node;
    if (node === undefined) throw clusterError('CLUSTER_CLOSED', 'the node has not joined');
    const deadline = Date.now() + START_WAIT_MS;
    // Listening before the first read: a placement written after it is not missed.
    let stale = true;
    let readAt = 0;
    const stopListening = node.onOwnerChange((changed) => {
      if (changed === agent) stale = true;
    });
    try {
      for (;;) {
        const { status } = this.runtime.status(agent);
        if (status !== 'stopped' && status !== 'restarting') return 'here';
        // A watch that is reconnecting reports late: etcd is read again at least every second anyway.
        if (stale || Date.now() >= readAt + OWNER_REREAD_MS) {
          stale = false;
          readAt = Date.now();
          const elsewhere = await this.ownerElsewhere(agent);
          if (elsewhere !== undefined && mayForward) return elsewhere;
          if (elsewhere !== undefined) {
            throw clusterError(
              'CLUSTER_NOT_OWNER',
              `agent ${agent} moved on to another node while this run was forwarded to ${this.settings.nodeId}; the run did not happen; retry`,
            );
          }
        }
        if (Date.now() >= deadline) {
          throw clusterError(
            'CLUSTER_NOT_OWNER',
            `agent ${agent} is between nodes: none started it within ${START_WAIT_MS / 1000} s (it is being placed, or its owner cannot start it: see that node's log); the run did not happen; retry`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      stopListening();
    }
  }

  /**
   * For a request that cannot be handed on any more (an A2A message whose nonce this node has
   * spent): awaitOwner, and CLUSTER_NOT_OWNER, saying it did not run, when the agent runs elsewhere.
   */
  async awaitRunningHere(agent: string): Promise<void> {
    const where = await this.awaitOwner(agent, true);
    if (where !== 'here') {
      throw clusterError(
        'CLUSTER_NOT_OWNER',
        `agent ${agent} moved to another node while this message waited on ${this.settings.nodeId}; the message did not run; send it again`,
      );
    }
  }

  /** Waits (bounded) while this node owns the agent and its sandbox is still starting. */
  async awaitStarted(agent: string): Promise<void> {
    const deadline = Date.now() + START_WAIT_MS;
    while (Date.now() < deadline && this.node?.owned().has(agent) === true) {
      const { status } = this.runtime.status(agent);
      if (status !== 'stopped' && status !== 'restarting') return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** `oacp agent migrate ID --to NODE` on the owner. */
  migrate(agent: string, to: string): Promise<MigrationResult> {
    if (this.migrations === undefined) throw clusterError('CLUSTER_CLOSED', 'the node has not joined');
    return this.migrations.migrate(agent, to);
  }

  /** Another node's envelope for an agent about to be placed here. */
  accept(envelope: unknown): Promise<{ agent: string; stateDigest: string }> {
    if (this.migrations === undefined) throw clusterError('CLUSTER_CLOSED', 'the node has not joined');
    return this.migrations.accept(envelope);
  }

  /**
   * On shutdown: moves each agent this node runs to the live node running
   * the fewest, with its state, within `drainMs`; what is left when the time
   * is up (or has no live node to go to) is released by leaving, and the
   * leader restarts it elsewhere without its in-sandbox state.
   */
  async drainAndLeave(): Promise<void> {
    const node = this.node;
    if (node?.isServing()) {
      const deadline = Date.now() + (this.settings.drainMs ?? 10_000);
      const drained = this.drain(node, deadline);
      const left = Math.max(0, deadline - Date.now());
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
    this.migrations?.close();
    await this.node?.leave();
  }

  async leave(): Promise<void> {
    this.migrations?.close();
    await this.node?.leave();
  }

  private async drain(node: ClusterNode, deadline: number): Promise<void> {
    for (const agent of node.owned()) {
      if (Date.now() >= deadline) return;
      let targets: readonly Member[];
      try {
        // Bounded by the lease like every other read: an etcd that stalls must not keep the drain
        // waiting past the lease that lets it hand anything over (it then gives up, saying why).
        targets = await this.withinLease(byLoad(node, this.settings.nodeId), 'the members and their load');
      } catch (error) {
        this.logger.warn('agent not drained', { agent, error: describeError(error) });
        continue;
      }
      // A member whose lease has not lapsed yet may already be gone (killed, partitioned): the
      // next one by load is tried, so one dead member does not cost the agent its state.
      for (const target of targets) {
        if (Date.now() >= deadline) return;
        try {
          const moved = await this.migrate(agent, target.id);
          this.logger.info('agent drained', { agent, to: moved.target, stateDigest: moved.stateDigest });
          break;
        } catch (error) {
          this.logger.warn('agent not drained', { agent, to: target.id, error: describeError(error) });
        }
      }
    }
  }

  private async own(id: string): Promise<void> {
    let agent = await this.agents.get(id);
    if (agent?.state !== 'running') {
      // The directory caches records for a second: a start made on another node may not show yet.
      await new Promise((resolve) => setTimeout(resolve, RECORD_CACHE_MS));
      agent = await this.agents.get(id);
    }
    if (agent === undefined || agent.state !== 'running') return;
    const program = {
      did: agent.id,
      name: agent.name,
      manifest: agent.manifest,
      attributes: agent.attributes,
      code: agent.code,
    };
    await this.runtime.start(program, undefined, await this.migrations?.restorer(program));
  }

  private async program(id: string) {
    const agent = await this.agents.get(id);
    return agent === undefined
      ? undefined
      : {
          did: agent.id,
          name: agent.name,
          manifest: agent.manifest,
          attributes: agent.attributes,
          code: agent.code,
        };
  }
}

/** Live members other than `self` that can take an agent's state, the least loaded first. */
async function byLoad(node: ClusterNode, self: string): Promise<Member[]> {
  const [members, placements] = await Promise.all([node.members(), node.placements()]);
  const load = new Map<string, number>();
  for (const owner of placements.values()) load.set(owner, (load.get(owner) ?? 0) + 1);
  return members
    .filter((m) => m.id !== self && m.transferKey !== undefined)
    .sort((a, b) => (load.get(a.id) ?? 0) - (load.get(b.id) ?? 0) || a.id.localeCompare(b.id));
}

/** Posts the envelope to the target over the members' transport (mutual TLS with `cluster.tls`). */
async function send(transport: typeof fetch, target: Member, envelope: MigrationEnvelope): Promise<void> {
  let answer: Response;
  try {
    answer = await transport(new URL(MIGRATIONS_PATH, target.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(envelope),
      signal: AbortSignal.timeout(5_000),
    });
  } catch (error) {
    throw clusterError(
      'CLUSTER_MIGRATION_REFUSED',
      `node ${target.id} at ${target.url} did not answer: ${describeError(error)}`,
    );
  }
  if (!answer.ok) {
    // Read to a cap: a peer streaming without end must not fill this node's memory for an error line.
    const body = await readCappedBody(answer.body, 64 * 1024).catch(() => undefined);
    const text =
      body === undefined ? '(no readable answer under 64 KiB)' : body.toString('utf8').slice(0, 300);
    throw clusterError(
      'CLUSTER_MIGRATION_REFUSED',
      `node ${target.id} refused the state (${answer.status}): ${text}`,
    );
  }
}
