import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../core/ed25519.js';
import { addSignature, pae, signaturesBy, signEnvelope } from './dsse.js';

/** Copied from shared/vectors into the repository's fixtures, so this test never skips. */
const VECTOR = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'vectors', 'dsse', 'pae-example');

describe('DSSE', () => {
  it('encodes the spec PAE example byte for byte', () => {
    const example = JSON.parse(readFileSync(`${VECTOR}.json`, 'utf8')) as {
      payloadType: string;
      payload: string;
    };
    const expected = readFileSync(`${VECTOR}.bin`);
    expect(pae(example.payloadType, Buffer.from(example.payload, 'utf8'))).toEqual(expected);
  });

  it('counts lengths in bytes, not characters', () => {
    expect(pae('t/é', Buffer.from('ü', 'utf8')).toString('utf8')).toBe('DSSEv1 4 t/é 2 ü');
  });

  it('signs with several keys and finds each signature by its key', () => {
    const a = keySigner(generateEd25519().privateKey);
    const b = keySigner(generateEd25519().privateKey);
    const c = keySigner(generateEd25519().privateKey);
    const envelope = addSignature(signEnvelope('text/plain', Buffer.from('hi'), [a, b]), c);
    expect(envelope.signatures.map((s) => s.keyid)).toEqual(['', '', '']);
    expect(signaturesBy(envelope, a.publicKey)).toEqual([0]);
    expect(signaturesBy(envelope, b.publicKey)).toEqual([1]);
    expect(signaturesBy(envelope, c.publicKey)).toEqual([2]);
    expect(signaturesBy({ ...envelope, payload: Buffer.from('ho').toString('base64') }, a.publicKey)).toEqual(
      [],
    );
  });
});
