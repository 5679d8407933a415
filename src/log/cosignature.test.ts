import { describe, expect, it } from 'vitest';
import { generateEd25519, keySigner, rawPublicKey, verifyEd25519 } from '../core/ed25519.js';
import { signCheckpoint } from './checkpoint.js';
import { addNoteSignature, cosignatureSigner, verifyCosignatures } from './cosignature.js';
import { parseNote } from './note-format.js';
import {
  ed25519NoteSigner,
  formatVerifierKey,
  parseVerifierKey,
  SIG_TYPE_COSIGNATURE_V1,
  SIG_TYPE_ED25519,
} from './note-keys.js';

function witness(name: string, time = 1679315147) {
  const { privateKey, publicKey } = generateEd25519();
  const raw = rawPublicKey(publicKey);
  return {
    raw,
    signer: cosignatureSigner(name, keySigner(privateKey), () => time),
    vkey: formatVerifierKey(name, SIG_TYPE_COSIGNATURE_V1, raw),
  };
}

const log = generateEd25519();
const logSigner = ed25519NoteSigner('example.com/log', keySigner(log.privateKey));
const checkpoint = signCheckpoint(
  { origin: 'example.com/log', size: 5, root: new Uint8Array(32).fill(1), extensions: [] },
  logSigner,
);

describe('c2sp.org/tlog-cosignature v1 (Ed25519)', () => {
  it('signs 8-byte big-endian time || Ed25519 over "cosignature/v1\\ntime T\\n" + checkpoint body', () => {
    const w = witness('witness.example/w1');
    const cosigned = addNoteSignature(parseNote(checkpoint), w.signer);
    const line = parseNote(cosigned).signatures.find((s) => s.name === 'witness.example/w1');
    expect(line?.signature.length).toBe(72);
    const sig = line?.signature ?? new Uint8Array();
    expect(Buffer.from(sig.subarray(0, 8)).readBigUInt64BE(0)).toBe(1679315147n);
    const body = checkpoint.slice(0, checkpoint.indexOf('\n\n') + 1);
    const message = Buffer.from(`cosignature/v1\ntime 1679315147\n${body}`);
    expect(verifyEd25519(w.raw, message, sig.subarray(8))).toBe(true);
  });

  it('keeps the log signature and verifies cosignatures with their times', () => {
    const w1 = witness('witness.example/w1', 100);
    const w2 = witness('witness.example/w2', 200);
    const once = addNoteSignature(parseNote(checkpoint), w1.signer);
    const twice = addNoteSignature(parseNote(once), w2.signer);
    expect(parseNote(twice).signatures.map((s) => s.name)).toEqual([
      'example.com/log',
      'witness.example/w1',
      'witness.example/w2',
    ]);
    const verdict = verifyCosignatures(twice, [w1.vkey, w2.vkey], 2);
    expect(verdict.ok && verdict.value.map((c) => c.timestamp)).toEqual([100, 200]);
  });

  it('refuses when fewer witnesses than the threshold cosigned', () => {
    const w1 = witness('witness.example/w1');
    const w2 = witness('witness.example/w2');
    const once = addNoteSignature(parseNote(checkpoint), w1.signer);
    const verdict = verifyCosignatures(once, [w1.vkey, w2.vkey], 2);
    expect(verdict.ok || verdict.code).toBe('LOG_COSIGNATURE_FAILED');
    const none = verifyCosignatures(checkpoint, [w1.vkey]);
    expect(none.ok || none.code).toBe('LOG_COSIGNATURE_FAILED');
  });

  it('rejects a cosignature whose timestamp was altered', () => {
    const w1 = witness('witness.example/w1', 100);
    const cosigned = parseNote(addNoteSignature(parseNote(checkpoint), w1.signer));
    const sigs = cosigned.signatures.map((s) => {
      if (s.name !== 'witness.example/w1') return s;
      const changed = s.signature.slice();
      changed[7] = 101;
      return { ...s, signature: changed };
    });
    const tampered = { text: cosigned.text, signatures: sigs };
    const verdict = verifyCosignatures(tampered, [w1.vkey]);
    expect(verdict.ok || verdict.code).toBe('LOG_BAD_SIGNATURE');
  });

  it('refuses a plain Ed25519 (0x01) key as a witness key, and a body that is not a checkpoint', () => {
    const { publicKey } = generateEd25519();
    const plain = formatVerifierKey('witness.example/w1', SIG_TYPE_ED25519, rawPublicKey(publicKey));
    const verdict = verifyCosignatures(checkpoint, [plain]);
    expect(verdict.ok || verdict.code).toBe('LOG_MALFORMED_VKEY');
    const w1 = witness('witness.example/w1');
    const notCheckpoint = addNoteSignature({ text: 'hello\n', signatures: [] }, w1.signer);
    const verdict2 = verifyCosignatures(notCheckpoint, [w1.vkey]);
    expect(verdict2.ok || verdict2.code).toBe('LOG_MALFORMED_CHECKPOINT');
  });

  it('attack: a witness or log key name holding a control character (ESC, BEL) is refused; it went raw into the signed note', () => {
    const key = keySigner(generateEd25519().privateKey);
    for (const name of ['evil\u001b]0;x\u0007', 'w\u0000', 'w\u001f']) {
      expect(() => cosignatureSigner(name, key)).toThrow(/without spaces, "\+" or control characters/);
      expect(() => ed25519NoteSigner(name, key)).toThrow(/without spaces, "\+" or control characters/);
      const vkey = formatVerifierKey(
        name,
        SIG_TYPE_COSIGNATURE_V1,
        rawPublicKey(generateEd25519().publicKey),
      );
      expect(() => parseVerifierKey(vkey)).toThrow(expect.objectContaining({ code: 'LOG_MALFORMED_VKEY' }));
    }
  });

  it('replaces its own earlier cosignature rather than adding a second', () => {
    const w1 = witness('witness.example/w1');
    const once = addNoteSignature(parseNote(checkpoint), w1.signer);
    const again = addNoteSignature(parseNote(once), w1.signer);
    expect(parseNote(again).signatures).toHaveLength(2);
  });
});
