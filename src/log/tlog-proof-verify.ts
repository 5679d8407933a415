import { z } from 'zod';
import { type Checkpoint, openCheckpoint } from './checkpoint.js';
import { type Cosignature, verifyCosignatures } from './cosignature.js';
import { HASH_SIZE, hashLeaf } from './hash.js';
import { refusal } from './note-verify.js';
import { verifyInclusion } from './proof-verify.js';
import { parseTlogProof, type TlogProof } from './tlog-proof.js';
import { accept, reject, type Verdict } from './verdict.js';

export interface TlogProofPolicy {
  /** The entry bytes (the leaf hash is computed as SHA-256(0x00 || entry)), or its leaf hash. */
  readonly entry?: Uint8Array;
  readonly leafHash?: Uint8Array;
  /** The log's vkey (type 0x01). */
  readonly logKey: string;
  /** The acceptable origin; defaults to the log key's name. */
  readonly origin?: string;
  /** Witness vkeys (type 0x04) and how many of them must have cosigned; default none. */
  readonly witnessKeys?: readonly string[];
  readonly witnessThreshold?: number;
}

const PolicySchema = z.object({
  entry: z.instanceof(Uint8Array).optional(),
  leafHash: z.instanceof(Uint8Array).optional(),
  logKey: z.string(),
  origin: z.string().optional(),
  witnessKeys: z.array(z.string()).optional(),
  witnessThreshold: z.number().int().nonnegative().optional(),
});

const ProofSchema = z.object({
  extra: z.instanceof(Uint8Array).optional(),
  index: z.number(),
  proof: z.array(z.instanceof(Uint8Array)),
  checkpoint: z.string(),
});

export interface VerifiedTlogProof {
  readonly proof: TlogProof;
  readonly checkpoint: Checkpoint;
  readonly cosignatures: readonly Cosignature[];
}

/**
 * Verifies a tlog-proof in the order c2sp.org/tlog-proof gives: leaf hash, the log's
 * signature on the checkpoint and its origin, witness cosignatures, then inclusion.
 */
export function verifyTlogProof(
  input: string | TlogProof,
  policyInput: TlogProofPolicy,
): Verdict<VerifiedTlogProof> {
  const parsedPolicy = PolicySchema.safeParse(policyInput);
  if (!parsedPolicy.success) {
    return reject(
      'LOG_MALFORMED_VKEY',
      `the verification policy is malformed: ${z.prettifyError(parsedPolicy.error)}`,
    );
  }
  const policy = parsedPolicy.data;
  let proof: TlogProof;
  try {
    if (typeof input !== 'string' && !ProofSchema.safeParse(input).success) {
      return reject('LOG_MALFORMED_PROOF_FILE', 'not a tlog-proof');
    }
    proof = typeof input === 'string' ? parseTlogProof(input) : input;
  } catch (error) {
    return refusal(error, 'LOG_MALFORMED_PROOF_FILE');
  }
  const leaf = policy.entry !== undefined ? hashLeaf(policy.entry) : policy.leafHash;
  if (!(leaf instanceof Uint8Array) || leaf.length !== HASH_SIZE) {
    return reject('LOG_MALFORMED_PROOF', 'the entry or its 32-byte leaf hash is required');
  }
  const opened = openCheckpoint(proof.checkpoint, policy.logKey, policy.origin);
  if (!opened.ok) return opened;
  const { checkpoint, note } = opened.value;

  let cosignatures: readonly Cosignature[] = [];
  const threshold = policy.witnessThreshold ?? 0;
  if (threshold > 0 || (policy.witnessKeys?.length ?? 0) > 0) {
    const cosigned = verifyCosignatures(note, policy.witnessKeys ?? [], threshold);
    if (!cosigned.ok) return cosigned;
    cosignatures = cosigned.value;
  }

  const included = verifyInclusion(proof.index, checkpoint.size, leaf, proof.proof, checkpoint.root);
  if (!included.ok) return included;
  return accept({ proof, checkpoint, cosignatures });
}
