import type { TrustLevel } from '../attest/trust-level.js';
import {
  MAX_RECEIPT_DEPTH,
  type PendingReceipt,
  type ReceiptCheck,
  ReceiptVerifier,
} from '../attest/verify-receipt.js';
import { jsonDepth, tooDeep } from '../core/bounded-json.js';
import { duplicateJsonKey, duplicateKeyReason } from '../core/duplicate-key.js';
import { describeError } from '../core/errors.js';
import { canonicalize } from '../core/jcs.js';
import { type Checkpoint, openCheckpoint } from '../log/checkpoint.js';
import { verifyCosignatures } from '../log/cosignature.js';
import { hashLeaf } from '../log/hash.js';
import { verifyInclusion } from '../log/proof-verify.js';
import { parseTlogProof, type TlogProof } from '../log/tlog-proof.js';
import { answerOnThreadPool } from './thread-pool-answers.js';

/** One named check of a full offline verification, in the order it ran. */
export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface OfflineVerification {
  /** Everything asked for holds. */
  readonly ok: boolean;
  readonly trustLevel: TrustLevel;
  readonly checks: readonly Check[];
  readonly logIndex?: number;
}

export interface OfflineVerifyInput {
  /** The receipt file's text: a DSSE envelope. */
  readonly receipt: string;
  /** A c2sp.org/tlog-proof@v1 file proving the receipt is in the log. */
  readonly proof?: string;
  /** The log's C2SP verifier key; required with `proof`. */
  readonly logKey?: string;
  /** Raw Airlock public keys the receipt may be signed by. */
  readonly airlockKeys: readonly Uint8Array[];
  /** Witness verifier keys (cosignature/v1) and how many must have cosigned the checkpoint. */
  readonly witnessKeys?: readonly string[];
  readonly witnessThreshold?: number;
  readonly expectedAgentDid?: string;
}

/**
 * `oacp verify` as a library: from public keys alone, checks the receipt's
 * envelope, statement and signatures, then (when a proof is given) the log's
 * signature on the checkpoint, witness cosignatures and inclusion of this exact
 * receipt. Never throws on bad input: every problem is a failed check.
 */
export function verifyOffline(input: OfflineVerifyInput): OfflineVerification {
  return new OfflineVerifier(input).verify(input.receipt, input.proof);
}

type Keys = Omit<OfflineVerifyInput, 'receipt' | 'proof'>;
type OpenedLog = { ok: true; checkpoint: Checkpoint; cosignatures: number } | { ok: false; detail: string };

/** Checkpoints already checked, so auditing many receipts of one log verifies its signature once. */
const CHECKPOINT_CACHE_LIMIT = 64;

/** One receipt of a batch and, when the log is checked, its proof. */
export interface ReceiptAndProof {
  readonly receipt: string;
  readonly proof?: string;
}

/** Receipts a batch puts through the checks before handing their signatures to other threads. */
const BATCH_CHUNK = 64;
/** Chunks whose signatures may be out at once: enough to keep every core busy. */
const CHUNKS_IN_FLIGHT = 16;

/**
 * A verifier for many receipts under one set of keys. It remembers which signed
 * checkpoints it has already checked (per instance, bounded), so a batch of
 * receipts proven against the same checkpoint costs one note verification, and
 * it turns the keys into KeyObjects once.
 */
export class OfflineVerifier {
  private readonly checkpoints = new Map<string, OpenedLog>();
  private readonly receipts: ReceiptVerifier;

  constructor(private readonly keys: Keys) {
    this.receipts = new ReceiptVerifier({
      airlockKeys: keys.airlockKeys,
      ...(keys.expectedAgentDid === undefined ? {} : { expectedAgentDid: keys.expectedAgentDid }),
    });
  }

  verify(receipt: string, proof?: string): OfflineVerification {
    return this.begin(receipt, proof).result();
  }

  /**
   * The same verifications as `verify` on each item, in order, with the Ed25519
   * checks (most of the work) run on libuv's thread pool while this thread
   * parses and checks the next receipts: a batch audit uses every core.
   */
  async verifyMany(items: readonly ReceiptAndProof[]): Promise<OfflineVerification[]> {
    const results: OfflineVerification[] = new Array(items.length);
    const inFlight: Promise<void>[] = [];
    for (let at = 0; at < items.length; at += BATCH_CHUNK) {
      const first = at;
      const chunk = items.slice(at, at + BATCH_CHUNK).map((item) => this.begin(item.receipt, item.proof));
      inFlight.push(
        settleOnThreadPool(chunk).then(() => {
          chunk.forEach((each, i) => {
            results[first + i] = each.result();
          });
        }),
      );
      // Bounded memory for any batch size: wait for the oldest chunk while later ones run.
      if (inFlight.length >= CHUNKS_IN_FLIGHT) await inFlight.shift();
    }
    await Promise.all(inFlight);
    return results;
  }

