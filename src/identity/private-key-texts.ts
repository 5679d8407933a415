// The PKCS#8 DER prefix of an Ed25519 private key (RFC 8410): the seed follows it.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * Every text form of an Ed25519 private key OACP could hold or a tool could
 * print, from its 32-byte seed: the PKCS#8 PEM and its base64 body, the seed
 * in hex (both cases), standard base64 (padded and not) and base64url (a
 * JWK's `d`). For SecretValues, so a process holding the key masks each
 * wherever it writes (a log line, an error answer, a receipt's reason). Never
 * to print. Built from bytes with no KeyObject export: Node 20 can deadlock
 * when a JWK export of a freshly generated key runs a garbage collection that
 * finalizes the key's generation job (both take the key's mutex; an `oacp
 * init` hung so).
 */
export function privateKeyTexts(seed: Uint8Array): string[] {
  const bytes = Buffer.from(seed);
  const der = Buffer.concat([PKCS8_PREFIX, bytes]);
  const body = der.toString('base64');
  const lines = body.match(/.{1,64}/g) ?? [];
  const pem = ['-----BEGIN PRIVATE KEY-----', ...lines, '-----END PRIVATE KEY-----'].join('\n');
  const hex = bytes.toString('hex');
  const base64 = bytes.toString('base64');
  const texts = [
    pem,
    body,
    der.toString('base64url'),
    hex,
    hex.toUpperCase(),
    base64,
    base64.replace(/=+$/, ''),
    bytes.toString('base64url'),
  ];
  bytes.fill(0);
  der.fill(0);
  return texts;
}
