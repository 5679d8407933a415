import { z } from 'zod';
import type { Signer } from '../core/ed25519.js';
import { openCheckpoint } from './checkpoint.js';
import { addNoteSignature, cosignatureSigner } from './cosignature.js';
import { logError } from './errors.js';
import { emptyRoot, sameBytes } from './hash.js';
import { formatVerifierKey, type NoteSigner, SIG_TYPE_COSIGNATURE_V1 } from './note-keys.js';
import { verifyConsistency } from './proof-verify.js';
import { readWitnessState, type WitnessedTree, writeWitnessState } from './witness-state.js';

export interface WitnessOptions {
  /** The witness's key name, e.g. "witness.example/w1". */
  readonly name: string;
  readonly signer: Signer;
  /** POSIX seconds; injectable for tests. */
  readonly now?: () => number;
}

export interface CosignRequest {
  /** The log's vkey (type 0x01); the checkpoint origin must be its name. */
  readonly logKey: string;
  /** The signed checkpoint note to cosign. */
  readonly checkpoint: string;
  /** Consistency proof from the checkpoint this witness last cosigned for the log (see `latest`). */
  readonly proof: readonly Uint8Array[];
}

/** Requests may come off the network: checked before anything else looks at them. */
const CosignRequestSchema = z.object({
  logKey: z.string(),
  checkpoint: z.string(),
  proof: z.array(z.instanceof(Uint8Array)).max(64),
});

/**
 * A c2sp.org/tlog-cosignature witness. It cosigns a checkpoint only after checking the
 * log's signature and that the new tree extends the last one it cosigned for that origin,
 * so a log cannot show different histories to different parties without a witness noticing.
 * Its memory is a small JSON file written durably before a cosignature is returned.
 */
export class Witness {
  private readonly cosigner: NoteSigner;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly statePath: string,
    private readonly state: Map<string, WitnessedTree>,
    private readonly options: WitnessOptions,
  ) {
    this.cosigner = cosignatureSigner(options.name, options.signer, options.now);
  }

  static async open(statePath: string, options: WitnessOptions): Promise<Witness> {
    return new Witness(statePath, await readWitnessState(statePath), options);
  }

  /** The witness's vkey (type 0x04) for verifiers' policies. */
  get verifierKey(): string {
    return formatVerifierKey(this.options.name, SIG_TYPE_COSIGNATURE_V1, this.options.signer.publicKey);
  }

  /** The last tree cosigned for `origin`: the old size a log must prove consistency from. */
  latest(origin: string): WitnessedTree | undefined {
    const tree = this.state.get(origin);
    return tree === undefined ? undefined : { size: tree.size, root: tree.root.slice() };
  }

  /**
   * Returns the checkpoint note with this witness's cosignature appended, or throws:
   * LOG_WITNESS_ROLLBACK for a smaller tree, LOG_WITNESS_FORK for a tree that does not extend
   * the last one, or the verification code for a bad log signature or proof.
   */
  cosign(request: CosignRequest): Promise<string> {
    // One at a time: each decision must see the state the previous one wrote.
    const result = this.queue.then(() => this.cosignNow(request));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async cosignNow(input: CosignRequest): Promise<string> {
    const parsed = CosignRequestSchema.safeParse(input);
    if (!parsed.success) {
      throw logError(
        'LOG_MALFORMED_PROOF',
        `witness refused a malformed request: ${z.prettifyError(parsed.error)}`,
      );
    }
    const request = parsed.data;
    const opened = openCheckpoint(request.checkpoint, request.logKey);
    if (!opened.ok) throw logError(opened.code, `witness refused the checkpoint: ${opened.reason}`);
    const { checkpoint, note } = opened.value;
    const previous = this.state.get(checkpoint.origin);
    const proof = request.proof;
    // RFC 6962 2.1: the only tree of size 0 is the empty one (SHA-256 of nothing). A signed size 0
    // with any other root is a statement about no tree; cosigned, it stood for a log's beginning.
    if (checkpoint.size === 0 && !sameBytes(checkpoint.root, emptyRoot())) {
      throw logError(
        'LOG_WITNESS_FORK',
        `witness refused: ${checkpoint.origin} signed size 0 with a root other than the empty tree's`,
      );
    }
    if (previous === undefined || previous.size === 0) {
      if (proof.length > 0) {
        throw logError(
          'LOG_CONSISTENCY_FAILED',
          'witness refused: there is no earlier tree to prove consistency from',
        );
      }
    } else if (checkpoint.size < previous.size) {
      throw logError(
        'LOG_WITNESS_ROLLBACK',
        `witness refused: ${checkpoint.origin} went back from size ${previous.size} to ${checkpoint.size}`,
      );
    } else if (checkpoint.size === previous.size && !sameBytes(checkpoint.root, previous.root)) {
      throw logError(
        'LOG_WITNESS_FORK',
        `witness refused: ${checkpoint.origin} has two roots at size ${checkpoint.size}`,
      );
    } else {
      const verdict = verifyConsistency(
        previous.size,
        checkpoint.size,
        proof,
        previous.root,
        checkpoint.root,
      );
      if (!verdict.ok) {
        throw logError(
          'LOG_WITNESS_FORK',
          `witness refused: size ${checkpoint.size} of ${checkpoint.origin} is not shown to extend size ${previous.size} (${verdict.reason})`,
        );
      }
    }
    // Cosigned first (a clock it cannot sign with refuses here, recording nothing), handed out
    // only once the tree is durably recorded.
    const cosigned = addNoteSignature(note, this.cosigner);
    const next = new Map(this.state);
    next.set(checkpoint.origin, { size: checkpoint.size, root: checkpoint.root });
    await writeWitnessState(this.statePath, next);
    this.state.set(checkpoint.origin, { size: checkpoint.size, root: checkpoint.root });
    return cosigned;
  }
}