  /** Everything but the signature checks; the returned verification asks for those. */
  private begin(receipt: string, proof: string | undefined): PendingVerification {
    if (jsonDepth(receipt) > MAX_RECEIPT_DEPTH) {
      const detail = tooDeep('the receipt', MAX_RECEIPT_DEPTH);
      return settled({
        ok: false,
        trustLevel: 'Untrusted',
        checks: [{ name: 'receipt-json', ok: false, detail }],
      });
    }
    let envelope: unknown;
    try {
      envelope = JSON.parse(receipt);
    } catch {
      return settled({ ok: false, trustLevel: 'Untrusted', checks: [receiptJsonFailed] });
    }
    const repeated = duplicateJsonKey(receipt);
    if (repeated !== undefined) {
      const detail = duplicateKeyReason('the receipt', repeated);
      return settled({
        ok: false,
        trustLevel: 'Untrusted',
        checks: [{ name: 'receipt-json', ok: false, detail }],
      });
    }

    let witnessed = false;
    let logIndex: number | undefined;
    let entry: Buffer | undefined;
    const logChecks: Check[] = [];
    if (proof !== undefined || this.keys.logKey !== undefined) {
      const log = this.checkLog(envelope, proof);
      logChecks.push(...log.checks);
      witnessed = log.witnessed;
      logIndex = log.index;
      entry = log.entry;
    }

    const pendingReceipt = this.receipts.begin(envelope, {
      witnessed,
      ...(entry === undefined ? {} : { canonical: entry }),
    });
    return {
      receipt: pendingReceipt,
      result() {
        const result = pendingReceipt.result();
        const all = [...result.checks.map(asCheck), ...logChecks];
        const ok = all.every((check) => check.ok);
        return {
          ok,
          trustLevel: ok ? result.trustLevel : 'Untrusted',
          checks: all,
          ...(logIndex === undefined ? {} : { logIndex }),
        };
      },
    };
  }

  private checkLog(
    envelope: unknown,
    proofText: string | undefined,
  ): { checks: Check[]; witnessed: boolean; index?: number; entry?: Buffer } {
    const failed = (detail: string) => ({
      checks: [{ name: 'log-inclusion', ok: false, detail }],
      witnessed: false,
    });
    if (proofText === undefined) return failed('a log key was given but no --proof file');
    const logKey = this.keys.logKey;
    if (logKey === undefined) return failed('a proof was given but no --log-key to check it');
    let entry: Buffer;
    try {
      // The log holds the JCS form of the envelope; re-canonicalizing lets a pretty-printed copy verify too.
      entry = Buffer.from(canonicalize(envelope), 'utf8');
    } catch (error) {
      return failed(`cannot canonicalize the receipt: ${describeError(error)}`);
    }
    let proof: TlogProof;
    try {
      proof = parseTlogProof(proofText);
    } catch (error) {
      return failed(describeError(error));
    }
    const opened = this.openCheckpoint(proof.checkpoint, logKey);
    if (!opened.ok) return failed(opened.detail);
    const { checkpoint } = opened;
    const included = verifyInclusion(
      proof.index,
      checkpoint.size,
      hashLeaf(entry),
      proof.proof,
      checkpoint.root,
    );
    // A proof for another entry, a checkpoint older or newer than the proof, or a receipt the
    // log never held all end here: say which entry and tree the proof claimed.
    if (!included.ok)
      return failed(
        `${included.code}: this receipt is not shown to be entry ${proof.index} of the checkpoint's ${checkpoint.size} (${included.reason}): the proof is for another entry or another tree size, or the log does not hold this receipt`,
      );
    const checks: Check[] = [
      {
        name: 'log-checkpoint',
        ok: true,
        detail: `checkpoint of ${checkpoint.origin} at size ${checkpoint.size} is signed by the log key`,
      },
      {
        name: 'log-inclusion',
        ok: true,
        detail: `receipt is entry ${proof.index} of ${checkpoint.size} (${proof.proof.length}-hash inclusion proof)`,
      },
    ];
    const threshold = this.threshold();
    if (threshold > 0) {
      checks.push({
        name: 'witness-cosignatures',
        ok: true,
        detail: `${opened.cosignatures} of ${this.keys.witnessKeys?.length ?? 0} witness(es) cosigned the checkpoint`,
      });
    }
    return { checks, witnessed: threshold > 0, index: proof.index, entry };
  }

  private threshold(): number {
    const count = this.keys.witnessKeys?.length ?? 0;
    return this.keys.witnessThreshold ?? count;
  }

  private openCheckpoint(note: string, logKey: string): OpenedLog {
    const cached = this.checkpoints.get(note);
    if (cached !== undefined) return cached;
    const opened = openCheckpoint(note, logKey);
    let result: OpenedLog;
    if (!opened.ok) result = { ok: false, detail: `${opened.code}: ${opened.reason}` };
    else {
      const threshold = this.threshold();
      const cosigned =
        threshold > 0
          ? verifyCosignatures(opened.value.note, this.keys.witnessKeys ?? [], threshold)
          : undefined;
      result =
        cosigned === undefined
          ? { ok: true, checkpoint: opened.value.checkpoint, cosignatures: 0 }
          : cosigned.ok
            ? { ok: true, checkpoint: opened.value.checkpoint, cosignatures: cosigned.value.length }
            : { ok: false, detail: `${cosigned.code}: ${cosigned.reason}` };
    }
    if (this.checkpoints.size >= CHECKPOINT_CACHE_LIMIT) this.checkpoints.clear();
    this.checkpoints.set(note, result);
    return result;
  }
}

function asCheck(check: ReceiptCheck): Check {
  return { name: check.name, ok: check.ok, detail: check.detail };
}

/** Puts each round of a chunk's signature checks to the thread pool until none is left. */
async function settleOnThreadPool(chunk: readonly PendingVerification[]): Promise<void> {
  // After the first round only signatures that failed under an earlier candidate key ask again.
  while (await answerOnThreadPool(chunk.map((each) => each.receipt))) {}
}

interface PendingVerification {
  /** The receipt's own checks, undefined when there is nothing left to ask. */
  readonly receipt: PendingReceipt | undefined;
  result(): OfflineVerification;
}

const receiptJsonFailed: Check = { name: 'receipt-json', ok: false, detail: 'the receipt is not valid JSON' };

function settled(verification: OfflineVerification): PendingVerification {
  return { receipt: undefined, result: () => verification };
}
