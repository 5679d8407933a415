import { type Campaign, type Election, Etcd3, type Lease, type Watcher } from 'etcd3';
import { describeError } from '../core/errors.js';
import { clusterError } from './errors.js';
import { type HandOver, parseHandOver } from './hand-over.js';
import { type ClusterKeys, clusterKeys, validSegment } from './keys.js';
import type { Member } from './member.js';
import { planPlacement } from './placement.js';
import { readMembers, readPlacements, readRemembered } from './status.js';

/** How often the lease is checked, and how much before its TTL the node stops serving. */
const CHECK_MS = 100;
const LAPSE_MARGIN_MS = 2 * CHECK_MS;
/**
 * The lease deadline's clock: monotonic, so a wall clock stepped back (NTP, an operator, a VM restored)
 * cannot stretch the deadline past etcd's expiry of the lease, and one stepped forward cannot end it early.
 */
const monotonic = (): number => performance.now();

export interface ClusterNodeOptions {
  /** etcd client URLs (`http://127.0.0.1:2379`). */
  readonly endpoints: readonly string[];
  readonly nodeId: string;
  /** Where other nodes forward requests for agents this node owns. */
  readonly url: string;
  /** Published in the member record, for checkpoint gossip and cosigning (src/cluster/gossip-service.ts). */
  readonly logKey?: string;
  readonly witnessKey?: string;
  /** The did:key other nodes encrypt migrating agent state to; published in the member record. */
  readonly transferKey?: string;
  /** `cluster.tls: node-key`: the did:key of the node's TLS key, which peers pin. */
  readonly nodeKey?: string;
  readonly prefix?: string;
  /** Lease time to live, seconds (default 3): how long a dead or cut-off node keeps its agents. */
  readonly ttlSeconds?: number;
  /** How often the leader re-checks placement besides reacting to changes (ms, default 1000). */
  readonly reconcileMs?: number;
  /** Agents that should be running somewhere (the shared store's `running` agents). */
  wanted(): Promise<readonly string[]>;
  /** This node now owns the agent: start its sandbox. */
  onOwn(agent: string): Promise<void> | void;
  /** This node no longer owns the agent (released, re-placed, or the lease lapsed): stop serving it. */
  onDisown(agent: string, reason: string): Promise<void> | void;
  /** Something logged; never secrets. */
  onEvent?(event: string): void;
}

/**
 * One gateway's membership in a cluster coordinated by etcd. The node holds a
 * lease; its member record and the owner keys of the agents it runs are
 * attached to that lease, so when the node dies or is cut off from etcd they
 * vanish after the TTL and the leader places those agents on live nodes.
 * The node stops serving its agents on its own as soon as it has gone a TTL
 * without a successful keepalive: by then etcd may have handed them to
 * someone else, and one agent must never run on two nodes.
 */
