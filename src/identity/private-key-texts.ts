import type { KeyObject } from 'node:crypto';

/**
 * Every text form of an Ed25519 private key OACP could hold or a tool could
 * print: the PKCS#8 PEM and its base64 body, the 32-byte seed in hex (both
 * cases), standard base64 (padded and not) and base64url (a JWK's `d`). For
 * SecretValues, so a process holding the key masks each wherever it writes
 * (a log line, an error answer, a receipt's reason). Never to print.
 */
export function privateKeyTexts(privateKey: KeyObject): string[] {
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString().trim();
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d ?? '', 'base64url');
  const texts = [pem, der.toString('base64'), der.toString('base64url')];
  if (seed.length > 0) {
    const hex = seed.toString('hex');
    const base64 = seed.toString('base64');
    texts.push(hex, hex.toUpperCase(), base64, base64.replace(/=+$/, ''), seed.toString('base64url'));
  }
  seed.fill(0);
  der.fill(0);
  return texts;
}
