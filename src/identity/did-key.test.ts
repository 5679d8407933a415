import { describe, expect, it } from 'vitest';
import { keySigner, privateKeyFromSeed } from '../core/ed25519.js';
import { base58btcDecode, base58btcEncode } from './base58btc.js';
import { didKeyFromPublicKey, isDidKey, publicKeyFromDidKey } from './did-key.js';

/**
 * did:key spec test vectors (w3c-ccg/did-method-key, test-vectors/ed25519-x25519.json):
 * the Ed25519 seed, the key's publicKeyBase58 and the resulting did.
 */
const SPEC_VECTORS = [
  {
    seed: '0000000000000000000000000000000000000000000000000000000000000000',
    publicKeyBase58: '4zvwRjXUKGfvwnParsHAS3HuSVzV5cA4McphgmoCtajS',
    did: 'did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp',
  },
  {
    seed: '0000000000000000000000000000000000000000000000000000000000000001',
    publicKeyBase58: '6ASf5EcmmEHTgDJ4X4ZT5vT6iHVJBXPg5AN5YoTCpGWt',
    did: 'did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG',
  },
  {
    seed: '0000000000000000000000000000000000000000000000000000000000000002',
    publicKeyBase58: '8pM1DN3RiT8vbom5u1sNryaNT1nyL8CTTW3b5PwWXRBH',
    did: 'did:key:z6MknGc3ocHs3zdPiJbnaaqDi58NGb4pk1Sp9WxWufuXSdxf',
  },
  {
    seed: '0000000000000000000000000000000000000000000000000000000000000003',
    publicKeyBase58: 'HPYVwAQmskwT1qEEeRzhoomyfyupJGASQQtCXSNG8XS2',
    did: 'did:key:z6MkvqoYXQfDDJRv8L4wKzxYeuKyVZBfi9Qo6Ro8MiLH3kDQ',
  },
  {
    seed: '0000000000000000000000000000000000000000000000000000000000000004',
    publicKeyBase58: 'J3qYF7YJMKCqQke47UQwiHizgFUXapHxRxKmxbkar89x',
    did: 'did:key:z6MkwW6aqMnjgrhJXFUko3NnZPGzVpkNzhYK7yEhnsibmLwL',
  },
];

describe('did:key (Ed25519)', () => {
  it.each(SPEC_VECTORS)('matches the spec vector $did', ({ seed, publicKeyBase58, did }) => {
    const publicKey = keySigner(privateKeyFromSeed(Buffer.from(seed, 'hex'))).publicKey;
    expect(base58btcEncode(publicKey)).toBe(publicKeyBase58);
    expect(didKeyFromPublicKey(publicKey)).toBe(did);
    expect(Buffer.from(publicKeyFromDidKey(did))).toEqual(Buffer.from(base58btcDecode(publicKeyBase58)));
  });

  it('starts with z6Mk, as every Ed25519 did:key does', () => {
    expect(didKeyFromPublicKey(new Uint8Array(32).fill(7))).toMatch(/^did:key:z6Mk/);
  });

  it('refuses to encode a key that is not 32 bytes', () => {
    expect(() => didKeyFromPublicKey(new Uint8Array(31))).toThrow(/32 bytes/);
  });

  const valid = SPEC_VECTORS[0]?.did ?? '';
  const key = publicKeyFromDidKey(valid);
  const encode = (bytes: Uint8Array) => `did:key:z${base58btcEncode(bytes)}`;
  const refusals: Array<[string, string, RegExp]> = [
    ['another DID method', valid.replace('did:key:', 'did:web:'), /must start with/],
    ['a non-base58btc multibase', valid.replace(':z', ':m'), /must start with/],
    ['a fragment', `${valid}#key-1`, /not in the alphabet/],
    ['the X25519 multicodec (0xec)', encode(Uint8Array.from([0xec, 0x01, ...key])), /multicodec/],
    ['a one-byte multicodec', encode(Uint8Array.from([0xed, ...key])), /multicodec/],
    ['a short key', encode(Uint8Array.from([0xed, 0x01, ...key.subarray(1)])), /32 bytes/],
    ['a long key', encode(Uint8Array.from([0xed, 0x01, ...key, 0])), /32 bytes/],
    ['an empty identifier', 'did:key:z', /multicodec/],
  ];
  it.each(refusals)('refuses %s', (_what, did, message) => {
    expect(() => publicKeyFromDidKey(did)).toThrow(message);
    expect(() => publicKeyFromDidKey(did)).toThrow(expect.objectContaining({ code: 'IDENTITY_DID_INVALID' }));
    expect(isDidKey(did)).toBe(false);
  });
});
