import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateEd25519, keySigner, rawPublicKey } from '../core/ed25519.js';
import { parseNote } from './note-format.js';
import {
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatVerifierKey,
  noteKeyId,
  parseVerifierKey,
  SIG_TYPE_ED25519,
} from './note-keys.js';
import { signNote, verifyNote } from './note-verify.js';

function newKey(name: string) {
  const { privateKey, publicKey } = generateEd25519();
  const signer = ed25519NoteSigner(name, keySigner(privateKey));
  const vkey = formatVerifierKey(name, SIG_TYPE_ED25519, rawPublicKey(publicKey));
  return { signer, vkey, verifier: ed25519NoteVerifier(vkey) };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('c2sp.org/signed-note key IDs and verifier keys', () => {
  it('computes key ID = SHA-256(name || 0x0A || 0x01 || key)[:4]', () => {
    const key = new Uint8Array(32).fill(7);
    const digest = createHash('sha256')
      .update(Buffer.concat([Buffer.from('example.com/a\n'), Buffer.from([1]), key]))
      .digest();
    expect(noteKeyId('example.com/a', 1, key)).toBe(digest.readUInt32BE(0));
  });

  it('round-trips a vkey', () => {
    const { vkey } = newKey('example.com/log');
    const parsed = parseVerifierKey(vkey);
    expect(parsed.name).toBe('example.com/log');
    expect(parsed.sigType).toBe(1);
    expect(formatVerifierKey(parsed.name, parsed.sigType, parsed.publicKey)).toBe(vkey);
  });

  it('refuses malformed vkeys', () => {
    const { vkey } = newKey('example.com/log');
    const [name, id] = vkey.split('+') as [string, string];
    const material = vkey.slice(name.length + id.length + 2);
    const wrongId = ((Number.parseInt(id, 16) + 1) >>> 0).toString(16).padStart(8, '0');
    const bytes = Buffer.from(material, 'base64');
    const cases = [
      `${name}+${id}`,
      `${name}+${id}+${material}+x`,
      `${name}+${id}`.replace('+', '++'),
      `+${id}+${material}`,
      `a b+${id}+${material}`,
      `${name}+${id.toUpperCase()}+${material}`,
      `${name}+${wrongId}+${material}`,
      `${name}+${id}+${material.slice(0, -1)}`,
      `${name}+${id}+${Buffer.concat([Buffer.from([9]), bytes.subarray(1)]).toString('base64')}`,
      `${name}+${id}+${bytes.subarray(0, 20).toString('base64')}`,
    ];
    // A key ID with no hex letters is its own upper case: that case is then not malformed.
    const upper = `${name}+${id.toUpperCase()}+${material}`;
    for (const bad of cases.filter((text) => id !== id.toUpperCase() || text !== upper))
      expect(
        codeOf(() => parseVerifierKey(bad)),
        bad,
      ).toBe('LOG_MALFORMED_VKEY');
  });
});

describe('c2sp.org/signed-note format', () => {
  const key = newKey('example.com/log');
  const note = signNote('hello\n\nworld\n', [key.signer]);

  it('signs text and verifies, splitting at the last blank line', () => {
    expect(note.startsWith('hello\n\nworld\n\n\u2014 example.com/log ')).toBe(true);
    const opened = verifyNote(note, [key.verifier]);
    expect(opened.ok && opened.value.note.text).toBe('hello\n\nworld\n');
  });

  it('rejects malformed notes, naming the fault', () => {
    const sigLine = note.slice(note.lastIndexOf('\u2014'));
    const bad: Record<string, string | Uint8Array> = {
      'no final newline': note.slice(0, -1),
      'no blank line': `hello\n${sigLine}`,
      'no signature lines': 'hello\n\n',
      'hyphen instead of em dash': note.replace('\u2014', '-'),
      'a name with a plus': note.replace('example.com/log', 'example.com+log'),
      'no name': `hello\n\n\u2014  AAAAAAAA\n`,
      'bad base64': note.replace(/ [A-Za-z0-9+/=]+\n$/, ' !!!!\n'),
      'non-canonical base64': note.replace(/=?=\n$/, '\n'),
      'too short a signature': 'hello\n\n\u2014 example.com/log AAAAAA==\n',
      'a carriage return': note.replace('hello', 'hel\rlo'),
      'a tab': note.replace('hello', 'hel\tlo'),
      'invalid UTF-8': Buffer.concat([Buffer.from([0xff]), Buffer.from(note)]),
      'too many signatures': `hello\n\n${sigLine.repeat(101)}`,
    };
    for (const [what, input] of Object.entries(bad)) {
      expect(
        codeOf(() => parseNote(input)),
        what,
      ).toBe('LOG_MALFORMED_NOTE');
      const verdict = verifyNote(input, [key.verifier]);
      expect(verdict.ok, what).toBe(false);
    }
  });

  it('treats signature lines before the last blank line as text, so their signature no longer verifies', () => {
    const sigLine = note.slice(note.lastIndexOf('\u2014'));
    const shifted = `${note}\n${sigLine}`;
    expect(parseNote(shifted).text).toBe(note);
    const verdict = verifyNote(shifted, [key.verifier]);
    expect(verdict.ok || verdict.code).toBe('LOG_BAD_SIGNATURE');
  });

  it('accepts the 16 signatures the spec requires verifiers to handle', () => {
    const keys = Array.from({ length: 16 }, (_, i) => newKey(`example.com/k${i}`));
    const many = signNote(
      'text\n',
      keys.map((k) => k.signer),
    );
    expect(parseNote(many).signatures).toHaveLength(16);
    expect(verifyNote(many, [keys[15]?.verifier ?? key.verifier]).ok).toBe(true);
  });

  it('ignores signatures from unknown keys but rejects a note with no trusted signature', () => {
    const other = newKey('example.com/other');
    const both = signNote('text\n', [other.signer, key.signer]);
    expect(verifyNote(both, [key.verifier]).ok).toBe(true);
    const onlyOther = signNote('text\n', [other.signer]);
    const verdict = verifyNote(onlyOther, [key.verifier]);
    expect(verdict.ok || verdict.code).toBe('LOG_UNTRUSTED_NOTE');
  });

  it('ignores a signature sharing the trusted name but not its key ID', () => {
    const impostor = newKey('example.com/log');
    const forged = signNote('text\n', [impostor.signer]);
    const verdict = verifyNote(forged, [key.verifier]);
    expect(verdict.ok || verdict.code).toBe('LOG_UNTRUSTED_NOTE');
  });

  it('rejects the whole note when a known key signature fails', () => {
    const tampered = note.replace('world', 'World');
    const verdict = verifyNote(tampered, [key.verifier]);
    expect(verdict.ok || verdict.code).toBe('LOG_BAD_SIGNATURE');
    const other = newKey('example.com/other');
    const mixed = signNote('text\n', [key.signer]).replace('text', 'next');
    const withGood = `${mixed}${signNote('next\n', [other.signer]).split('\n\n')[1]}`;
    const verdict2 = verifyNote(withGood, [key.verifier, other.verifier]);
    expect(verdict2.ok || verdict2.code).toBe('LOG_BAD_SIGNATURE');
  });

  it('refuses to sign text that is not valid note text', () => {
    expect(codeOf(() => signNote('no newline', [key.signer]))).toBe('LOG_MALFORMED_NOTE');
    expect(codeOf(() => signNote('bell\u0007\n', [key.signer]))).toBe('LOG_MALFORMED_NOTE');
    expect(codeOf(() => signNote('text\n', []))).toBe('LOG_MALFORMED_NOTE');
  });

  it('returns a refusal, not a TypeError, for input of the wrong type', () => {
    const verdict = verifyNote(42 as unknown as string, [key.verifier]);
    expect(verdict.ok).toBe(false);
  });
});
