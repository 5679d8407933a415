const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const ED25519_PUB = [0xed, 0x01];

/** The raw Ed25519 public key of a `did:key:z6Mk…`; undefined for anything else. */
export function didKeyToEd25519(did: string): Uint8Array | undefined {
  if (typeof did !== 'string' || !did.startsWith('did:key:z') || did.length > 100) return undefined;
  const bytes = fromBase58(did.slice('did:key:z'.length));
  if (bytes === undefined || bytes.length !== 34) return undefined;
  if (bytes[0] !== ED25519_PUB[0] || bytes[1] !== ED25519_PUB[1]) return undefined;
  return bytes.slice(2);
}

function fromBase58(text: string): Uint8Array | undefined {
  let value = 0n;
  for (const char of text) {
    const digit = BASE58.indexOf(char);
    if (digit < 0) return undefined;
    value = value * 58n + BigInt(digit);
  }
  const bytes: number[] = [];
  for (; value > 0n; value /= 256n) bytes.unshift(Number(value % 256n));
  for (const char of text) {
    if (char !== '1') break;
    bytes.unshift(0);
  }
  return Uint8Array.from(bytes);
}
