import { describeError } from '../core/errors.js';
import { openCheckpoint } from '../log/checkpoint.js';
import { verifyCosignatures } from '../log/cosignature.js';
import { httpGossipPeer } from './gossip-peer.js';
import type { Member } from './member.js';

/** One member's log as `oacp cluster status` shows it. */
export interface MemberLog {
  readonly member: string;
  readonly origin?: string;
  /** Size of its latest checkpoint that other members cosigned (verified here). */
  readonly cosignedSize?: number;
  /** Witness names whose cosignatures verified with the keys in etcd. */
  readonly cosigners: readonly string[];
  /** Peers this member no longer trusts (it saw them fork). */
  readonly untrusted: readonly string[];
  readonly error?: string;
}

/**
 * Asks each member for its witness view (GET /v1/log/witness) and checks, with the keys the
 * members registered in etcd, its checkpoint's log signature and which other members'
 * cosignatures verify on it. Nothing a member says about itself is taken on trust.
 */
export async function readMemberLogs(
  members: readonly Member[],
  fetchImpl?: typeof fetch,
): Promise<MemberLog[]> {
  return Promise.all(
    members.map(async (member): Promise<MemberLog> => {
      if (member.logKey === undefined)
        return { member: member.id, cosigners: [], untrusted: [], error: 'publishes no log key' };
      try {
        const view = await httpGossipPeer(member.url, {
          timeoutMs: 3_000,
          ...(fetchImpl === undefined ? {} : { fetchImpl }),
        }).witnessView();
        const opened = openCheckpoint(view.checkpoint, member.logKey);
        if (!opened.ok)
          return { member: member.id, cosigners: [], untrusted: [], error: `checkpoint: ${opened.reason}` };
        const witnessKeys = members
          .filter((other) => other.id !== member.id && other.witnessKey !== undefined)
          .map((other) => other.witnessKey as string);
        const cosigned =
          witnessKeys.length === 0 ? undefined : verifyCosignatures(view.checkpoint, witnessKeys, 0);
        const cosigners = cosigned?.ok === true ? cosigned.value.map((c) => c.name).sort() : [];
        return {
          member: member.id,
          origin: opened.value.checkpoint.origin,
          ...(cosigners.length === 0 ? {} : { cosignedSize: opened.value.checkpoint.size }),
          cosigners,
          untrusted: view.peers.filter((peer) => !peer.trusted).map((peer) => peer.url),
          ...(cosigned !== undefined && !cosigned.ok ? { error: `cosignature: ${cosigned.reason}` } : {}),
        };
      } catch (error) {
        return { member: member.id, cosigners: [], untrusted: [], error: describeError(error) };
      }
    }),
  );
}
