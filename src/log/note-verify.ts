import { isOacpError } from '../core/errors.js';
import { isLogErrorCode, type LogErrorCode, logError } from './errors.js';
import { checkNoteText, formatNote, type Note, type NoteSignature, parseNote } from './note-format.js';
import type { NoteSigner, NoteVerifier } from './note-keys.js';
import { accept, reject, type Verdict } from './verdict.js';

const utf8 = new TextEncoder();

/** Signs note text (which must end in a newline) and returns the whole signed note. */
export function signNote(
  text: string,
  signers: readonly NoteSigner[],
  existing: readonly NoteSignature[] = [],
): string {
  checkNoteText(text, 'the note text');
  if (signers.length + existing.length === 0)
    throw logError('LOG_MALFORMED_NOTE', 'a note needs a signature');
  const bytes = utf8.encode(text);
  const added = signers.map((signer) => ({
    name: signer.name,
    keyId: signer.keyId,
    signature: signer.sign(bytes),
  }));
  return formatNote(text, [...existing, ...added]);
}

/** The signatures of `note` made by keys in `verifiers`; a failing one from a known key rejects the note. */
export function checkSignatures(note: Note, verifiers: readonly NoteVerifier[]): Verdict<NoteSignature[]> {
  const text = utf8.encode(note.text);
  const verified: NoteSignature[] = [];
  for (const sig of note.signatures) {
    // c2sp signed-note: signatures from unknown keys are ignored, even when name or ID (not both) match.
    const verifier = verifiers.find((v) => v.name === sig.name && v.keyId === sig.keyId);
    if (verifier === undefined) continue;
    let good = false;
    try {
      good = verifier.verify(text, sig.signature);
    } catch {
      good = false;
    }
    if (!good) return reject('LOG_BAD_SIGNATURE', `the signature by ${describeKey(sig)} does not verify`);
    if (!verified.some((v) => v.name === sig.name && v.keyId === sig.keyId)) verified.push(sig);
  }
  return accept(verified);
}

/**
 * Opens a signed note: parses it strictly and requires at least one valid signature from
 * `verifiers`. The text must not be trusted unless this accepts.
 */
export function verifyNote(
  input: string | Uint8Array | Note,
  verifiers: readonly NoteVerifier[],
): Verdict<{ note: Note; verified: NoteSignature[] }> {
  const parsed = parseSafely(input);
  if (!parsed.ok) return parsed;
  if (!Array.isArray(verifiers) || !verifiers.every(isNoteVerifier)) {
    return reject('LOG_MALFORMED_VKEY', 'the trusted keys are not note verifiers');
  }
  const checked = checkSignatures(parsed.value, verifiers);
  if (!checked.ok) return checked;
  if (checked.value.length === 0) {
    const known = verifiers.map(describeKey).join(', ') || 'none';
    return reject('LOG_UNTRUSTED_NOTE', `the note has no signature from a trusted key (trusted: ${known})`);
  }
  return accept({ note: parsed.value, verified: checked.value });
}

/** parseNote, with its refusal as a value. */
export function parseSafely(input: string | Uint8Array | Note): Verdict<Note> {
  if (typeof input === 'object' && input !== null && !(input instanceof Uint8Array)) {
    return isNote(input) ? accept(input) : reject('LOG_MALFORMED_NOTE', 'not a note');
  }
  try {
    return accept(parseNote(input));
  } catch (error) {
    return refusal(error, 'LOG_MALFORMED_NOTE');
  }
}

function isNote(value: object): value is Note {
  const candidate = value as { text?: unknown; signatures?: unknown };
  return (
    typeof candidate.text === 'string' &&
    Array.isArray(candidate.signatures) &&
    candidate.signatures.every(
      (sig: { name?: unknown; keyId?: unknown; signature?: unknown } | null) =>
        typeof sig === 'object' &&
        sig !== null &&
        typeof sig.name === 'string' &&
        typeof sig.keyId === 'number' &&
        sig.signature instanceof Uint8Array,
    )
  );
}

/** A verifier supplied by a caller, checked before use so a wrong value is a refusal, not a TypeError. */
export function isNoteVerifier(value: unknown): value is NoteVerifier {
  const candidate = value as { name?: unknown; keyId?: unknown; verify?: unknown } | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.name === 'string' &&
    typeof candidate.keyId === 'number' &&
    typeof candidate.verify === 'function'
  );
}

/** Turns a thrown OacpError into a refusal; anything else is a refusal with the fallback code. */
export function refusal(
  error: unknown,
  fallback: LogErrorCode,
): { ok: false; code: LogErrorCode; reason: string } {
  if (isOacpError(error) && isLogErrorCode(error.code)) return reject(error.code, error.message);
  return reject(fallback, error instanceof Error ? error.message : String(error));
}

export function describeKey(key: { name: string; keyId: number }): string {
  return `${key.name}+${key.keyId.toString(16).padStart(8, '0')}`;
}
