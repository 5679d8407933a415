import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Signer } from '../core/ed25519.js';
import { describeError, isOacpError } from '../core/errors.js';
import { openCheckpoint } from '../log/checkpoint.js';
import { type GossipLocal, gossipCheck } from '../log/gossip.js';
import { Witness } from '../log/witness.js';
import { type CosignedCheckpoint, OwnCosignatures, type RejectedCosignature } from './cosign-collect.js';
import { clusterError } from './errors.js';
import { type ForkRecord, ForkRecords } from './gossip-forks.js';
import { type HttpGossipPeer, httpGossipPeer, type WitnessView } from './gossip-peer.js';
import { witnessName, witnessVerifierKey } from './witness-key.js';

/** A gateway to gossip with: from `log.peers` in oacp.yaml or a cluster member record. */
export interface GossipPeerSpec {
  readonly url: string;
  /** Its log's type 0x01 vkey: its checkpoints must verify with it. */
  readonly logKey: string;
  /** Its type 0x04 vkey: its cosignatures on our checkpoints are kept only with it. */
  readonly witnessKey?: string | undefined;
}

export interface PeerStatus {
  readonly url: string;
  readonly origin?: string | undefined;
  readonly trusted: boolean;
  /** The size of the peer's latest checkpoint this node verified and cosigned. */
  readonly size?: number | undefined;
  readonly checkedAt?: string | undefined;
  readonly error?: string | undefined;
}

/** A fork seen in gossip: a security event for the gateway to record and count. */
export interface ForkEvent extends ForkRecord {}

export interface CheckpointGossipOptions {
  /** `<home>/log-gossip`: witness state, cosigned checkpoints, fork records. */
  readonly dir: string;
  readonly origin: string;
  readonly log: GossipLocal & {
    readonly verifierKey: string;
    refresh(): Promise<void>;
  };
  /** The node's cosigning key (witness-key.ts). */
  readonly witness: Signer;
  /** The peers now: re-read every round (cluster membership changes). */
  peers(): Promise<readonly GossipPeerSpec[]>;
  readonly intervalMs: number;
  /** The transport to peers (mutual TLS in a cluster). */
  readonly fetchImpl?: typeof fetch;
  onFork(event: ForkEvent): Promise<void> | void;
  /** A kept cosignature (or the kept checkpoint) failed verification on load: a security event. */
  onBadCosignature?(event: RejectedCosignature & { readonly at: string }): Promise<void> | void;
  onError?(peer: string, error: string): void;
  readonly now?: () => number;
}

/**
 * Gateways that know each other gossip checkpoints on their own (issue 11 item 4, issue 13
 * item 4). Every round, for each peer: fetch its latest checkpoint, verify it with its log key,
 * ask for a consistency proof from the last one this node cosigned, and cosign it as a
 * c2sp.org/tlog-witness would (the Witness keeps the last tree per origin, durably); then fetch
 * the peer's cosignatures of this log and keep those that verify. A peer serving this very log
 * key is checked against the local tree instead (a copied home). Two trees at one size, a
 * rollback or a failing proof is a fork: recorded durably, reported through `onFork` (a
 * security event), and the peer is no longer trusted: not gossiped with or cosigned again.
 */
export class CheckpointGossip {
  private readonly status = new Map<string, PeerStatus>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  private constructor(
    private readonly options: CheckpointGossipOptions,
    private readonly witness: Witness,
    private readonly own: OwnCosignatures,
    private readonly forks: ForkRecords,
  ) {}

  static async start(options: CheckpointGossipOptions): Promise<CheckpointGossip> {
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    const witness = await Witness.open(join(options.dir, 'witness-state.json'), {
      name: witnessName(options.origin),
      signer: options.witness,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    // Kept cosignatures are verified again with the peers' witness keys as they are now.
    const peers = await options.peers().catch((error: unknown) => {
      options.onError?.('(peers)', describeError(error));
      return [];
    });
    const witnessKeys = peers.flatMap((peer) => (peer.witnessKey === undefined ? [] : [peer.witnessKey]));
    const loaded = await OwnCosignatures.open(join(options.dir, 'own.cosigned'), options.log, witnessKeys);
    const own = loaded.kept;
    for (const rejected of loaded.rejected) {
      const at = new Date(options.now === undefined ? Date.now() : options.now() * 1000).toISOString();
      if (rejected.security) await options.onBadCosignature?.({ ...rejected, at });
      else options.onError?.(rejected.witness, `a kept cosignature was left out: ${rejected.reason}`);
    }
    const forks = await ForkRecords.open(join(options.dir, 'forks.json'));
    const gossip = new CheckpointGossip(options, witness, own, forks);
    gossip.schedule(0);
    return gossip;
  }

  /** This node's cosigning key (type 0x04), for peers' `witness_key`. */
  get witnessKey(): string {
    return witnessVerifierKey(this.options.origin, this.options.witness);
  }

  /** The latest checkpoint of this log that peers cosigned, and who did. */
  get cosigned(): CosignedCheckpoint | undefined {
    return this.own.latest;
  }

  /** The published checkpoint with the cosignatures kept for it. */
  withCosignatures(note: string): string {
    return this.own.withCosignatures(note);
  }

  /** Whether the peer (by URL, or log origin) has not shown a fork. */
  isTrusted(url: string, origin: string | undefined = this.status.get(url)?.origin): boolean {
    return this.forks.of(url, origin) === undefined;
  }

  forksSeen(): readonly ForkRecord[] {
    return this.forks.all();
  }

  /** What GET /v1/log/witness publishes. */
  view(published: string): WitnessView {
    const cosigned: Record<string, string> = {};
    for (const [origin, note] of this.witnessed) cosigned[origin] = note;
    return {
      origin: this.options.origin,
      logKey: this.options.log.verifierKey,
      witnessKey: this.witnessKey,
      checkpoint: this.cosigned?.note ?? published,
      cosigners: [...(this.cosigned?.cosigners ?? [])],
      cosigned,
      peers: [...this.status.values()].map((peer) => ({
        ...peer,
        trusted: this.isTrusted(peer.url, peer.origin),
      })) as WitnessView['peers'],
    };
  }

  /** One round now (tests, and `oacp log gossip` semantics); rounds never overlap. */
  round(): Promise<void> {
    this.running ??= this.roundNow().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Peers' checkpoints this node cosigned, by origin. */
  private readonly witnessed = new Map<string, string>();

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.round().finally(() => this.schedule(this.options.intervalMs));
    }, delay);
    this.timer.unref();
  }

