import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ed25519NoteVerifier, parseVerifierKey } from '../../src/log/note-keys.js';
import { verifyNote } from '../../src/log/note-verify.js';
import { requireVectors } from './vectors.js';

const C2SP = requireVectors('c2sp');

describe('c2sp.org/signed-note example from the spec', () => {
  const read = (name: string) => readFileSync(join(C2SP, name), 'utf8');

  it('verifies the example note with the example vkey', () => {
    const vkey = read('signed-note-example.vkey').trim();
    expect(parseVerifierKey(vkey).keyId.toString(16)).toBe('530d903a');
    const verdict = verifyNote(read('signed-note-example.txt'), [ed25519NoteVerifier(vkey)]);
    expect(verdict.ok && verdict.value.note.text).toBe('This is an example message.\n');
  });

  it('rejects the example note once its text is changed', () => {
    const vkey = read('signed-note-example.vkey').trim();
    const changed = read('signed-note-example.txt').replace('example message', 'example massage');
    const verdict = verifyNote(changed, [ed25519NoteVerifier(vkey)]);
    expect(verdict.ok || verdict.code).toBe('LOG_BAD_SIGNATURE');
  });
});
