import { createHash, createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nodeWitnessSigner, witnessName, witnessVerifierKey } from '../../src/cluster/witness-key.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { signCheckpoint } from '../../src/log/checkpoint.js';
import { addNoteSignature, cosignatureSigner, verifyCosignatures } from '../../src/log/cosignature.js';
import { parseNote } from '../../src/log/note-format.js';
import { ed25519NoteSigner } from '../../src/log/note-keys.js';

/**
 * The cosignature line byte for byte against c2sp.org/tlog-cosignature v1 (no npm package
 * implements it; the check below re-derives each field with node:crypto only):
 * base64(key ID (4) || timestamp (8, big-endian) || Ed25519 signature (64)), key ID =
 * SHA-256(name || "\n" || 0x04 || public key)[:4], signed message =
 * "cosignature/v1\ntime <t>\n" || checkpoint body.
 */
describe('c2sp tlog-cosignature v1 byte layout', () => {
  const log = keySigner(generateEd25519().privateKey);
  const body = {
    origin: 'example.com/behind-the-sofa',
    size: 20852163,
    root: new Uint8Array(32).fill(9),
    extensions: [],
  };
  const note = signCheckpoint(body, ed25519NoteSigner('example.com/behind-the-sofa', log));
  const witness = nodeWitnessSigner(log);
  const name = witnessName('example.com/behind-the-sofa');
  const cosigned = addNoteSignature(
    parseNote(note),
    cosignatureSigner(name, witness, () => 1_679_315_147),
  );

  it('writes the fields the spec defines, verifiable with node:crypto alone', () => {
    const parsed = parseNote(cosigned);
    const line = cosigned.trimEnd().split('\n').at(-1) ?? '';
    expect(line.startsWith(`\u2014 ${name} `)).toBe(true);
    const raw = Buffer.from(line.split(' ').at(-1) ?? '', 'base64');
    expect(raw.length).toBe(4 + 8 + 64);
    const keyId = createHash('sha256')
      .update(Buffer.concat([Buffer.from(`${name}\n`), Buffer.from([0x04]), Buffer.from(witness.publicKey)]))
      .digest()
      .subarray(0, 4);
    expect(raw.subarray(0, 4)).toEqual(keyId);
    expect(raw.readBigUInt64BE(4)).toBe(1_679_315_147n);
    const message = Buffer.concat([
      Buffer.from('cosignature/v1\ntime 1679315147\n'),
      Buffer.from(parsed.text),
    ]);
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(witness.publicKey).toString('base64url') },
      format: 'jwk',
    });
    expect(verify(null, message, publicKey, raw.subarray(12))).toBe(true);
    // A different time in the message (the timestamp is signed) does not verify.
    const other = Buffer.concat([Buffer.from('cosignature/v1\ntime 1679315148\n'), Buffer.from(parsed.text)]);
    expect(verify(null, other, publicKey, raw.subarray(12))).toBe(false);
    expect(
      verifyCosignatures(cosigned, [witnessVerifierKey('example.com/behind-the-sofa', witness)]).ok,
    ).toBe(true);
  });

  it("decodes the spec's own example line to the same layout", () => {
    // From c2sp.org/tlog-cosignature: "— witness.example.com/w1 jWbPPwAAAABkGFDL…".
    const example =
      'jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==';
    const raw = Buffer.from(example, 'base64');
    expect(raw.length).toBe(76);
    expect(raw.readBigUInt64BE(4)).toBe(1_679_315_147n);
  });

  it('derives a cosigning key apart from the log key, the same on every open', () => {
    expect(Buffer.from(witness.publicKey)).not.toEqual(Buffer.from(log.publicKey));
    expect(Buffer.from(nodeWitnessSigner(log).publicKey)).toEqual(Buffer.from(witness.publicKey));
  });
});
