import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../log/atomic-file.js';
import { openCheckpoint } from '../log/checkpoint.js';
import { verifyCosignatures } from '../log/cosignature.js';
import { sameBytes } from '../log/hash.js';
import { formatNote, type NoteSignature, parseNote } from '../log/note-format.js';
import { parseVerifierKey } from '../log/note-keys.js';
import { clusterError } from './errors.js';

/** The local log as far as its cosignatures are concerned. */
export interface CosignedLog {
  readonly verifierKey: string;
  readonly size: number;
  root(size: number): Uint8Array;
}

export interface CosignedCheckpoint {
  /** The checkpoint with the log's signature and every cosignature kept for it. */
  readonly note: string;
  readonly size: number;
  /** Witness names that cosigned it. */
  readonly cosigners: readonly string[];
}

/** A kept cosignature left out on load. `security`: it failed verification (the file was altered). */
export interface RejectedCosignature {
  readonly witness: string;
  readonly security: boolean;
  readonly reason: string;
}

/**
 * This node's latest checkpoint that peers cosigned (c2sp.org/tlog-cosignature), with every
 * cosignature collected for it. A cosigned note is kept only after checking the log's own
 * signature, the peer's cosignature with the peer's known witness key, and that the tree is
 * this log's tree (else our key signed another history: LOG_FORK). Kept in one file, so a
 * restart serves what was collected, once verified again (see `open`).
 */
export class OwnCosignatures {
  private constructor(
    private readonly file: string,
    private best:
      | { body: string; size: number; own: NoteSignature[]; cosigs: Map<string, NoteSignature> }
      | undefined,
  ) {}

  /**
   * Loads the kept file and verifies it again, as if it came from a peer: the log's own
   * signature, that the tree is this log's tree, and each cosignature with the known witness
   * key of its name and key ID (`witnessKeys`: the peers' `witness_key`s now). A cosignature
   * with no known key is left out (its witness is no longer a peer); one that fails its key, or
   * a file that is not this log's signed tree, is left out and `rejected` as a security event
   * (the file was altered). Nothing left out is served or counted.
   */
  static async open(
    file: string,
    log: CosignedLog,
    witnessKeys: readonly string[],
  ): Promise<{ kept: OwnCosignatures; rejected: RejectedCosignature[] }> {
    const kept = new OwnCosignatures(file, undefined);
    let text: string | undefined;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      text = undefined;
    }
    if (text === undefined) return { kept, rejected: [] };
    const rejected: RejectedCosignature[] = [];
    const opened = openCheckpoint(text, log.verifierKey);
    if (!opened.ok) {
      rejected.push({
        witness: '(the log key)',
        security: true,
        reason: `it does not verify: ${opened.reason}`,
      });
      return { kept, rejected };
    }
    const { size, root } = opened.value.checkpoint;
    if (size > log.size || !sameBytes(root, log.root(size))) {
      rejected.push({
        witness: '(the log key)',
        security: true,
        reason: `its tree of ${size} entries is not this log's tree of ${log.size}`,
      });
      return { kept, rejected };
    }
    const split = kept.split(text, size, log.verifierKey);
    const keys = witnessKeys.flatMap((key) => {
      try {
        return [{ key, parsed: parseVerifierKey(key) }];
      } catch {
        return [];
      }
    });
    for (const [id, sig] of [...split.cosigs]) {
      const known = keys.find(({ parsed }) => parsed.name === sig.name && parsed.keyId === sig.keyId);
      const verdict =
        known === undefined
          ? undefined
          : verifyCosignatures(formatNote(split.body, [...split.own, sig]), [known.key], 1);
      if (verdict?.ok === true) continue;
      split.cosigs.delete(id);
      rejected.push(
        verdict === undefined
          ? { witness: sig.name, security: false, reason: 'no peer has its witness key now' }
          : {
              witness: sig.name,
              security: true,
              reason: `it does not verify with the witness key: ${verdict.reason}`,
            },
      );
    }
    kept.best = split;
    return { kept, rejected };
  }

  get latest(): CosignedCheckpoint | undefined {
    const best = this.best;
    if (best === undefined || best.cosigs.size === 0) return undefined;
    return {
      note: formatNote(best.body, [...best.own, ...best.cosigs.values()]),
      size: best.size,
      cosigners: [...best.cosigs.values()].map((sig) => sig.name).sort(),
    };
  }

  /**
   * Takes a peer's cosigned copy of one of our checkpoints. Returns whether a cosignature was
   * added; throws LOG_FORK when our key signed a tree that is not ours, and CLUSTER_PEER_INVALID
   * when the note or cosignature does not verify.
   */
  async add(note: string, witnessKey: string, log: CosignedLog): Promise<boolean> {
    const opened = openCheckpoint(note, log.verifierKey);
    if (!opened.ok)
      throw clusterError(
        'CLUSTER_PEER_INVALID',
        `a cosigned checkpoint of this log does not verify: ${opened.reason}`,
      );
    const { size, root } = opened.value.checkpoint;
    if (size > log.size)
      throw clusterError(
        'CLUSTER_PEER_UNTRUSTED',
        `fork: a checkpoint of ${size} entries signed with this log's key, beyond this log's ${log.size}`,
      );
    if (!sameBytes(root, log.root(size)))
      throw clusterError(
        'CLUSTER_PEER_UNTRUSTED',
        `fork: a checkpoint signed with this log's key has another root at size ${size}`,
      );
    const cosigned = verifyCosignatures(note, [witnessKey], 1);
    if (!cosigned.ok)
      throw clusterError(
        'CLUSTER_PEER_INVALID',
        `the peer's cosignature does not verify: ${cosigned.reason}`,
      );
    const key = parseVerifierKey(witnessKey);
    const line = parseNote(note).signatures.find((sig) => sig.name === key.name && sig.keyId === key.keyId);
    if (line === undefined) return false;
    const split = this.split(note, size, log.verifierKey);
    if (this.best === undefined || size > this.best.size) this.best = { ...split, cosigs: new Map() };
    if (this.best.body !== split.body) return false;
    const id = `${line.name}+${line.keyId}`;
    const previous = this.best.cosigs.get(id);
    if (previous !== undefined && sameBytes(previous.signature, line.signature)) return false;
    this.best.cosigs.set(id, line);
    const latest = this.latest;
    if (latest !== undefined) await writeFileAtomic(this.file, latest.note);
    return true;
  }

  /** A published checkpoint note with the cosignatures kept for exactly its body added. */
  withCosignatures(note: string): string {
    const best = this.best;
    if (best === undefined || best.cosigs.size === 0) return note;
    try {
      const parsed = parseNote(note);
      if (parsed.text !== best.body) return note;
      const have = new Set(parsed.signatures.map((sig) => `${sig.name}+${sig.keyId}`));
      const extra = [...best.cosigs.entries()].filter(([id]) => !have.has(id)).map(([, sig]) => sig);
      return formatNote(parsed.text, [...parsed.signatures, ...extra]);
    } catch {
      return note;
    }
  }

  /** The note body, the log's own signature, and every other signature kept as a cosignature. */
  private split(note: string, size: number, vkey: string) {
    const parsed = parseNote(note);
    const own = parseVerifierKey(vkey);
    const mine = (sig: NoteSignature) => sig.name === own.name && sig.keyId === own.keyId;
    return {
      body: parsed.text,
      size,
      own: parsed.signatures.filter(mine),
      cosigs: new Map(
        parsed.signatures.filter((sig) => !mine(sig)).map((sig) => [`${sig.name}+${sig.keyId}`, sig]),
      ),
    };
  }
}
