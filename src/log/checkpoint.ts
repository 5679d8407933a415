import { decodeBase64, encodeBase64 } from './base64.js';
import { logError } from './errors.js';
import { HASH_SIZE } from './hash.js';
import type { Note } from './note-format.js';
import { ed25519NoteVerifier, type NoteSigner, type NoteVerifier, parseVerifierKey } from './note-keys.js';
import { isNoteVerifier, refusal, signNote, verifyNote } from './note-verify.js';
import { accept, reject, type Verdict } from './verdict.js';

/** The body of a c2sp.org/tlog-checkpoint: origin, tree size, root hash, optional extension lines. */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  readonly extensions: readonly string[];
}

export function formatCheckpoint(checkpoint: Checkpoint): string {
  const lines = [
    checkpoint.origin,
    String(checkpoint.size),
    encodeBase64(checkpoint.root),
    ...checkpoint.extensions,
  ];
  return `${lines.join('\n')}\n`;
}

/** Parses checkpoint note text strictly; throws LOG_MALFORMED_CHECKPOINT naming the bad line. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n'))
    throw logError('LOG_MALFORMED_CHECKPOINT', 'the checkpoint does not end with a newline');
  const [origin, sizeLine, rootLine, ...extensions] = text.slice(0, -1).split('\n');
  if (origin === undefined || origin === '')
    throw logError('LOG_MALFORMED_CHECKPOINT', 'the origin line is empty');
  if (sizeLine === undefined || !/^(0|[1-9][0-9]*)$/.test(sizeLine)) {
    throw logError('LOG_MALFORMED_CHECKPOINT', 'the size line is not a decimal number without leading zeros');
  }
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw logError('LOG_MALFORMED_CHECKPOINT', 'the tree size is too large');
  const root = rootLine === undefined ? undefined : decodeBase64(rootLine);
  if (root === undefined || root.length !== HASH_SIZE) {
    throw logError('LOG_MALFORMED_CHECKPOINT', 'the root line is not a base64 SHA-256 hash');
  }
  if (extensions.some((line) => line === '')) {
    throw logError('LOG_MALFORMED_CHECKPOINT', 'an extension line is empty');
  }
  return { origin, size, root, extensions };
}

/** Signs a checkpoint as a note; the log's key name should be its origin. */
export function signCheckpoint(checkpoint: Checkpoint, signer: NoteSigner): string {
  return signNote(formatCheckpoint(checkpoint), [signer]);
}

export interface OpenedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly note: Note;
}

/**
 * Verifies a checkpoint note against the log's key and parses its body. The origin must be
 * `origin` when given, otherwise the key's name (OACP logs sign with name = origin).
 */
export function openCheckpoint(
  input: string | Uint8Array | Note,
  logKey: string | NoteVerifier,
  origin?: string,
): Verdict<OpenedCheckpoint> {
  let verifier: NoteVerifier;
  try {
    if (typeof logKey !== 'string' && !isNoteVerifier(logKey)) {
      return reject('LOG_MALFORMED_VKEY', 'the log key is neither a vkey nor a note verifier');
    }
    verifier = typeof logKey === 'string' ? ed25519NoteVerifier(parseVerifierKey(logKey)) : logKey;
  } catch (error) {
    return refusal(error, 'LOG_MALFORMED_VKEY');
  }
  const opened = verifyNote(input, [verifier]);
  if (!opened.ok) return opened;
  let checkpoint: Checkpoint;
  try {
    checkpoint = parseCheckpoint(opened.value.note.text);
  } catch (error) {
    return refusal(error, 'LOG_MALFORMED_CHECKPOINT');
  }
  const expected = origin ?? verifier.name;
  if (checkpoint.origin !== expected) {
    return reject(
      'LOG_ORIGIN_MISMATCH',
      `the checkpoint is for origin "${checkpoint.origin}", not "${expected}"`,
    );
  }
  return accept({ checkpoint, note: opened.value.note });
}
