import { decodeBase64, encodeBase64 } from './base64.js';
import { logError } from './errors.js';

/** One signature line of a C2SP signed note: `— <name> base64(keyId || signature)`. */
export interface NoteSignature {
  readonly name: string;
  /** The 32-bit key ID, big-endian on the wire. */
  readonly keyId: number;
  /** The signature bytes after the key ID. */
  readonly signature: Uint8Array;
}

/** A parsed signed note. `text` includes its final newline but not the blank separator line. */
export interface Note {
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

const SIGNATURE_PREFIX = '\u2014 ';
/** The spec requires accepting at least 16; more than this is treated as abuse. */
export const MAX_NOTE_SIGNATURES = 100;
const BAD_NAME = /[\s+]/u;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** c2sp signed-note: non-empty, no Unicode space, no '+', and (as everywhere in a note) no control character. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !BAD_NAME.test(name) && !hasControlCharacter(name);
}

/** Checks the rules shared by note text and whole notes: UTF-8, no control characters but newline. */
export function checkNoteText(text: string, what: string): void {
  if (Buffer.from(text, 'utf8').toString('utf8') !== text) {
    throw logError('LOG_MALFORMED_NOTE', `${what} is not valid UTF-8`);
  }
  if (hasControlCharacter(text)) throw logError('LOG_MALFORMED_NOTE', `${what} contains a control character`);
  if (!text.endsWith('\n')) throw logError('LOG_MALFORMED_NOTE', `${what} does not end with a newline`);
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x20 && code !== 0x0a) return true;
  }
  return false;
}

/** Parses a signed note (c2sp.org/signed-note) strictly; throws LOG_MALFORMED_NOTE naming the fault. */
export function parseNote(input: string | Uint8Array): Note {
  let note: string;
  if (typeof input === 'string') {
    note = input;
  } else {
    try {
      note = utf8.decode(input);
    } catch {
      throw logError('LOG_MALFORMED_NOTE', 'the note is not valid UTF-8');
    }
  }
  checkNoteText(note, 'the note');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw logError('LOG_MALFORMED_NOTE', 'the note has no blank line before its signatures');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block === '') throw logError('LOG_MALFORMED_NOTE', 'the note has no signature lines');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) {
    throw logError('LOG_MALFORMED_NOTE', `the note has more than ${MAX_NOTE_SIGNATURES} signatures`);
  }
  return { text, signatures: lines.map((line, i) => parseSignatureLine(line, i + 1)) };
}

function parseSignatureLine(line: string, number: number): NoteSignature {
  if (!line.startsWith(SIGNATURE_PREFIX)) {
    throw logError(
      'LOG_MALFORMED_NOTE',
      `signature line ${number} does not start with an em dash and a space`,
    );
  }
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(' ');
  const name = space < 0 ? '' : rest.slice(0, space);
  const encoded = space < 0 ? '' : rest.slice(space + 1);
  if (!isValidKeyName(name))
    throw logError('LOG_MALFORMED_NOTE', `signature line ${number} has no valid key name`);
  const bytes = decodeBase64(encoded);
  if (bytes === undefined) throw logError('LOG_MALFORMED_NOTE', `signature line ${number} is not base64`);
  if (bytes.length < 5) throw logError('LOG_MALFORMED_NOTE', `signature line ${number} is too short`);
  const keyId = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, false);
  return { name, keyId, signature: bytes.slice(4) };
}

/** Serialises a note; `text` must already be valid note text (the signers checked it). */
export function formatNote(text: string, signatures: readonly NoteSignature[]): string {
  const lines = signatures.map((sig) => {
    const bytes = new Uint8Array(4 + sig.signature.length);
    new DataView(bytes.buffer).setUint32(0, sig.keyId, false);
    bytes.set(sig.signature, 4);
    return `${SIGNATURE_PREFIX}${sig.name} ${encodeBase64(bytes)}\n`;
  });
  return `${text}\n${lines.join('')}`;
}
