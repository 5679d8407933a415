import { clusterError } from '../../cluster/errors.js';
import { type HandOver, sameHandOver } from '../../cluster/hand-over.js';
import type { Member } from '../../cluster/member.js';
import { sha256Hex } from '../../core/digest.js';
import { describeError } from '../../core/errors.js';
import { jcsDigest } from '../../core/jcs.js';
import type { AgentProgram, AgentRuntime, MigratedState } from './agent-runtime.js';
import { type AgentState, captureState, restoreState } from './agent-state.js';
import type { InboundTransfers, KeptTransfer } from './inbound-transfers.js';
import { ENVELOPE_TTL_MS, type MigrationEnvelope, openEnvelope, sealEnvelope } from './migration-envelope.js';
import type { ReceiptLink, ReceiptRecorder } from './receipt-recorder.js';
import type { TransferKey } from './transfer-key.js';
import { realTimers, type Timers } from './watchdog.js';

const EXPIRED = 'the migrated state expired before this node was made the owner';
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface MigrationParts {
  readonly nodeId: string;
  readonly key: TransferKey;
  readonly runtime: AgentRuntime;
  readonly receipts: ReceiptRecorder;
  members(): Promise<Member[]>;
  /** Whether this node owns the agent and may serve it now. */
  owns(agent: string): boolean;
  /** The compare-and-set on etcd's owner key, recording the hand-over with it (ClusterNode.handOff). */
  handOff(agent: string, to: Member, handOver: HandOver): Promise<boolean>;
  /** The hand-over etcd recorded last for the agent (ClusterNode.handedOver); throws when unreadable. */
  handedOver(agent: string): Promise<HandOver | undefined>;
  program(agent: string): Promise<AgentProgram | undefined>;
  /** Delivers the envelope to the target; throws when it did not take it. */
  send(target: Member, envelope: MigrationEnvelope): Promise<void>;
  /** Where accepted envelopes are kept sealed across a restart (the node's home); memory only without. */
  readonly inbound?: InboundTransfers;
  /** Something went wrong that loses nothing by itself but must be seen (never secrets). */
  readonly warn?: (message: string, fields: Record<string, unknown>) => void;
  readonly clock?: () => number;
  /** The expiry timer's setTimeout (tests drive it); its `now` is unused: `clock` is the epoch clock. */
  readonly timers?: Timers;
}

export interface MigrationResult {
  readonly agent: string;
  readonly source: string;
  readonly target: string;
  readonly stateDigest: string;
  readonly receipt: ReceiptLink;
}

interface Pending {
  readonly source: string;
  readonly state: AgentState;
  readonly digest: string;
  readonly issuedAt: number;
  readonly until: number;
}

/** Kept state that did not come back: the agent starts without it, and says why. */
export interface UnrestoredState {
  readonly agent: string;
  readonly source: string;
  readonly stateDigest: string;
  readonly reason: string;
}

/**
 * Moves running agents between nodes (docs/cluster.md, Migration). Out: the
 * sandbox is held (no run starts), its state captured, sealed to the
 * target's transfer key and handed over; then the owner key moves in one
 * compare-and-set; only then does the agent stop here, and runs that waited
 * are refused here (the HTTP layer forwards them). In: the envelope is
 * checked and kept until etcd names this node the owner, and the sandbox
 * starts with that state. Each side writes an execution receipt naming
 * source, target and the state's digest.
 */
export class AgentMigrations {
  private readonly pending = new Map<string, Pending>();
  private readonly now: () => number;
  private readonly timers: Timers;
  /** One timer, for the earliest expiry among the kept states; none when nothing is kept. */
  private expiry: unknown;
  private closed = false;

  constructor(private readonly parts: MigrationParts) {
    this.now = parts.clock ?? Date.now;
    this.timers = parts.timers ?? realTimers;
  }

