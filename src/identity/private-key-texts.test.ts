import { describe, expect, it } from 'vitest';
import { generateEd25519, rawPrivateSeed } from '../core/ed25519.js';
import { privateKeyTexts } from './private-key-texts.js';

describe('privateKeyTexts', () => {
  it('gives the very texts Node exports for the key (PEM, DER base64, JWK d), from the seed alone', () => {
    for (let round = 0; round < 20; round++) {
      const { privateKey } = generateEd25519();
      const seed = rawPrivateSeed(privateKey);
      const texts = privateKeyTexts(seed);
      const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString().trim();
      const der = privateKey.export({ format: 'der', type: 'pkcs8' });
      const jwk = privateKey.export({ format: 'jwk' });
      expect(texts).toContain(pem);
      expect(texts).toContain(der.toString('base64'));
      expect(texts).toContain(jwk.d);
      expect(texts).toContain(Buffer.from(seed).toString('hex'));
      expect(texts).toContain(Buffer.from(seed).toString('hex').toUpperCase());
      expect(texts).toContain(Buffer.from(seed).toString('base64'));
    }
  });

  it("leaves the caller's seed as it was", () => {
    const seed = new Uint8Array(32).fill(7);
    privateKeyTexts(seed);
    expect([...seed]).toEqual(new Array(32).fill(7));
  });
});
