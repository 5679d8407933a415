/**
 * The transparency log: an append-only RFC 6962 Merkle log of signed receipts, stored and
 * published in the C2SP formats (signed-note, tlog-checkpoint, tlog-tiles, tlog-cosignature,
 * tlog-proof) so any third party can verify it offline with its own tools.
 * Any new export here becomes part of the log's public API.
 */

export {
  type Checkpoint,
  formatCheckpoint,
  type OpenedCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
} from './checkpoint.js';
export {
  addNoteSignature,
  type Cosignature,
  cosignatureMessage,
  cosignatureSigner,
  cosignatureVerifier,
  verifyCosignatures,
} from './cosignature.js';
export { LOG_ERROR_CODES, type LogError, type LogErrorCode } from './errors.js';
export { emptyRoot, HASH_SIZE, hashChildren, hashLeaf } from './hash.js';
export { MerkleTree } from './merkle-tree.js';
export { formatNote, type Note, type NoteSignature, parseNote } from './note-format.js';
export {
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatVerifierKey,
  type NoteSigner,
  type NoteVerifier,
  noteKeyId,
  parseVerifierKey,
  SIG_TYPE_COSIGNATURE_V1,
  SIG_TYPE_ED25519,
  type VerifierKey,
} from './note-keys.js';
export { signNote, verifyNote } from './note-verify.js';
export { verifyConsistency, verifyInclusion } from './proof-verify.js';
export { encodeTileIndex, entriesPath, tilePath } from './tile-path.js';
export { decodeBundle, encodeBundle, MAX_ENTRY_BYTES } from './tile-writer.js';
export { formatTlogProof, parseTlogProof, TLOG_PROOF_HEADER, type TlogProof } from './tlog-proof.js';
export { type TlogProofPolicy, type VerifiedTlogProof, verifyTlogProof } from './tlog-proof-verify.js';
export { TransparencyLog, type TransparencyLogOptions } from './transparency-log.js';
export type { Verdict } from './verdict.js';
export { type CosignRequest, Witness, type WitnessOptions } from './witness.js';
export type { WitnessedTree } from './witness-state.js';