  /**
   * At start-up, before any agent is placed here: the states the home kept across the restart.
   * Those that expired meanwhile (or no longer open) are said and removed now; live ones are held
   * for the rest of their window and said when it ends, like states accepted by this process.
   */
  async recover(): Promise<void> {
    const inbound = this.parts.inbound;
    if (inbound === undefined) return;
    const { kept, unreadable } = inbound.list();
    for (const file of unreadable) {
      this.parts.warn?.('migrated state not restored', {
        file,
        reason: 'its file in the home is not a kept migration envelope (removed)',
      });
    }
    for (const entry of kept) {
      const agent = entry.envelope.agent;
      if (this.pending.has(agent)) continue;
      const reopened = await this.reopen(entry);
      if ('reason' in reopened) {
        inbound.drop(agent);
        const { reason, ...facts } = reopened;
        await this.said(facts, reason);
      } else {
        this.pending.set(agent, reopened);
      }
    }
    this.schedule();
  }

  /** Stops the expiry timer (the node leaves); kept states stay in the home for the next start. */
  close(): void {
    this.closed = true;
    if (this.expiry !== undefined) this.timers.clearTimeout(this.expiry);
    this.expiry = undefined;
  }

  async migrate(agent: string, targetId: string): Promise<MigrationResult> {
    const { nodeId, runtime } = this.parts;
    if (targetId === nodeId)
      throw clusterError('CLUSTER_MIGRATION_REFUSED', `agent ${agent} already runs on ${nodeId}`);
    if (!this.parts.owns(agent))
      throw clusterError('CLUSTER_NOT_OWNER', `node ${nodeId} does not run agent ${agent}`);
    const members = await this.parts.members();
    const target = members.find((m) => m.id === targetId);
    if (target === undefined) {
      const live = members.map((m) => m.id).join(', ');
      throw clusterError(
        'CLUSTER_MIGRATION_REFUSED',
        `node ${targetId} is not a live member of the cluster (live: ${live}); pick one with --to`,
      );
    }
    const program = await this.parts.program(agent);
    if (program === undefined) throw clusterError('CLUSTER_MIGRATION_REFUSED', `no agent ${agent}`);
    // A receipt must be possible before anything moves.
    this.parts.receipts.reserve();
    const moved = await runtime.handOver(agent, async (sandbox) => {
      const { state } = await captureState(sandbox);
      const envelope = await sealEnvelope(
        { agent, source: nodeId, target, state, issuedAt: this.now() },
        this.parts.key,
      );
      // A send that failed may still have been taken (its answer lost or late): that state waits
      // on the target, but only the hand-over etcd records below lets it be restored there.
      await this.parts.send(target, envelope);
      const handOver = {
        source: nodeId,
        target: targetId,
        stateDigest: envelope.stateDigest,
        issuedAt: envelope.issuedAt,
      };
      if (!(await this.handOff(agent, target, handOver))) {
        throw clusterError(
          'CLUSTER_MIGRATION_REFUSED',
          `agent ${agent} was not moved: its placement changed meanwhile (or ${nodeId} lost its lease)`,
        );
      }
      return envelope.stateDigest;
    });
    const facts = { direction: 'out' as const, source: nodeId, target: targetId, stateDigest: moved };
    return { agent, ...facts, receipt: await this.receipt(program, facts) };
  }

  /**
   * The compare-and-set; when its answer is lost (etcd killed or cut mid-call), the hand-over
   * record the same transaction writes says whether it happened: keeping the agent here after a
   * move that did happen would leave two copies running, one restored on the target.
   */
  private async handOff(agent: string, target: Member, handOver: HandOver): Promise<boolean> {
    try {
      return await this.parts.handOff(agent, target, handOver);
    } catch (error) {
      let recorded: HandOver | undefined;
      try {
        recorded = await this.parts.handedOver(agent);
      } catch {
        throw clusterError(
          'CLUSTER_UNAVAILABLE',
          `agent ${agent}: the answer to its move was lost (${describeError(error)}) and etcd cannot say whether it moved; retry later`,
          error,
        );
      }
      if (recorded !== undefined && sameHandOver(recorded, handOver)) return true;
      throw error;
    }
  }

