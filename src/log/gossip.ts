import { openCheckpoint } from './checkpoint.js';
import { logError } from './errors.js';
import { emptyRoot, sameBytes } from './hash.js';
import { verifyConsistency } from './proof-verify.js';

/** A peer's view of the same log (another gateway serving this key's log), over any transport. */
export interface GossipPeer {
  /** The peer's latest signed checkpoint note, cosignatures included. */
  checkpoint(): Promise<string>;
  /** The peer's consistency proof from size `from` to size `to` of its tree. */
  consistency(from: number, to: number): Promise<Uint8Array[]>;
}

/** The local side: its signed tree and proofs from it. */
export interface GossipLocal {
  readonly size: number;
  root(size?: number): Uint8Array;
  consistencyProof(oldSize: number, newSize?: number): Uint8Array[];
}

export interface GossipOutcome {
  /** The peer's checkpoint as received (kept: its witness cosignatures travel with it). */
  readonly note: string;
  readonly peerSize: number;
  readonly localSize: number;
  /** How the two trees were shown to be one history. */
  readonly how: 'same tree' | 'peer extends local' | 'local extends peer';
}

/**
 * Checks that a peer's checkpoint for this log key and ours are one history: the smaller
 * tree must be proven (RFC 9162 consistency proof) to be a prefix of the larger. Two roots
 * at one size, or a failing proof, is a fork under one key: LOG_FORK, a security event.
 */
export async function gossipCheck(
  local: GossipLocal,
  vkey: string,
  peer: GossipPeer,
): Promise<GossipOutcome> {
  const note = await peer.checkpoint();
  const opened = openCheckpoint(note, vkey);
  if (!opened.ok)
    throw logError(
      opened.code,
      `the peer's checkpoint does not verify with this log's key: ${opened.reason}`,
    );
  const theirs = opened.value.checkpoint;
  const localSize = local.size;
  const base = { note, peerSize: theirs.size, localSize };
  if (theirs.size === localSize) {
    if (!sameBytes(theirs.root, local.root(localSize)))
      throw logError(
        'LOG_FORK',
        `fork: the peer signed another root at size ${localSize} under this log's key`,
      );
    return { ...base, how: 'same tree' };
  }
  if (theirs.size < localSize) {
    if (theirs.size === 0) {
      // The only tree of size 0 is the empty one (RFC 6962 2.1): another root signed there is a fork.
      if (!sameBytes(theirs.root, emptyRoot()))
        throw logError('LOG_FORK', "fork: the peer signed size 0 with a root other than the empty tree's");
      return { ...base, how: 'local extends peer' };
    }
    const proof = local.consistencyProof(theirs.size, localSize);
    const verdict = verifyConsistency(theirs.size, localSize, proof, theirs.root, local.root(localSize));
    if (!verdict.ok)
      throw logError(
        'LOG_FORK',
        `fork: the peer's tree of ${theirs.size} is not a prefix of ours (${verdict.reason})`,
      );
    return { ...base, how: 'local extends peer' };
  }
  if (localSize === 0) return { ...base, how: 'peer extends local' };
  const proof = await peer.consistency(localSize, theirs.size);
  const verdict = verifyConsistency(localSize, theirs.size, proof, local.root(localSize), theirs.root);
  if (!verdict.ok)
    throw logError(
      'LOG_FORK',
      `fork: our tree of ${localSize} is not a prefix of the peer's ${theirs.size} (${verdict.reason})`,
    );
  return { ...base, how: 'peer extends local' };
}