export class ClusterNode {
  private readonly keys: ClusterKeys;
  private readonly ttl: number;
  private readonly mine = new Set<string>();
  private lease: Lease | undefined;
  private leaseId = '';
  private lastKeepAlive = 0;
  private serving = false;
  private leading = false;
  private closed = false;
  private election: Election | undefined;
  private campaign: Campaign | undefined;
  private readonly watchers: Watcher[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly ownerListeners = new Set<(agent: string) => void>();
  private reconciling: Promise<void> = Promise.resolve();

  private constructor(
    private readonly client: Etcd3,
    private readonly options: ClusterNodeOptions,
  ) {
    this.keys = clusterKeys(options.prefix);
    this.ttl = options.ttlSeconds ?? 3;
  }

  static async join(options: ClusterNodeOptions): Promise<ClusterNode> {
    if (!validSegment(options.nodeId)) {
      throw clusterError(
        'CLUSTER_CONFIG_INVALID',
        `cluster node id "${options.nodeId}" must be 1-200 of A-Z a-z 0-9 . _ : -`,
      );
    }
    if (options.endpoints.length === 0)
      throw clusterError('CLUSTER_CONFIG_INVALID', 'cluster.etcd lists no endpoints');
    const client = new Etcd3({ hosts: [...options.endpoints], dialTimeout: 2_000 });
    const node = new ClusterNode(client, options);
    try {
      await node.register();
      await node.watch();
      node.elect();
      node.timers.push(setInterval(() => node.checkLease(), CHECK_MS));
      node.timers.push(setInterval(() => node.scheduleReconcile(), options.reconcileMs ?? 1_000));
      return node;
    } catch (error) {
      await node.leave().catch(() => undefined);
      throw clusterError(
        'CLUSTER_UNAVAILABLE',
        `cannot join the cluster at ${options.endpoints.join(', ')}: ${describeError(error)}`,
        error,
      );
    }
  }

  get id(): string {
    return this.options.nodeId;
  }

  /** Agents this node owns and may serve right now. */
  owned(): ReadonlySet<string> {
    return this.stillServing() ? new Set(this.mine) : new Set();
  }

  isServing(): boolean {
    return this.stillServing();
  }

  isLeader(): boolean {
    return this.leading && this.stillServing();
  }

  /**
   * Whether the lease deadline is still ahead, checked now rather than by the last timer tick: a process
   * paused past its TTL (SIGSTOP, a long GC, a VM paused) answers requests waiting on its sockets before
   * its timers run, and by then etcd may have given its agents to another node.
   */
  private stillServing(): boolean {
    this.checkLease();
    return this.serving;
  }

  members(): Promise<Member[]> {
    return readMembers(this.client, this.keys);
  }

  async leader(): Promise<string | undefined> {
    return (await this.election?.leader()) ?? undefined;
  }

  /** The node that owns the agent, to forward its requests to; undefined when it is not placed. */
  async ownerOf(agent: string): Promise<Member | undefined> {
    const owner = await this.client.get(this.keys.owner(agent)).string();
    if (owner === null) return undefined;
    return (await this.members()).find((m) => m.id === owner);
  }

  /**
   * Calls `listener` with the agent's id each time etcd's watch reports its owner key written or
   * deleted (placed, moved, released), on any node; returns the call that stops listening.
   */
  onOwnerChange(listener: (agent: string) => void): () => void {
    this.ownerListeners.add(listener);
    return () => this.ownerListeners.delete(listener);
  }

  placements(): Promise<Map<string, string>> {
    return readPlacements(this.client, this.keys);
  }

  /**
   * Moves an agent this node owns to `to` in one compare-and-set: the owner
   * key changes only if it still names this node under this node's lease, and
   * then carries `to`'s lease; the same transaction records the hand-over of
   * the state (`migrations/<agent>`), so the target restores that state only
   * if the move happened. False when it did not (not ours any more, or our
   * lease lapsed): the caller keeps or drops nothing on a false.
   */
  async handOff(agent: string, to: Member, handOver: HandOver): Promise<boolean> {
    if (!this.stillServing() || !this.mine.has(agent)) return false;
    const key = this.keys.owner(agent);
    const result = await this.client
      .if(key, 'Value', '==', this.options.nodeId)
      .and(key, 'Lease', '==', this.leaseId)
      .then(
        this.client.put(key).value(to.id).lease(to.lease),
        this.client.put(this.keys.migration(agent)).value(JSON.stringify(handOver)),
      )
      .commit();
    if (result.succeeded) this.event(`handed ${agent} to ${to.id}`);
    return result.succeeded;
  }

  /** The last hand-over of the agent's state etcd recorded (handOff); undefined when none. */
  async handedOver(agent: string): Promise<HandOver | undefined> {
    return parseHandOver(await this.client.get(this.keys.migration(agent)).string());
  }

  /** An agent's lifecycle changed (on this node or any): the leader re-places, the owner hears of it. */
  async notify(agent: string): Promise<void> {
    if (!validSegment(agent))
      throw clusterError('CLUSTER_CONFIG_INVALID', 'agent ids are key segments without slashes');
    await this.client.put(this.keys.lifecycleOf(agent)).value(String(Date.now()));
  }

  /** Leaves on purpose: gives the agents up at once (no TTL wait) and closes the client. */
  async leave(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.stopServing('the node left the cluster');
    await this.campaign?.resign().catch(() => undefined);
    for (const watcher of this.watchers) await watcher.cancel().catch(() => undefined);
    await this.lease?.revoke().catch(() => undefined);
    this.client.close();
  }

  private async register(): Promise<void> {
    const lease = this.client.lease(this.ttl);
    this.leaseId = await lease.grant();
    this.lease = lease;
    this.lastKeepAlive = monotonic();
    // Counted from when the keepalive was sent, not answered: etcd received it no earlier,
    // so our deadline (sent + TTL) is never later than etcd's expiry of the lease.
    let fired = monotonic();
    lease.on('keepaliveFired', () => {
      fired = monotonic();
    });
    lease.on('keepaliveSucceeded', () => {
      this.lastKeepAlive = fired;
    });
    lease.on('lost', (error) => void this.lapsed(`lease lost: ${describeError(error)}`));
    const { logKey, witnessKey } = this.options;
    const member: Member = {
      id: this.options.nodeId,
      url: this.options.url,
      lease: this.leaseId,
      ...(logKey === undefined ? {} : { logKey }),
      ...(witnessKey === undefined ? {} : { witnessKey }),
      ...(this.options.transferKey === undefined ? {} : { transferKey: this.options.transferKey }),
      ...(this.options.nodeKey === undefined ? {} : { nodeKey: this.options.nodeKey }),
    };
    await lease.put(this.keys.node(this.options.nodeId)).value(JSON.stringify(member));
    this.serving = true;
    this.event(`joined with lease ${this.leaseId}`);
  }

  private async watch(): Promise<void> {
    const owners = await this.client.watch().prefix(this.keys.owners).create();
    owners.on('put', (kv) => void this.ownerChanged(kv.key.toString(), kv.value.toString(), kv.lease));
    owners.on('delete', (kv) => void this.ownerChanged(kv.key.toString(), undefined, '0'));
    const nodes = await this.client.watch().prefix(this.keys.nodes).create();
    nodes.on('delete', () => this.scheduleReconcile());
    nodes.on('put', () => this.scheduleReconcile());
    const lifecycle = await this.client.watch().prefix(this.keys.lifecycle).create();
    lifecycle.on('put', () => this.scheduleReconcile());
    this.watchers.push(owners, nodes, lifecycle);
    // Owner keys written before the watch started.
    for (const [agent, owner] of await this.placements()) {
      if (owner === this.options.nodeId) await this.ownerChanged(this.keys.owner(agent), owner, this.leaseId);
    }
  }

  private async ownerChanged(key: string, owner: string | undefined, lease: string): Promise<void> {
    const agent = key.slice(this.keys.owners.length);
    for (const listener of this.ownerListeners) listener(agent);
    const ours = owner === this.options.nodeId && lease === this.leaseId && this.serving;
    if (ours && !this.mine.has(agent)) {
      this.mine.add(agent);
      this.event(`own ${agent}`);
      await this.safely(() => this.options.onOwn(agent));
    } else if (!ours && this.mine.has(agent)) {
      this.mine.delete(agent);
      this.event(`disown ${agent}`);
      await this.safely(() =>
        this.options.onDisown(agent, owner === undefined ? 'released' : `now owned by ${owner}`),
      );
    }
  }

  private elect(): void {
    if (this.closed) return;
    this.election = this.client.election(this.keys.leader, this.ttl);
    const campaign = this.election.campaign(this.options.nodeId);
    this.campaign = campaign;
    campaign.on('elected', () => {
      this.leading = true;
      this.event('elected leader');
      this.scheduleReconcile();
    });
    campaign.on('error', (error) => {
      this.leading = false;
      this.event(`campaign failed: ${describeError(error)}`);
      const retry = setTimeout(() => this.elect(), 1_000);
      this.timers.push(retry);
    });
  }

  /** A TTL without a successful keepalive: etcd may already have given our agents away. */
  private checkLease(): void {
    // Less a check interval and a margin: by the time etcd could give our agents away we have stopped.
    if (this.serving && monotonic() - this.lastKeepAlive > this.ttl * 1000 - LAPSE_MARGIN_MS) {
      void this.lapsed('no keepalive reached etcd within the lease TTL');
    }
  }

  private async lapsed(reason: string): Promise<void> {
    if (!this.serving || this.closed) return;
    this.event(`stopped serving: ${reason}`);
    await this.stopServing(reason);
    this.leading = false;
    await this.campaign?.resign().catch(() => undefined);
    this.lease?.release();
    this.rejoin();
  }

  private rejoin(): void {
    if (this.closed) return;
    const retry = setTimeout(async () => {
      try {
        await this.register();
        this.elect();
        this.scheduleReconcile();
      } catch {
        this.rejoin();
      }
    }, 1_000);
    this.timers.push(retry);
  }

  private async stopServing(reason: string): Promise<void> {
    this.serving = false;
    for (const agent of [...this.mine]) {
      this.mine.delete(agent);
      this.event(`disown ${agent}`);
      await this.safely(() => this.options.onDisown(agent, reason));
    }
  }

  private scheduleReconcile(): void {
    if (!this.isLeader()) return;
    this.reconciling = this.reconciling
      .then(() => this.reconcile())
      .catch((error: unknown) => {
        this.event(`placement failed: ${describeError(error)}`);
      });
  }

  /**
   * The leader's job: every wanted agent gets one live owner (compare-and-set), unwanted ones are
   * released, and no key outlives an agent that is no longer wanted.
   */
  private async reconcile(): Promise<void> {
    if (!this.isLeader()) return;
    const [wanted, owners, members, remembered] = await Promise.all([
      this.options.wanted(),
      this.placements(),
      this.members(),
      readRemembered(this.client, this.keys),
    ]);
    const want = wanted.filter((agent) => validSegment(agent));
    const plan = planPlacement(want, owners, members);
    for (const agent of plan.release) await this.forget(agent, owners.get(agent));
    const wantedSet = new Set(want);
    for (const agent of remembered) {
      if (!wantedSet.has(agent) && !owners.has(agent)) await this.forget(agent, undefined);
    }
    for (const [agent, member] of plan.assign) {
      const key = this.keys.owner(agent);
      const previous = owners.get(agent);
      const guard =
        previous === undefined
          ? this.client.if(key, 'Create', '==', 0)
          : this.client.if(key, 'Value', '==', previous);
      const result = await guard.then(this.client.put(key).value(member.id).lease(member.lease)).commit();
      if (result.succeeded) this.event(`placed ${agent} on ${member.id}`);
    }
  }

  /**
   * An agent no longer wanted: its owner key (when it still names `owner`), its last hand-over and
   * its lifecycle key go in one transaction; a placement that changed meanwhile (a move, a new
   * owner) leaves all of them for the next round.
   */
  private async forget(agent: string, owner: string | undefined): Promise<void> {
    const key = this.keys.owner(agent);
    const guard =
      owner === undefined
        ? this.client.if(key, 'Create', '==', 0)
        : this.client.if(key, 'Value', '==', owner);
    await guard
      .then(
        this.client.delete().key(key),
        this.client.delete().key(this.keys.migration(agent)),
        this.client.delete().key(this.keys.lifecycleOf(agent)),
      )
      .commit();
  }

  private async safely(fn: () => Promise<void> | void): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.event(`callback failed: ${describeError(error)}`);
    }
  }

  private event(text: string): void {
    this.options.onEvent?.(`${this.options.nodeId}: ${text}`);
  }
}