  /** The target's side: checks the envelope and keeps the state until this node is made the owner. */
  async accept(input: unknown): Promise<{ agent: string; stateDigest: string }> {
    const members = await this.parts.members();
    const { envelope, state } = await openEnvelope(input, {
      id: this.parts.nodeId,
      key: this.parts.key,
      members,
      now: this.now(),
    });
    this.prune();
    const until = this.now() + ENVELOPE_TTL_MS;
    const source = members.find((m) => m.id === envelope.source) as Member;
    // On disk (sealed, fsynced) before the source hears yes: it drops its sandbox after that.
    await this.parts.inbound?.keep(envelope.agent, { envelope, source, until });
    const replaced = this.pending.get(envelope.agent);
    this.pending.set(envelope.agent, {
      source: envelope.source,
      state,
      digest: envelope.stateDigest,
      issuedAt: envelope.issuedAt,
      until,
    });
    if (replaced !== undefined) {
      void this.forgotten(envelope.agent, replaced, `a newer state from ${envelope.source} replaced it`);
    }
    this.schedule();
    return { agent: envelope.agent, stateDigest: envelope.stateDigest };
  }

  /**
   * The state waiting for the agent, from memory or (after a restart) from the home, where it
   * stays sealed to this node's transfer key until now. Undefined when none; an UnrestoredState
   * when one was kept but cannot come back (it expired: the agent was placed elsewhere meanwhile,
   * or it no longer opens), which the caller records.
   */
  async waiting(agent: string): Promise<Pending | UnrestoredState | undefined> {
    this.prune();
    const inMemory = this.pending.get(agent);
    if (inMemory !== undefined) {
      this.pending.delete(agent);
      this.parts.inbound?.drop(agent);
      return inMemory;
    }
    const kept = this.parts.inbound?.take(agent);
    if (kept === undefined) return undefined;
    return this.reopen(kept);
  }

  /** A state the home kept, opened again with this node's key; why not, when it expired or does not open. */
  private async reopen(kept: KeptTransfer): Promise<Pending | UnrestoredState> {
    const facts = {
      agent: kept.envelope.agent,
      source: kept.envelope.source,
      stateDigest: kept.envelope.stateDigest,
    };
    if (kept.until < this.now()) return { ...facts, reason: EXPIRED };
    try {
      const { state } = await openEnvelope(kept.envelope, {
        id: this.parts.nodeId,
        key: this.parts.key,
        members: [kept.source],
        // Checked for freshness when it was accepted; `until` bounds it since.
        now: kept.envelope.issuedAt,
      });
      return {
        source: kept.source.id,
        state,
        digest: kept.envelope.stateDigest,
        issuedAt: kept.envelope.issuedAt,
        // Never longer than a fresh window: a file's `until` after a wall clock stepped back is no licence.
        until: Math.min(kept.until, this.now() + ENVELOPE_TTL_MS),
      };
    } catch (error) {
      return { ...facts, reason: error instanceof Error ? error.message : String(error) };
    }
  }

  /**
   * When this node starts the agent: the migrated state waiting for it, if any, for the runtime
   * to restore (or abandon). Restored only when etcd's hand-over record names exactly this
   * state, source and node: a state taken here whose source then kept the agent (its send timed
   * out, its compare-and-set failed) went on changing there and must not come back as a second,
   * older copy. Whatever does not come back is said once: a warning naming the agent, source and
   * digest, and an execution receipt with `migration.restored: false`.
   */
  async restorer(program: AgentProgram): Promise<MigratedState | undefined> {
    const pending = await this.waiting(program.did);
    if (pending === undefined) return undefined;
    if ('reason' in pending) {
      await this.unrestored(program, pending, pending.reason);
      return undefined;
    }
    const facts = { agent: program.did, source: pending.source, stateDigest: pending.digest };
    const unconfirmed = await this.unconfirmed(program.did, pending);
    if (unconfirmed !== undefined) {
      await this.unrestored(program, facts, unconfirmed);
      return undefined;
    }
    let settled = false;
    return {
      restore: async (sandbox) => {
        if (settled) return;
        await restoreState(sandbox, pending.state);
        await this.receipt(program, {
          direction: 'in',
          source: pending.source,
          target: this.parts.nodeId,
          stateDigest: pending.digest,
        });
        settled = true;
      },
      abandon: async (reason) => {
        if (settled) return;
        settled = true;
        await this.unrestored(program, facts, reason);
      },
    };
  }

