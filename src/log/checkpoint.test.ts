import { describe, expect, it } from 'vitest';
import { generateEd25519, keySigner, rawPublicKey } from '../core/ed25519.js';
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from './checkpoint.js';
import { ed25519NoteSigner, formatVerifierKey, SIG_TYPE_ED25519 } from './note-keys.js';
import { signNote } from './note-verify.js';

function logKey(origin: string) {
  const { privateKey, publicKey } = generateEd25519();
  return {
    signer: ed25519NoteSigner(origin, keySigner(privateKey)),
    vkey: formatVerifierKey(origin, SIG_TYPE_ED25519, rawPublicKey(publicKey)),
  };
}

const root = new Uint8Array(32).fill(0xab);
const body = { origin: 'example.com/log', size: 20852163, root, extensions: [] };

describe('c2sp.org/tlog-checkpoint', () => {
  it('formats origin, decimal size and base64 root, each on its own line', () => {
    expect(formatCheckpoint(body)).toBe(
      `example.com/log\n20852163\n${Buffer.from(root).toString('base64')}\n`,
    );
    expect(formatCheckpoint({ ...body, extensions: ['ext one', 'ext two'] })).toMatch(
      /\next one\next two\n$/,
    );
  });

  it('parses what it formats, extension lines included', () => {
    const parsed = parseCheckpoint(formatCheckpoint({ ...body, extensions: ['x'] }));
    expect(parsed.origin).toBe('example.com/log');
    expect(parsed.size).toBe(20852163);
    expect(Buffer.from(parsed.root).equals(Buffer.from(root))).toBe(true);
    expect(parsed.extensions).toEqual(['x']);
  });

  it('rejects malformed checkpoint text', () => {
    const r = Buffer.from(root).toString('base64');
    const bad = {
      'no newline': `o\n1\n${r}`,
      'two lines': 'o\n1\n',
      'empty origin': `\n1\n${r}\n`,
      'leading zero': `o\n01\n${r}\n`,
      'negative size': `o\n-1\n${r}\n`,
      'hex size': `o\n0x1\n${r}\n`,
      'unsafe size': `o\n9007199254740993\n${r}\n`,
      'short root': `o\n1\n${Buffer.alloc(31).toString('base64')}\n`,
      'non-base64 root': `o\n1\n${r.replace('q', '*')}\n`,
      'empty extension': `o\n1\n${r}\n\n`,
    };
    for (const [what, text] of Object.entries(bad)) {
      expect(() => parseCheckpoint(text), what).toThrow(
        expect.objectContaining({ code: 'LOG_MALFORMED_CHECKPOINT' }),
      );
    }
    expect(parseCheckpoint(`o\n0\n${r}\n`).size).toBe(0);
  });

  it('opens a checkpoint signed by the log key and refuses other keys and origins', () => {
    const key = logKey('example.com/log');
    const note = signCheckpoint(body, key.signer);
    const opened = openCheckpoint(note, key.vkey);
    expect(opened.ok && opened.value.checkpoint.size).toBe(20852163);

    const other = logKey('example.com/log');
    const verdict = openCheckpoint(note, other.vkey);
    expect(verdict.ok || verdict.code).toBe('LOG_UNTRUSTED_NOTE');

    const foreign = signCheckpoint({ ...body, origin: 'example.com/elsewhere' }, key.signer);
    const mismatch = openCheckpoint(foreign, key.vkey);
    expect(mismatch.ok || mismatch.code).toBe('LOG_ORIGIN_MISMATCH');

    const badVkey = openCheckpoint(note, 'not a vkey');
    expect(badVkey.ok || badVkey.code).toBe('LOG_MALFORMED_VKEY');
  });

  it('refuses a correctly signed note whose body is not a checkpoint', () => {
    const key = logKey('example.com/log');
    const note = signNote('example.com/log\nnot a size\n', [key.signer]);
    const verdict = openCheckpoint(note, key.vkey);
    expect(verdict.ok || verdict.code).toBe('LOG_MALFORMED_CHECKPOINT');
  });
});