  private async roundNow(): Promise<void> {
    let peers: readonly GossipPeerSpec[];
    try {
      peers = await this.options.peers();
    } catch (error) {
      this.options.onError?.('(peers)', describeError(error));
      return;
    }
    await this.options.log.refresh().catch(() => undefined);
    for (const spec of peers) {
      if (this.stopped) return;
      await this.gossipWith(spec);
    }
  }

  private async gossipWith(spec: GossipPeerSpec): Promise<void> {
    const checkedAt = new Date(this.now()).toISOString();
    const previous = this.status.get(spec.url);
    if (!this.isTrusted(spec.url, previous?.origin)) {
      this.status.set(spec.url, { ...previous, url: spec.url, trusted: false, error: 'forked: not trusted' });
      return;
    }
    const peer = httpGossipPeer(spec.url, {
      ...(this.options.fetchImpl === undefined ? {} : { fetchImpl: this.options.fetchImpl }),
    });
    let origin: string | undefined = previous?.origin;
    let note: string | undefined;
    try {
      note = await peer.checkpoint();
      const opened = openCheckpoint(note, spec.logKey);
      if (!opened.ok)
        throw clusterError(
          'CLUSTER_PEER_INVALID',
          `its checkpoint does not verify with its log key: ${opened.reason}`,
        );
      origin = opened.value.checkpoint.origin;
      const size = await this.check(spec, peer, note, opened.value.checkpoint);
      await this.collect(spec, peer);
      this.status.set(spec.url, { url: spec.url, origin, trusted: true, size, checkedAt });
    } catch (error) {
      if (isFork(error)) {
        await this.forked(spec.url, origin, describeError(error), note);
        this.status.set(spec.url, {
          url: spec.url,
          origin,
          trusted: false,
          checkedAt,
          error: describeError(error),
        });
        return;
      }
      const message = describeError(error);
      this.options.onError?.(spec.url, message);
      this.status.set(spec.url, {
        ...previous,
        url: spec.url,
        origin,
        trusted: true,
        checkedAt,
        error: message,
      });
    }
  }

  /** Proves the peer's tree consistent with what this node saw before; returns its size. */
  private async check(
    spec: GossipPeerSpec,
    peer: HttpGossipPeer,
    note: string,
    checkpoint: { origin: string; size: number },
  ): Promise<number> {
    if (spec.logKey === this.options.log.verifierKey) {
      // Another node serving this log's own key (a copied home): one history, or a fork.
      await gossipCheck(this.options.log, spec.logKey, peer);
      return checkpoint.size;
    }
    const last = this.witness.latest(checkpoint.origin);
    const proof =
      last !== undefined && last.size > 0 && checkpoint.size > last.size
        ? await peer.consistency(last.size, checkpoint.size)
        : [];
    this.witnessed.set(
      checkpoint.origin,
      await this.witness.cosign({ logKey: spec.logKey, checkpoint: note, proof }),
    );
    return checkpoint.size;
  }

  /** Keeps the peer's cosignatures of this log's checkpoints (with its known witness key only). */
  private async collect(spec: GossipPeerSpec, peer: HttpGossipPeer): Promise<void> {
    if (spec.witnessKey === undefined || spec.logKey === this.options.log.verifierKey) return;
    const view = await peer.witnessView();
    const mine = view.cosigned[this.options.origin];
    if (mine === undefined) return;
    await this.options.log.refresh().catch(() => undefined);
    await this.own.add(mine, spec.witnessKey, this.options.log);
  }

  private async forked(url: string, origin: string | undefined, reason: string, note: string | undefined) {
    const record: ForkRecord = {
      peer: url,
      origin,
      at: new Date(this.now()).toISOString(),
      reason,
      checkpoint: note,
    };
    await this.forks.add(record);
    await this.options.onFork(record);
  }

  private now(): number {
    return this.options.now === undefined ? Date.now() : this.options.now() * 1000;
  }
}

function isFork(error: unknown): boolean {
  return (
    isOacpError(error) &&
    ['LOG_FORK', 'LOG_WITNESS_FORK', 'LOG_WITNESS_ROLLBACK', 'CLUSTER_PEER_UNTRUSTED'].includes(error.code)
  );
}