  /** Why etcd does not confirm the hand-over of this state to this node; undefined when it does. */
  private async unconfirmed(agent: string, pending: Pending): Promise<string | undefined> {
    const expected = {
      source: pending.source,
      target: this.parts.nodeId,
      stateDigest: pending.digest,
      issuedAt: pending.issuedAt,
    };
    let recorded: HandOver | undefined;
    try {
      recorded = await this.parts.handedOver(agent);
    } catch (error) {
      return `its hand-over could not be read from etcd (${describeError(error)})`;
    }
    if (recorded !== undefined && sameHandOver(recorded, expected)) return undefined;
    return `etcd records no hand-over of this state from ${pending.source} to ${this.parts.nodeId} (the source kept the agent: its send timed out or its move failed)`;
  }

  /** A state dropped while the agent is not starting here: said with the agent's program as the store has it now. */
  private forgotten(agent: string, pending: Pending, reason: string): Promise<void> {
    return this.said({ agent, source: pending.source, stateDigest: pending.digest }, reason);
  }

  private async said(
    facts: { agent: string; source: string; stateDigest: string },
    reason: string,
  ): Promise<void> {
    const agent = facts.agent;
    let program: AgentProgram | undefined;
    try {
      program = await this.parts.program(agent);
    } catch (error) {
      this.parts.warn?.('migrated state not restored', { ...facts, reason, receipt: describeError(error) });
      return;
    }
    if (program === undefined) {
      this.parts.warn?.('migrated state not restored', { ...facts, reason, receipt: 'none: no such agent' });
      return;
    }
    await this.unrestored(program, facts, reason);
  }

  /** Never silent, never a throw: the warning, then the `restored: false` receipt. */
  private async unrestored(
    program: AgentProgram,
    facts: { agent: string; source: string; stateDigest: string },
    reason: string,
  ): Promise<void> {
    this.parts.warn?.('migrated state not restored', { ...facts, reason });
    try {
      await this.receipt(program, {
        direction: 'in',
        source: facts.source,
        target: this.parts.nodeId,
        stateDigest: facts.stateDigest,
        restored: false,
      });
    } catch (error) {
      this.parts.warn?.('migration receipt not written', { ...facts, error: describeError(error) });
    }
  }

  /**
   * Expired states are dropped from memory and the home, and said (once: the home no longer
   * holds them); the timer is set again for the next expiry.
   */
  private prune(): void {
    const now = this.now();
    for (const [agent, pending] of this.pending) {
      if (pending.until >= now) continue;
      this.pending.delete(agent);
      this.parts.inbound?.drop(agent);
      void this.forgotten(agent, pending, EXPIRED);
    }
    this.schedule();
  }

  /** An expiry is said when it happens, not when the node next takes or starts an agent. */
  private schedule(): void {
    if (this.expiry !== undefined) this.timers.clearTimeout(this.expiry);
    this.expiry = undefined;
    if (this.closed || this.pending.size === 0) return;
    const earliest = Math.min(...[...this.pending.values()].map((p) => p.until));
    // Just past it (`until` itself is still live); setTimeout takes no more than 2^31-1 ms.
    const delay = Math.min(Math.max(0, earliest - this.now() + 1), MAX_TIMER_MS);
    this.expiry = this.timers.setTimeout(() => {
      this.expiry = undefined;
      this.prune();
    }, delay);
  }

  private receipt(
    program: AgentProgram,
    migration: {
      direction: 'out' | 'in';
      source: string;
      target: string;
      stateDigest: string;
      restored?: false;
    },
  ): Promise<ReceiptLink> {
    const at = new Date(this.now()).toISOString();
    return this.parts.receipts.execution(
      {
        agent: { did: program.did },
        codeDigest: sha256Hex(program.code ?? ''),
        manifestDigest: jcsDigest(program.manifest),
        tier: 'standard',
        inputsDigest: jcsDigest({ migration }),
        outputsDigest: migration.stateDigest,
        usage: {
          wallMs: 0,
          cpuMs: 0,
          memoryPeakBytes: 0,
          egressRequests: 0,
          egressDenied: 0,
          outputBytes: 0,
        },
        toolCalls: [],
        exit: { code: 0, signal: null },
        migration,
        startedAt: at,
        finishedAt: at,
        durationMs: 0,
      },
      program.name,
    );
  }
}
