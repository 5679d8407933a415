import { type Signer, verifyEd25519 } from '../core/ed25519.js';
import { parseCheckpoint } from './checkpoint.js';
import { logError } from './errors.js';
import { formatNote, isValidKeyName, type Note } from './note-format.js';
import {
  ed25519Key,
  type NoteSigner,
  type NoteVerifier,
  noteKeyId,
  parseVerifierKey,
  SIG_TYPE_COSIGNATURE_V1,
  type VerifierKey,
} from './note-keys.js';
import { checkSignatures, parseSafely, refusal } from './note-verify.js';
import { accept, reject, type Verdict } from './verdict.js';

/** A verified c2sp.org/tlog-cosignature (v1, Ed25519) on a checkpoint. */
export interface Cosignature {
  readonly name: string;
  readonly keyId: number;
  /** POSIX seconds at which the witness cosigned. */
  readonly timestamp: number;
}

const utf8 = new TextEncoder();
const TIMESTAMPED_SIGNATURE_BYTES = 8 + 64;

/** The signed message: `cosignature/v1\ntime <seconds>\n` followed by the checkpoint body. */
export function cosignatureMessage(checkpointText: Uint8Array, timestamp: number): Uint8Array {
  const header = utf8.encode(`cosignature/v1\ntime ${timestamp}\n`);
  const message = new Uint8Array(header.length + checkpointText.length);
  message.set(header);
  message.set(checkpointText, header.length);
  return message;
}

/** A note signer producing type 0x04 timestamped cosignatures: 8-byte big-endian time || Ed25519 signature. */
export function cosignatureSigner(name: string, signer: Signer, now: () => number = unixSeconds): NoteSigner {
  if (!isValidKeyName(name))
    throw logError(
      'LOG_MALFORMED_VKEY',
      'a key name must be non-empty without spaces, "+" or control characters',
    );
  return {
    name,
    keyId: noteKeyId(name, SIG_TYPE_COSIGNATURE_V1, signer.publicKey),
    sign: (text) => {
      const timestamp = now();
      if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
        throw logError('LOG_COSIGNATURE_FAILED', `cannot cosign at time ${timestamp}`);
      }
      const out = new Uint8Array(TIMESTAMPED_SIGNATURE_BYTES);
      new DataView(out.buffer).setBigUint64(0, BigInt(timestamp), false);
      out.set(signer.sign(cosignatureMessage(text, timestamp)), 8);
      return out;
    },
  };
}

/** A note verifier for a type 0x04 witness vkey. */
export function cosignatureVerifier(vkey: string | VerifierKey): NoteVerifier {
  const key = typeof vkey === 'string' ? parseVerifierKey(vkey) : vkey;
  if (key.sigType !== SIG_TYPE_COSIGNATURE_V1) {
    throw logError('LOG_MALFORMED_VKEY', `key ${key.name} is not a type 0x04 cosignature key`);
  }
  const publicKey = ed25519Key(key.publicKey);
  return {
    name: key.name,
    keyId: key.keyId,
    verify: (text, signature) => {
      const timestamp = timestampOf(signature);
      if (timestamp === undefined) return false;
      return verifyEd25519(publicKey, cosignatureMessage(text, timestamp), signature.subarray(8));
    },
  };
}

/** Adds (or refreshes) `signer`'s signature line on an already-signed note. */
export function addNoteSignature(note: Note, signer: NoteSigner): string {
  const others = note.signatures.filter((sig) => !(sig.name === signer.name && sig.keyId === signer.keyId));
  const signature = signer.sign(utf8.encode(note.text));
  return formatNote(note.text, [...others, { name: signer.name, keyId: signer.keyId, signature }]);
}

/**
 * Verifies the cosignatures on a checkpoint note from the given witness vkeys and requires
 * at least `threshold` of them. A cosignature from a known witness that fails rejects the note.
 * This does not check the log's own signature: use openCheckpoint for that.
 */
export function verifyCosignatures(
  input: string | Uint8Array | Note,
  witnessKeys: readonly string[],
  threshold = 1,
): Verdict<Cosignature[]> {
  const parsed = parseSafely(input);
  if (!parsed.ok) return parsed;
  let verifiers: NoteVerifier[];
  try {
    parseCheckpoint(parsed.value.text);
    verifiers = witnessKeys.map((key) => cosignatureVerifier(key));
  } catch (error) {
    return refusal(error, 'LOG_MALFORMED_VKEY');
  }
  const checked = checkSignatures(parsed.value, verifiers);
  if (!checked.ok) return checked;
  const cosignatures = checked.value.map((sig) => ({
    name: sig.name,
    keyId: sig.keyId,
    timestamp: timestampOf(sig.signature) ?? 0,
  }));
  if (cosignatures.length < threshold) {
    return reject(
      'LOG_COSIGNATURE_FAILED',
      `${cosignatures.length} of ${witnessKeys.length} known witnesses cosigned, ${threshold} required`,
    );
  }
  return accept(cosignatures);
}

/** The timestamp of a timestamped_signature, or undefined when malformed or beyond safe integers. */
function timestampOf(signature: Uint8Array): number | undefined {
  if (signature.length !== TIMESTAMPED_SIGNATURE_BYTES) return undefined;
  const value = new DataView(signature.buffer, signature.byteOffset, 8).getBigUint64(0, false);
  // The spec caps it at 2^63-1 and lets verifiers refuse future times; 2^53 seconds is far beyond both.
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
}

function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
