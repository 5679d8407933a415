import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base58btcDecode, base58btcEncode } from './base58btc.js';

// Bitcoin Core's base58_encode_decode.json cases (hex -> base58).
const VECTORS: Array<[string, string]> = [
  ['', ''],
  ['61', '2g'],
  ['626262', 'a3gV'],
  ['636363', 'aPEr'],
  ['73696d706c792061206c6f6e6720737472696e67', '2cFupjhnEsSn59qHXstmK2ffpLv2'],
  ['00eb15231dfceb60925886b67d065299925915aeb172c06647', '1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L'],
  ['516b6fcd0f', 'ABnLTmg'],
  ['bf4f89001e670274dd', '3SEo3LWLoPntC'],
  ['572e4794', '3EFU7m'],
  ['ecac89cad93923c02321', 'EJDM8drfXA6uyA'],
  ['10c8511e', 'Rt5zm'],
  ['00000000000000000000', '1111111111'],
];

describe('base58btc', () => {
  it.each(VECTORS)('encodes %s as %s and back', (hex, text) => {
    expect(base58btcEncode(Buffer.from(hex, 'hex'))).toBe(text);
    expect(Buffer.from(base58btcDecode(text)).toString('hex')).toBe(hex);
  });

  it('round-trips any bytes, leading zeros included', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        expect(Buffer.from(base58btcDecode(base58btcEncode(bytes)))).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it('decodes the largest number each length can write (all z) whole, up to 160 digits', () => {
    for (let digits = 1; digits <= 160; digits++) {
      const text = 'z'.repeat(digits);
      const expected = 58n ** BigInt(digits) - 1n;
      const decoded = base58btcDecode(text);
      expect(BigInt(`0x${Buffer.from(decoded).toString('hex')}`)).toBe(expected);
      expect(base58btcEncode(decoded)).toBe(text);
    }
  });

  it.each(['0', 'O', 'I', 'l', '+', 'abc/', 'é', '\u{1F600}'])(
    'refuses %s, which is outside the alphabet',
    (text) => {
      expect(() => base58btcDecode(text)).toThrow(
        expect.objectContaining({ code: 'IDENTITY_BASE58_INVALID' }),
      );
    },
  );
});
